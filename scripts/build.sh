#!/usr/bin/env bash
# Configures and builds Muse into build/ (binary: build/bin/muse). Incremental after the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${MUSE_BUILD_DIR:-build}
JOBS=${MUSE_JOBS:-$(nproc)}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
ninja -C "$BUILD_DIR" -j "$JOBS" "$@"
