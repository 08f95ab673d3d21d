#!/usr/bin/env bash
# Muse's main job: install what is missing, build, and start the shipped default model for a person to use.
# Extra arguments go to `muse chat` (e.g. --temperature 0.7).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh muse
exec build/bin/muse chat --model models/default "$@"
