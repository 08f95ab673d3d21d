# Shared by the scripts that test `muse serve` over HTTP (serve_test.sh, openai_client_test.sh): a scratch
# folder ($WORK), fail(), cleanup on exit, and start_server. Source it after setting MUSE and SRC.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse_serve.XXXXXX")
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$WORK/log" ] && sed 's/^/  server: /' "$WORK/log"; exit 1; }

# start_server ARGS...: `muse serve` with the shipped model and ARGS on a free port ($port, pid in $pid), its
# output in $WORK/log; returns once /health answers (its body in $WORK/health).
start_server() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$MUSE" serve --model "$SRC/models/default" --port "$port" "$@" >"$WORK/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/health" >"$WORK/health" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || fail "muse serve exited early"
    sleep 0.2
  done
  fail "muse serve did not answer /health within 20 s"
}
