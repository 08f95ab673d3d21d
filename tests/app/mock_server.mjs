// A stand-in for `muse serve` speaking the same API, to try the app without building the C++ server and to test
// the app's fetch + SSE path over real HTTP (tests/app/http.test.mjs). It serves app/ at / and fakes:
//   POST /v1/chat/completions                  SSE (or a plain completion), Bearer auth when --api-key is given
//   POST /v1/chat/completions/{id}/answer_now  200 {"id","object","answer_now":true}; 404 when finished
//   GET  /v1/models, GET /health
// What it answers depends on the last user message: "error" -> a 400; "midstream" -> an error chunk; "zoom" -> a
// zoom tool call on the attached image; "spawn" -> nested sub-agent calls; "builtin" -> Muse's built-in tools run
// server-side (muse_tool_calls + muse_tool_results: a calculator, a zoom with muse_box on the last image sent, a
// failed zoom, a table_query; none when the request says "muse_tools": "off"); "long" -> a long thinking (to try
// Answer now); anything else -> a little thinking and a Markdown answer with math. Contemplating requests
// ("mode": "contemplating") get a 400 like a server without it, unless the mock was started with --contemplating:
// then `muse_agents` agents (default 8) stream interleaved delta.muse_agent chunks, each ended by its summary,
// and one chunk carries the synthesis (delta.muse_contemplation; see contemplationRun). Their answers: 132,
// except the last agent's (of 3 or more) 131; with "muse_synthesis": "online" the last agent is stopped for low
// confidence and, from 4 agents, the one before it at consensus; with "builtin" agent 0 runs a calculator.
//
//   node tests/app/mock_server.mjs [--port 8090] [--api-key KEY] [--contemplating] [--whole] [--delay 30]

import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const APP = fileURLToPath(new URL('../../app/', import.meta.url));
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

function error(res, status, message, param = null, code = null) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param, code } }));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function lastUserText(messages) {
  const m = [...messages].reverse().find((x) => x.role === 'user');
  if (!m) return '';
  if (typeof m.content === 'string') return m.content;
  return m.content.filter((p) => p.type === 'text').map((p) => p.text).join(' ');
}

// The built-in tool calls the real server would stream for `messages` (each with its result), as the streamed
// {call, result} pairs; muse_image numbers the image parts of all user messages, in order.
export function builtinCalls(messages) {
  let images = 0;
  for (const m of messages)
    if (m.role === 'user' && Array.isArray(m.content)) images += m.content.filter((p) => p.type === 'image_url').length;
  const out = [];
  const add = (name, args, result, extra = {}) => {
    const k = out.length;
    out.push({
      call: { index: k, id: `call_${k}`, type: 'function', function: { name, arguments: JSON.stringify(args) }, ...extra.call },
      result: { tool_call_id: `call_${k}`, content: result, is_error: /^error:/.test(result), ...extra.result },
    });
  };
  add('calculator', { expression: '47+85' }, '132');
  if (images > 0)
    add('zoom', { bbox_2d: [1, 1, 3, 3], unit: 'patch' }, 'zoomed: a crop of 32x24 pixels',
      { call: { muse_box: [16, 12, 48, 36], muse_image: images - 1 }, result: { muse_crop: [32, 24] } });
  add('zoom', { bbox_2d: [9, 9, 1], unit: 'patch' }, 'error: bad_arguments: bbox_2d must have 4 numbers');
  add('table_query', { op: 'sum', column: 'price' }, '8');
  return out;
}

function tokens(text) {
  return text.match(/\s*\S+|\s+/g) ?? [];
}

export const SYNTHESES = ['vote', 'confidence', 'online'];

