#!/usr/bin/env bash
# `muse serve` as a user starts it: the shipped model on a free port, /health, one chat completion (plain and
# streamed), the API key enforced, the app at /, answer now on a running stream, then SIGINT stops it cleanly
# (exit 0). Under ~30 s.
# Usage: serve_test.sh PATH/TO/muse SOURCE_DIR
set -u
MUSE=$(realpath "$1")
SRC=$(realpath "${2:-.}")
source "$SRC/tests/cli/serve_lib.sh"
start_server --api-key k3y --kv-mem 32
grep -q '"status":"ok"' "$WORK/health" || fail "/health: $(cat "$WORK/health")"
grep -q "http://127.0.0.1:$port/v1" "$WORK/log" || fail "the URL was not printed"

body='{"model":"default","messages":[{"role":"user","content":"47+85"}],"max_tokens":64}'
status=$(curl -s -o "$WORK/reply" -w '%{http_code}' -H 'Authorization: Bearer k3y' -H 'Content-Type: application/json' \
  -d "$body" "http://127.0.0.1:$port/v1/chat/completions")
[ "$status" = 200 ] || fail "completion: HTTP $status $(cat "$WORK/reply")"
grep -q '"object":"chat.completion"' "$WORK/reply" || fail "completion body: $(cat "$WORK/reply")"
grep -q '"content":"132"' "$WORK/reply" || fail "expected the answer 132: $(cat "$WORK/reply")"

stream='{"model":"default","messages":[{"role":"user","content":"47+85"}],"max_tokens":64,"stream":true}'
curl -sN -H 'Authorization: Bearer k3y' -H 'Content-Type: application/json' -d "$stream" \
  "http://127.0.0.1:$port/v1/chat/completions" >"$WORK/stream"
[ "$(tail -c 14 "$WORK/stream")" = "data: [DONE]" ] || [ "$(tail -n 2 "$WORK/stream" | head -n 1)" = "data: [DONE]" ] ||
  fail "stream did not end with [DONE]: $(tail -c 200 "$WORK/stream")"
grep -q '"reasoning_content"' "$WORK/stream" || fail "no reasoning_content deltas"

# The built-in tools run server-side: a product past the model's in-head range goes to the calculator, and the
# call comes back in Muse's extension field (never OpenAI's tool_calls), with the request's timings.
tools='{"messages":[{"role":"user","content":"What is 5821*3407?"}],"max_tokens":96}'
curl -s -H 'Authorization: Bearer k3y' -H 'Content-Type: application/json' -d "$tools" \
  "http://127.0.0.1:$port/v1/chat/completions" >"$WORK/tools"
grep -q '"muse_tool_calls":\[{' "$WORK/tools" || fail "no built-in tool call: $(cat "$WORK/tools")"
grep -q '"name":"calculator"' "$WORK/tools" || fail "not the calculator: $(cat "$WORK/tools")"
grep -q '"content":"19832147"' "$WORK/tools" || fail "expected 19832147: $(cat "$WORK/tools")"
grep -q '"tool_calls"' "$WORK/tools" && fail "server-side calls must not appear as OpenAI tool_calls: $(cat "$WORK/tools")"
grep -q '"timings":{' "$WORK/tools" || fail "no timings: $(cat "$WORK/tools")"
off='{"messages":[{"role":"user","content":"What is 5821*3407?"}],"max_tokens":96,"muse_tools":"off"}'
curl -s -H 'Authorization: Bearer k3y' -H 'Content-Type: application/json' -d "$off" \
  "http://127.0.0.1:$port/v1/chat/completions" >"$WORK/off"
grep -q '"muse_tool_calls"' "$WORK/off" && fail "muse_tools off still called a tool: $(cat "$WORK/off")"
grep -q '"object":"chat.completion"' "$WORK/off" || fail "muse_tools off: $(cat "$WORK/off")"

# Contemplating: several agents, every one reported, their answers synthesized; by mode and by the model's name.
agents='{"model":"default:contemplating","muse_agents":4,"muse_synthesis":"vote","messages":[{"role":"user","content":"What is 5821*3407?"}],"max_tokens":96}'
curl -s -H 'Authorization: Bearer k3y' -H 'Content-Type: application/json' -d "$agents" \
  "http://127.0.0.1:$port/v1/chat/completions" >"$WORK/agents"
python3 - "$WORK/agents" <<'PY' || fail "contemplating: $(cat "$WORK/agents")"
import json, sys
m = json.load(open(sys.argv[1]))["choices"][0]["message"]
c = m["muse_contemplation"]
assert m["content"] == "19832147", m["content"]
assert c["synthesis"] == "vote" and c["agents_requested"] == 4 and len(c["agents"]) == 4, c
assert all("reasoning_content" in a and a["tokens"] > 0 for a in c["agents"]), c
assert c["winner"] is not None and c["winner_votes"] >= 1
PY
stream='{"mode":"contemplating","muse_agents":3,"muse_synthesis":"online","stream":true,"messages":[{"role":"user","content":"What is 47+85?"}],"max_tokens":96}'
curl -sN -H 'Authorization: Bearer k3y' -H 'Content-Type: application/json' -d "$stream" \
  "http://127.0.0.1:$port/v1/chat/completions" >"$WORK/agents_stream"
