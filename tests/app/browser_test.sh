#!/usr/bin/env bash
# The Muse app in headless Chromium against the real `muse serve` with the shipped model (ctest app.browser):
# tests/app/browser_e2e.mjs sends a message, attaches an image, runs Contemplating, presses Answer now, reloads,
# switches the theme and the width, and saves screenshots. Needs Debian's `chromium` (scripts/setup.sh installs it)
# and npm `playwright-core`, installed here into the build folder the first time (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD:
# playwright never downloads a browser, it drives the system one). Without node, chromium or npm, or when npm cannot
# fetch the package, the test is skipped (exit 77) and says why.
# Usage: browser_test.sh PATH/TO/muse SOURCE_DIR [SCREENSHOT_DIR]
#   screenshots: SCREENSHOT_DIR, else $MUSE_APP_SCREENSHOTS, else build/app-screenshots (beside build/bin)
#   the browser: $MUSE_CHROMIUM, else `chromium` on the PATH
set -u
MUSE=$(realpath "$1")
SRC=$(realpath "${2:-.}")
BUILD=$(realpath "$(dirname "$MUSE")/..")
SHOTS=${3:-${MUSE_APP_SCREENSHOTS:-$BUILD/app-screenshots}}
NPM_DIR="$BUILD/npm"
PLAYWRIGHT=playwright-core@1.65.1
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

command -v node >/dev/null || { echo "SKIP: node is not installed (apt-get install nodejs)"; exit 77; }
CHROMIUM=${MUSE_CHROMIUM:-$(command -v chromium || true)}
[ -n "$CHROMIUM" ] && [ -x "$CHROMIUM" ] || { echo "SKIP: chromium is not installed (apt-get install chromium, or scripts/setup.sh)"; exit 77; }
if [ ! -f "$NPM_DIR/node_modules/playwright-core/package.json" ]; then
  command -v npm >/dev/null || { echo "SKIP: npm is not installed, and playwright-core is not in $NPM_DIR (apt-get install npm)"; exit 77; }
  mkdir -p "$NPM_DIR"
  if ! timeout 180 npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error "$PLAYWRIGHT" >"$NPM_DIR/npm-playwright.log" 2>&1; then
    echo "SKIP: npm could not install $PLAYWRIGHT (log: $NPM_DIR/npm-playwright.log): $(grep -m 3 error "$NPM_DIR/npm-playwright.log")"
    exit 77
  fi
fi

source "$SRC/tests/cli/serve_lib.sh"
start_server --model-name default --kv-mem 128  # room for the 25 sequences of the Answer now check
mkdir -p "$SHOTS"
node "$SRC/tests/app/browser_e2e.mjs" --url "http://127.0.0.1:$port/" --npm "$NPM_DIR" --browser "$CHROMIUM" --out "$SHOTS"
rc=$?

# Stop the server as Ctrl-C would; it must go within 5 s.
kill -INT "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "muse serve still running 5 s after SIGINT"
pid=""
if [ "$rc" -ne 0 ]; then
  echo "the server's log (last 40 lines):"
  tail -n 40 "$WORK/log" | sed 's/^/  server: /'
fi
exit "$rc"