// A fake Contemplating run: every agent's thinking and answer (as token lists), tool calls, summary, and the
// synthesis (muse_contemplation without its agents). Deterministic in the request.
export function contemplationRun(r, text, builtin = false) {
  const n = r.muse_agents ?? 8;
  const synthesis = r.muse_synthesis ?? 'confidence';
  const agents = [];
  for (let i = 0; i < n; i++) {
    const wrong = n >= 3 && i === n - 1;
    const value = wrong ? '131' : '132';
    let stop = 'finished';
    if (synthesis === 'online' && wrong) stop = 'low_confidence';
    else if (synthesis === 'online' && n >= 4 && i === n - 2) stop = 'consensus';
    const think = tokens(`Agent ${i} on "${text.slice(0, 30)}": 47 + 85 = ${wrong ? '47 + 84 = 131' : '132'}, checked.`);
    const early = stop !== 'finished';
    const thinking = early ? think.slice(0, Math.ceil(think.length / 2)) : think;
    const answer = early ? [] : tokens(`The sum is **${value}**.`);
    const calls = builtin && i === 0
      ? [{ call: { index: 0, id: 'call_a0', type: 'function', function: { name: 'calculator', arguments: '{"expression":"47+85"}' } },
          result: { tool_call_id: 'call_a0', content: '132', is_error: false } }]
      : [];
    const confidence = stop === 'low_confidence' ? 0.9 : Math.round((1.5 + ((i * 37) % 10) / 10) * 100) / 100;
    const counted = synthesis === 'vote' ? !early : synthesis === 'confidence' ? !wrong : !early;
    agents.push({
      thinking, answer, calls,
      summary: {
        index: i, temperature: Math.round((n > 1 ? 0.7 + 0.2 * ((2 * i) / (n - 1) - 1) : 0.7) * 100) / 100,
        content: early ? '' : value, confidence: synthesis === 'vote' ? null : confidence,
        tokens: thinking.length + answer.length, thinking_tokens: thinking.length, stop,
        finish_reason: early ? null : 'stop', counted, weight: counted ? (synthesis === 'vote' ? 1 : confidence) : 0,
      },
    });
  }
  const votes = {};
  let total = 0;
  for (const a of agents) {
    if (!a.summary.counted) continue;
    votes[a.summary.content] = (votes[a.summary.content] ?? 0) + a.summary.weight;
    total += a.summary.weight;
  }
  const best = Object.keys(votes).sort((x, y) => votes[y] - votes[x])[0] ?? null;
  const candidates = agents.filter((a) => a.summary.counted && a.summary.content === best);
  const win = candidates.sort((x, y) => (y.summary.confidence ?? 0) - (x.summary.confidence ?? 0))[0] ?? null;
  const contemplation = {
    synthesis, agents_requested: n, winner: win ? win.summary.index : null,
    support: total ? Math.round((votes[best] / total) * 1000) / 1000 : 0,
    winner_votes: best !== null ? Math.round(votes[best] * 100) / 100 : 0,
    threshold: synthesis === 'online' ? 1.2 : null,
    consensus_stop: agents.some((a) => a.summary.stop === 'consensus'),
    tokens: agents.reduce((t, a) => t + a.summary.tokens, 0),
  };
  return {
    agents, contemplation,
    thinking: win ? win.thinking.join('') : '',
    answer: win ? win.answer.join('') : '',
    thinkingTokens: agents.reduce((t, a) => t + a.summary.thinking_tokens, 0),
  };
}