grep -q '"muse_agent":{' "$WORK/agents_stream" || fail "no agent deltas: $(head -c 600 "$WORK/agents_stream")"
grep -q '"done":true' "$WORK/agents_stream" || fail "no agent summary: $(head -c 600 "$WORK/agents_stream")"
grep -q '"muse_contemplation":{' "$WORK/agents_stream" || fail "no synthesis chunk: $(tail -c 600 "$WORK/agents_stream")"
tail -n 2 "$WORK/agents_stream" | grep -q 'data: \[DONE\]' || fail "contemplating stream did not end with [DONE]"
status=$(curl -s -o "$WORK/agents_bad" -w '%{http_code}' -H 'Authorization: Bearer k3y' \
  -d '{"mode":"contemplating","n":2,"messages":[{"role":"user","content":"hi"}]}' "http://127.0.0.1:$port/v1/chat/completions")
[ "$status" = 400 ] && grep -q '"param":"n"' "$WORK/agents_bad" || fail "contemplating n=2: HTTP $status $(cat "$WORK/agents_bad")"

status=$(curl -s -o "$WORK/denied" -w '%{http_code}' -d "$body" "http://127.0.0.1:$port/v1/chat/completions")
[ "$status" = 401 ] || fail "without the key: HTTP $status"
grep -q '"code":"invalid_api_key"' "$WORK/denied" || fail "401 body: $(cat "$WORK/denied")"

# The app at / (embedded; no key needed to load the page, the key guards /v1 only), and its script.
status=$(curl -s -o "$WORK/app" -w '%{http_code}' "http://127.0.0.1:$port/")
[ "$status" = 200 ] || fail "GET /: HTTP $status"
grep -qi "<!doctype html>" "$WORK/app" || fail "GET / is not the app's page: $(head -c 200 "$WORK/app")"
grep -q "the Muse app:  http://127.0.0.1:$port/" "$WORK/log" || fail "the app's URL was not printed"

# Answer now: a running request ends its thinking and answers; an unknown (or finished) one is 404.
status=$(curl -s -o "$WORK/now" -w '%{http_code}' -d '{}' -H 'Authorization: Bearer k3y' \
  "http://127.0.0.1:$port/v1/chat/completions/chatcmpl-none/answer_now")
[ "$status" = 404 ] || fail "answer_now of an unknown id: HTTP $status $(cat "$WORK/now")"
grep -q '"param":"id"' "$WORK/now" || fail "answer_now 404 body: $(cat "$WORK/now")"
# Kept thinking by a minimum near the whole context (~2 ms a token here), it is told to answer right after its
# first chunk.
long='{"model":"default","messages":[{"role":"user","content":"47+85"}],"max_tokens":360,"stream":true,'
long+='"thinking_budget_tokens":{"min":340}}'
curl -sN -H 'Authorization: Bearer k3y' -H 'Content-Type: application/json' -d "$long" \
  "http://127.0.0.1:$port/v1/chat/completions" >"$WORK/long" &
reader=$!
id=""
for _ in $(seq 1 100); do
  id=$(sed -n 's/.*"id":"\(chatcmpl-[^"]*\)".*/\1/p' "$WORK/long" | head -n 1)
  [ -n "$id" ] && break
  sleep 0.01
done
[ -n "$id" ] || fail "the long stream sent no chunk"
status=$(curl -s -o "$WORK/now" -w '%{http_code}' -d '{}' -H 'Authorization: Bearer k3y' \
  "http://127.0.0.1:$port/v1/chat/completions/$id/answer_now")
[ "$status" = 200 ] || fail "answer_now: HTTP $status $(cat "$WORK/now")"
wait "$reader"
grep -q '"finish_reason":"stop"' "$WORK/long" || fail "after answer_now the answer did not finish: $(tail -c 300 "$WORK/long")"
grep -q '"content":"' "$WORK/long" || fail "after answer_now no answer came: $(tail -c 300 "$WORK/long")"
thought=$(grep -c '"reasoning_content"' "$WORK/long")
[ "$thought" -lt 340 ] || fail "answer_now did not cut the thinking short ($thought thinking chunks)"

# CORS is off unless asked for (--cors-origin): no browser on another origin may call the API.
curl -s -D "$WORK/headers" -o /dev/null "http://127.0.0.1:$port/health"
grep -qi "^access-control-allow-origin" "$WORK/headers" && fail "CORS header sent without --cors-origin"

# /metrics: Prometheus text with what this run did (completions, a 401, streamed latencies).
curl -s "http://127.0.0.1:$port/metrics" >"$WORK/metrics"
grep -q '^# TYPE muse_chat_completions_total counter$' "$WORK/metrics" || fail "/metrics: $(head -c 300 "$WORK/metrics")"
grep -q '^muse_http_responses_total{code="401"} [1-9]' "$WORK/metrics" || fail "/metrics does not count the 401"
grep -Eq '^muse_time_to_first_token_seconds_count [1-9]' "$WORK/metrics" || fail "/metrics has no first-token latency"
grep -Eq '^muse_completion_tokens_total [1-9]' "$WORK/metrics" || fail "/metrics counts no tokens"

kill -INT "$pid"
rc=0
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "still running 5 s after SIGINT"
wait "$pid" || rc=$?
pid=""
[ "$rc" = 0 ] || fail "exit status $rc after SIGINT"
grep -q "stopped" "$WORK/log" || fail "no clean stop message"
echo "serve ok: /health, a completion, a stream, 401 without the key, the app at /, answer now, /metrics, clean stop on SIGINT"
