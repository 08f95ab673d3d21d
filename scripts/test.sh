#!/usr/bin/env bash
# The whole test suite: install what is missing, build everything, run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd "${MUSE_BUILD_DIR:-build}"
ctest --output-on-failure -j "${MUSE_TEST_JOBS:-2}" "$@"
