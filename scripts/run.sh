#!/usr/bin/env bash
# Muse's main job: install what is missing, build, and serve the shipped default model with the Muse app: open
# the printed URL (http://127.0.0.1:8080/) in a browser. The OpenAI-compatible API is under /v1 on the same port.
# Extra arguments go to `muse serve` (e.g. --port 9000). The terminal chat stays available: build/bin/muse chat.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh muse
exec build/bin/muse serve --model models/default "$@"