// `whole`: answer every request with one JSON completion, as a server that does not stream (stream: true ignored).
export function createMockServer({ apiKey = '', contemplating = false, delay = 30, whole = false } = {}) {
  const active = new Map(); // id -> {answerNow: bool}
  let next = 1;

  async function chat(req, res, body) {
    let r;
    try {
      r = JSON.parse(body);
    } catch {
      return error(res, 400, 'the request body is not valid JSON', null, 'invalid_json');
    }
    if (!Array.isArray(r.messages) || r.messages.length === 0) return error(res, 400, "'messages' is required", 'messages');
    if (r.mode === 'contemplating' && !contemplating)
      return error(res, 400, "Contemplating mode is not supported by this server yet ('mode': 'contemplating')", 'mode', 'unsupported_parameter');
    if (r.mode !== undefined && r.mode !== 'standard' && r.mode !== 'contemplating')
      return error(res, 400, "'mode' must be 'standard' or 'contemplating'", 'mode');
    if (r.mode === 'contemplating') {
      if (r.muse_agents !== undefined && !(Number.isInteger(r.muse_agents) && r.muse_agents >= 1 && r.muse_agents <= 64))
        return error(res, 400, "'muse_agents' must be an integer from 1 to 64", 'muse_agents');
      if (r.muse_synthesis !== undefined && !SYNTHESES.includes(r.muse_synthesis))
        return error(res, 400, "'muse_synthesis' must be 'vote', 'confidence' or 'online'", 'muse_synthesis');
      if (r.n !== undefined && r.n !== 1) return error(res, 400, "'n' must be 1 in Contemplating mode", 'n');
      if (r.logprobs) return error(res, 400, "'logprobs' is not available in Contemplating mode", 'logprobs');
    }
    const text = lastUserText(r.messages);
    if (/\berror\b/i.test(text)) return error(res, 400, "'messages[0].content[0].image_url.url' the image's base64 data is invalid", 'messages[0].content[0].image_url.url', 'invalid_base64');
    const id = `chatcmpl-mock-${next++}`;
    const meta = { id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: 'mock' };
    const state = { answerNow: false };
    active.set(id, state);
    const long = /\blong\b/i.test(text);
    const thinking = long ? Array.from({ length: 400 }, (_, i) => ` step ${i}: still thinking`).join('') : `The user asks: ${text.slice(0, 60)}. Let me work it out.`;
    const answer =
      '## Result\n\nThe sum is **132**, since $47 + 85 = 132$ and $\\frac{264}{2} = 132$.\n\n' +
      '| a | b | a+b |\n|---|---|--:|\n| 47 | 85 | 132 |\n\n```python\nprint(47 + 85)  # <b>132</b>\n```\n\n- checked\n- twice';
    const usage = { prompt_tokens: 12, completion_tokens: 0, total_tokens: 0, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } };
    const builtin = /\bbuiltin\b/i.test(text) && r.muse_tools !== 'off' ? builtinCalls(r.messages) : [];
    if (r.mode === 'contemplating') return contemplate(res, r, text, { id, meta, state, usage });
    if (!r.stream || whole) {
      active.delete(id);
      const message = { role: 'assistant', content: answer, reasoning_content: thinking };
      if (builtin.length)
        message.muse_tool_calls = builtin.map(({ call: { index, ...call }, result: { tool_call_id, ...result } }) => ({ ...call, result }));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ id, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: 'stop' }], usage }));
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    let closed = false;
    res.on('close', () => {
      closed = true;
      active.delete(id);
    });
    const send = (delta, finish = null) => res.write(`data: ${JSON.stringify({ ...meta, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`);
    send({ role: 'assistant' });
    res.write(': keep-alive comment\n\n');
    for (const t of tokens(thinking)) {
      if (closed || state.answerNow) break;
      await sleep(delay);
      send({ reasoning_content: t });
      usage.completion_tokens_details.reasoning_tokens++;
      usage.completion_tokens++;
    }
    for (const b of builtin) {
      if (closed) break;
      send({ muse_tool_calls: [b.call], muse_tool_results: [b.result] });
    }
    let call = 0; // tool call indices are unique within the message
    if (/\bzoom\b/i.test(text))
      send({ tool_calls: [{ index: call++, id: 'call_zoom', type: 'function', function: { name: 'zoom', arguments: '{"box": [8, 8, 40, 32]}' } }] });
    if (/\bspawn\b/i.test(text)) {
      send({ tool_calls: [{ index: call++, id: 'call_s1', type: 'function', function: { name: 'spawn', arguments: '{"task": "check the sum"}' } }] });
      send({ tool_calls: [{ index: call++, id: 'call_s2', type: 'function', muse_parent: 'call_s1', function: { name: 'spawn', arguments: '{"task": "check 47"}' } }] });
      send({ tool_calls: [{ index: call++, id: 'call_c', type: 'function', muse_parent: 'call_s2', function: { name: 'calc', arguments: '{"expr": "47+85"}' } }] });
      send({ muse_tool_results: [{ tool_call_id: 'call_c', content: '132' }, { tool_call_id: 'call_s2', content: 'ok' }, { tool_call_id: 'call_s1', content: 'the sum is right' }] });
    }
    if (/\bzoom\b/i.test(text)) send({ muse_tool_results: [{ tool_call_id: 'call_zoom', content: 'a crop of 32x24 pixels' }] });
    // Sub-agents (muse_spawn "on", the Muse server's shapes): a spawn, two children interleaved, then the tree.
    if (r.muse_spawn === 'on' && /\bsubagents\b/i.test(text)) {
      const tasks = ['23*41', '57*18'], answers = ['943', '1026'];
      send({ muse_spawn: { agent: 0, tasks, children: [1, 2], results: [], error: null } });
      tasks.forEach((task, k) => send({ muse_agent: { index: k + 1, parent: 0, depth: 1, task } }));
      for (const k of [0, 1]) send({ muse_agent: { index: k + 1, reasoning_content: `${tasks[k]}: multiply` } });
      for (const k of [0, 1]) send({ muse_agent: { index: k + 1, content: answers[k] } });
      const summary = (k) => ({ index: k + 1, parent: 0, depth: 1, task: tasks[k], content: answers[k], tokens: 9,
        finish_reason: 'stop', started_s: 0.01, seconds: 0.1 + k / 100, spawns: [] });
      for (const k of [0, 1]) send({ muse_agent: { index: k + 1, done: true, summary: summary(k) } });
      send({ muse_agents: { agents: [{ index: 0, parent: null, depth: 0, task: '', content: '', tokens: 30, finish_reason: 'stop',
        started_s: 0, seconds: 0.3, spawns: [{ tasks, children: [1, 2], results: answers, error: null }] }, summary(0), summary(1)],
      tokens: 48, seconds: 0.3, timed_out: false, refused_spawns: 0 } });
    }
    if (/\bmidstream\b/i.test(text)) {
      res.write(`data: ${JSON.stringify({ error: { message: 'generation failed: the mock broke on purpose', type: 'server_error', param: null, code: null } })}\n\n`);
    }
    for (const t of tokens(answer)) {
      if (closed) break;
      await sleep(delay);
      send({ content: t });
      usage.completion_tokens++;
    }
    if (closed) return;
    send({}, 'stop');
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    if (r.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ ...meta, choices: [], usage })}\n\n`);
    res.write('data: [DONE]\n\n');
    active.delete(id);
    res.end();
  }

  async function contemplate(res, r, text, { id, meta, state, usage }) {
    const run = contemplationRun(r, text, /\bbuiltin\b/i.test(text) && r.muse_tools !== 'off');
    usage.completion_tokens = run.contemplation.tokens;
    usage.completion_tokens_details.reasoning_tokens = run.thinkingTokens;
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    if (!r.stream || whole) {
      active.delete(id);
      const agents = run.agents.map((a) => ({
        ...a.summary, reasoning_content: a.thinking.join(''),
        muse_tool_calls: a.calls.map(({ call: { index, ...call }, result: { tool_call_id, ...result } }) => ({ ...call, result })),
      }));
      const message = { role: 'assistant', content: run.answer, reasoning_content: run.thinking,
        muse_contemplation: { ...run.contemplation, agents } };
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ id, object: 'chat.completion', model: 'mock', choices: [{ index: 0, message, finish_reason: 'stop' }], usage }));
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    let closed = false;
    res.on('close', () => {
      closed = true;
      active.delete(id);
    });
    const send = (delta, finish = null) => res.write(`data: ${JSON.stringify({ ...meta, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`);
    send({ role: 'assistant' });
    // every agent's tokens, interleaved: one token of each running agent per round
    const queues = run.agents.map((a) => [
      ...a.thinking.map((t, k) => (k === 2 && a.calls.length
        ? { reasoning_content: t, muse_tool_calls: a.calls.map((c) => c.call), muse_tool_results: a.calls.map((c) => c.result) }
        : { reasoning_content: t })),
      ...a.answer.map((t) => ({ content: t })),
    ]);
    for (let round = 0; !closed && queues.some((q) => q !== null); round++) {
      await sleep(delay);
      queues.forEach((q, i) => {
        if (q === null || closed) return;
        if (q.length) send({ muse_agent: { index: i, ...q.shift() } });
        else {
          send({ muse_agent: { index: i, done: true, summary: run.agents[i].summary } });
          queues[i] = null;
        }
      });
      if (state.answerNow) break; // the mock's agents do not answer early: the synthesis comes as it is
    }
    if (closed) return;
    send({ reasoning_content: run.thinking, content: run.answer, muse_contemplation: { ...run.contemplation, agents: run.agents.map((a) => a.summary) } });
    send({}, 'stop');
    if (r.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ ...meta, choices: [], usage })}\n\n`);
    res.write('data: [DONE]\n\n');
    active.delete(id);
    res.end();
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname.startsWith('/v1/') && apiKey && req.headers.authorization !== `Bearer ${apiKey}`)
      return error(res, 401, req.headers.authorization ? 'incorrect API key provided' : 'missing API key: send Authorization: Bearer KEY', null, 'invalid_api_key');
    let body = '';
    for await (const chunk of req) body += chunk;
    const answerNow = /^\/v1\/chat\/completions\/([^/]+)\/answer_now$/.exec(url.pathname);
    if (req.method === 'POST' && url.pathname === '/v1/chat/completions') {
      try {
        server.lastRequest = JSON.parse(body); // for tests: what the app sent
      } catch {
        server.lastRequest = null;
      }
      return chat(req, res, body);
    }
    if (req.method === 'POST' && answerNow) {
      const id = decodeURIComponent(answerNow[1]);
      const st = active.get(id);
      if (!st) return error(res, 404, `no running chat completion '${id}' (it finished, or never existed)`, 'id', 'not_found');
      st.answerNow = true;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ id, object: 'chat.completion.answer_now', answer_now: true }));
    }
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ object: 'list', data: [{ id: 'mock', object: 'model', created: 0, owned_by: 'muse', context_length: 512 }] }));
    }
    if (req.method === 'GET' && url.pathname === '/health') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end('{"status":"ok"}');
    }
    if (req.method === 'GET' && !url.pathname.startsWith('/v1/')) {
      const rel = url.pathname === '/' ? 'index.html' : normalize(url.pathname.slice(1));
      if (rel.includes('..') || rel.toLowerCase() === 'readme.md') return error(res, 404, `no route GET ${url.pathname}`, null, 'not_found');
      try {
        const data = await readFile(join(APP, rel));
        res.writeHead(200, { 'Content-Type': TYPES[extname(rel)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache' });
        return res.end(data);
      } catch {
        /* fall through to 404 */
      }
    }
    return error(res, 404, `no route ${req.method} ${url.pathname}`, null, 'not_found');
  });
  return server;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name, fallback) => {
    const k = process.argv.indexOf(name);
    return k > 0 ? process.argv[k + 1] : fallback;
  };
  const port = Number(arg('--port', 8090));
  const server = createMockServer({ apiKey: arg('--api-key', ''), contemplating: process.argv.includes('--contemplating'), whole: process.argv.includes('--whole'), delay: Number(arg('--delay', 30)) });
  server.listen(port, '127.0.0.1', () => console.log(`mock Muse API and app on http://127.0.0.1:${port}/`));
}
