#!/usr/bin/env python3
# Accuracy of answers asked as JSON (response_format json_schema) vs plain answers, over the API of a running
# `muse serve` (stdlib only). Usage: python3 bench/bench_json_answers.py PORT   (docs/LOG.md, 2026-12-02)
import json, random, urllib.request, sys
port = sys.argv[1]
def ask(q, fmt=None):
    body = {"messages":[{"role":"user","content":q}],"max_tokens":200}
    if fmt: body["response_format"] = fmt
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", json.dumps(body).encode(), {"Content-Type":"application/json"})
    return json.load(urllib.request.urlopen(req))["choices"][0]["message"]["content"]
schema = {"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"]}}}
rng = random.Random(11)
for op, digits in [("+",3),("+",4),("-",3),("*",2)]:
    plain = js = valid = 0; n = 50
    for _ in range(n):
        a, b = rng.randint(10**(digits-1), 10**digits-1), rng.randint(10**(digits-1), 10**digits-1)
        if op == "-" and b > a: a, b = b, a
        truth = eval(f"{a}{op}{b}")
        q = f"What is {a}{op}{b}?"
        plain += ask(q).strip() == str(truth)
        c = ask(q, schema)
        try:
            v = json.loads(c); valid += isinstance(v.get("answer"), int); js += v.get("answer") == truth
        except Exception: pass
    print(f"{op}@{digits}: plain {plain}/{n}  json_schema {js}/{n}  valid JSON by schema {valid}/{n}")
