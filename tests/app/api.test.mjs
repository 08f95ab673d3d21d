import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiError, answerNow, applyChunk, buildRequest, createTurn, describeError, listModels, parseApiError, streamChat,
  storedAgents, toolTree, turnStats, zoomBox, zoomPixels,
} from '../../app/api.js';
import { DEFAULT_SETTINGS } from '../../app/store.js';
import { tableAttachment } from '../../app/table.js';

const PNG = 'data:image/png;base64,iVBORw0KGgo=';
const user = (content, attachments) => ({ id: 'u', role: 'user', content, attachments });

test('Standard sends OpenAI fields, the documented thinking budget, and muse_spawn (sub-agents, on by default)', () => {
  const body = buildRequest({ ...DEFAULT_SETTINGS }, [user('47+85')]);
  assert.deepEqual(body, {
    messages: [{ role: 'user', content: '47+85' }],
    stream: true,
    stream_options: { include_usage: true },
    muse_spawn: 'on',
  });
  const b2 = buildRequest({ ...DEFAULT_SETTINGS, model: 'default', temperature: 0.7, effort: 'low', maxTokens: 64, agents: 5 }, [user('x')]);
  assert.equal(b2.model, 'default');
  assert.equal(b2.temperature, 0.7);
  assert.equal(b2.reasoning_effort, 'low');
  assert.equal(b2.max_tokens, 64);
  for (const k of ['mode', 'agents', 'synthesis', 'muse_agents', 'muse_synthesis', 'thinking_budget_tokens', 'n', 'logprobs'])
    assert.ok(!(k in b2), k);
  const b3 = buildRequest({ ...DEFAULT_SETTINGS, effort: 'custom', budget: 48, temperature: 5 }, [user('x')]);
  assert.equal(b3.thinking_budget_tokens, 48);
  assert.ok(!('reasoning_effort' in b3));
  assert.equal(b3.temperature, 2, 'clamped to the server range');
});

test('Contemplating adds mode, muse_agents (1-64, default 8) and muse_synthesis (default confidence)', () => {
  const body = buildRequest({ ...DEFAULT_SETTINGS, mode: 'contemplating', agents: 6, synthesis: 'online', temperature: 0.5, tools: 'off' }, [user('x')]);
  assert.deepEqual(body, {
    messages: [{ role: 'user', content: 'x' }],
    stream: true,
    stream_options: { include_usage: true },
    temperature: 0.5,
    mode: 'contemplating',
    muse_agents: 6,
    muse_synthesis: 'online',
    muse_tools: 'off',
  });
  const dflt = buildRequest({ ...DEFAULT_SETTINGS, mode: 'contemplating' }, [user('x')]);
  assert.equal(dflt.muse_agents, 8);
  assert.equal(dflt.muse_synthesis, 'confidence');
  for (const k of ['agents', 'synthesis', 'n', 'logprobs']) assert.ok(!(k in dflt), k);
  const with_ = (extra) => buildRequest({ ...DEFAULT_SETTINGS, mode: 'contemplating', ...extra }, [user('x')]);
  assert.equal(with_({ agents: 200 }).muse_agents, 64);
  assert.equal(with_({ agents: 0 }).muse_agents, 1);
  assert.equal(with_({ agents: 1 }).muse_agents, 1);
  assert.equal(with_({ agents: 'x' }).muse_agents, 8);
  assert.equal(with_({ synthesis: 'vote' }).muse_synthesis, 'vote');
  assert.equal(with_({ synthesis: 'merge' }).muse_synthesis, 'confidence', 'an old value falls back to the default');
  // Standard with the Contemplating settings still set: exactly the Standard body
  assert.deepEqual(buildRequest({ ...DEFAULT_SETTINGS, agents: 6, synthesis: 'online' }, [user('x')]), buildRequest(DEFAULT_SETTINGS, [user('x')]));
});

test('the history of a Contemplating conversation is role/content only', () => {
  const body = buildRequest({ ...DEFAULT_SETTINGS, mode: 'contemplating' }, [
    user('47+85'),
    { id: 'a', role: 'assistant', content: '132', reasoning: 'winner thinking', mode: 'contemplating',
      agents: [{ index: 0, reasoning: 'r', content: '132', done: true, tool_calls: [{ id: 'call_a0', type: 'function', muse_server: true, function: { name: 'calculator', arguments: '{}' } }] }],
      contemplation: { synthesis: 'vote', winner: 0 } },
    user('and 2+2?'),
  ]);
  assert.deepEqual(body.messages, [
    { role: 'user', content: '47+85' },
    { role: 'assistant', content: '132' },
    { role: 'user', content: 'and 2+2?' },
  ]);
});

test('attachments become content parts: images, tables, then the text', () => {
  const csv = tableAttachment('item,price\napple,3\n', 'prices.csv');
  const json = tableAttachment('[{"a":1},{"a":2}]', 'rows.json');
  const body = buildRequest(DEFAULT_SETTINGS, [
    user('what is the total?', [{ kind: 'image', name: 'c.png', url: PNG, width: 8, height: 8 }, csv, json,
      { kind: 'image', name: 'gone.png', url: '', dropped: true }]),
  ]);
  assert.deepEqual(body.messages[0].content, [
    { type: 'image_url', image_url: { url: PNG } },
    { type: 'table', table: { csv: 'item,price\napple,3\n' } },
    { type: 'table', table: { json: [{ a: 1 }, { a: 2 }] } },
    { type: 'text', text: 'what is the total?' },
  ]);
});

test('history: failed answers are left out, reasoning is not resent, tool calls and results are', () => {
  const body = buildRequest({ ...DEFAULT_SETTINGS, system: 'be brief' }, [
    user('a'),
    { id: 'x', role: 'assistant', content: '', error: { status: 500, message: 'boom' } },
    user('b'),
    { id: 'y', role: 'assistant', content: 'B', reasoning: 'long thought',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'zoom', arguments: '{"box":[0,0,4,4]}' }, muse_parent: null }] },
    { id: 'z', role: 'tool', tool_call_id: 'call_1', content: 'zoomed' },
    user('c'),
  ]);
  assert.deepEqual(body.messages, [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'a' },
    { role: 'user', content: 'b' },
    { role: 'assistant', content: 'B', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'zoom', arguments: '{"box":[0,0,4,4]}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: 'zoomed' },
    { role: 'user', content: 'c' },
  ]);
});

test('OpenAI error bodies and others become readable errors', () => {
  const e = parseApiError(400, '{"error":{"message":"\'messages\' is required","type":"invalid_request_error","param":"messages","code":null}}');
  assert.ok(e instanceof ApiError);
  assert.deepEqual(e.toJSON(), { status: 400, message: "'messages' is required", type: 'invalid_request_error', param: 'messages', code: null });
  const d = describeError(e);
  assert.equal(d.head, 'Error 400 · invalid_request_error');
  assert.deepEqual(d.details, ['param: messages']);
  assert.equal(parseApiError(502, '<html>bad gateway</html>').message, '<html>bad gateway</html>');
  assert.equal(parseApiError(503, '').message, 'HTTP 503 Service Unavailable');
  assert.match(describeError(parseApiError(401, '{"error":{"message":"missing API key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}')).hint, /API key/);
});

test('chunks fold into one turn: reasoning, content, usage, tool call deltas, agents', () => {
  const t = createTurn();
  const chunk = (delta, extra = {}) => ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }], ...extra });
  applyChunk(t, chunk({ role: 'assistant' }), 0);
  assert.equal(t.phase, 'waiting');
  applyChunk(t, chunk({ reasoning_content: '47+85' }), 10);
  applyChunk(t, chunk({ reasoning: ' = 132' }), 20); // vLLM's name
  assert.equal(t.phase, 'thinking');
  assert.equal(t.id, 'chatcmpl-1');
  applyChunk(t, chunk({ content: '13' }), 30);
  applyChunk(t, chunk({ content: '2' }), 40);
  applyChunk(t, chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'zoom', arguments: '{"box":' } }] }), 41);
  applyChunk(t, chunk({ tool_calls: [{ index: 0, function: { arguments: '[1,2,3,4]}' } }] }), 42);
  applyChunk(t, chunk({ muse_tool_results: [{ tool_call_id: 'call_a', content: 'ok' }] }), 45);
  applyChunk(t, { id: 'chatcmpl-1', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }, 50);
  applyChunk(t, { id: 'chatcmpl-1', choices: [], usage: { prompt_tokens: 9, completion_tokens: 11, completion_tokens_details: { reasoning_tokens: 8 }, prompt_tokens_details: { cached_tokens: 0 } } }, 51);
  applyChunk(t, chunk({ content: 'other choice' }, { choices: [{ index: 1, delta: { content: 'x' } }] }), 52);
  assert.equal(t.reasoning, '47+85 = 132');
  assert.equal(t.content, '132');
  assert.equal(t.phase, 'answering');
  assert.equal(t.finish_reason, 'stop');
  assert.equal(t.reasoningChunks, 2);
  assert.deepEqual(t.tool_calls, [{ id: 'call_a', type: 'function', function: { name: 'zoom', arguments: '{"box":[1,2,3,4]}' } }]);
  assert.deepEqual(t.tool_results, { call_a: 'ok' });
  assert.deepEqual(t.agents, []);
  assert.equal(t.contemplation, null);
  assert.equal(t.usage.completion_tokens, 11);
  assert.equal(t.firstTokenAt, 10);
  assert.equal(t.answerStartedAt, 30);
  const stats = turnStats(t, 0, 110);
  assert.equal(stats.ttft_ms, 10);
  assert.equal(stats.thinking_ms, 20);
  assert.equal(stats.total_ms, 110);
  assert.equal(stats.reasoning_tokens, 8);
  assert.equal(stats.prompt_tokens, 9);
  assert.equal(stats.cached_tokens, 0);
  assert.equal(stats.tokens_per_s, 100, '10 tokens after the first in 100 ms');
  assert.equal(stats.source, 'client');
});

test('server timings (llama.cpp shape) win over the client clock', () => {
  const t = createTurn();
  applyChunk(t, { choices: [{ index: 0, delta: { content: 'x' } }] }, 5);
  applyChunk(t, { choices: [], usage: { prompt_tokens: 4, completion_tokens: 3 }, timings: { prompt_n: 4, prompt_ms: 2, predicted_n: 3, predicted_ms: 60, cache_n: 1 } }, 6);
  const s = turnStats(t, 0, 100);
  assert.equal(s.tokens_per_s, 50);
  assert.equal(s.prompt_per_s, 2000);
  assert.equal(s.cached_tokens, 1);
  assert.equal(s.source, 'server');
});

test('Contemplating: interleaved muse_agent chunks fold into per-agent state; the synthesis chunk ends it', () => {
  const t = createTurn();
  const agent = (a) => ({ id: 'chatcmpl-c', choices: [{ index: 0, delta: { muse_agent: a }, finish_reason: null }] });
  applyChunk(t, { id: 'chatcmpl-c', choices: [{ index: 0, delta: { role: 'assistant' } }] }, 0);
  applyChunk(t, agent({ index: 1, reasoning_content: 'B thinks' }), 10);
  assert.equal(t.phase, 'thinking');
  assert.equal(t.firstTokenAt, 10);
  applyChunk(t, agent({ index: 0, reasoning_content: 'A ' }), 11);
  applyChunk(t, agent({ index: 2, reasoning_content: 'C' }), 12);
  applyChunk(t, agent({ index: 0, reasoning_content: 'thinks',
    muse_tool_calls: [{ index: 0, id: 'call_0', type: 'function', function: { name: 'calculator', arguments: '{"expression":"47+85"}' } }],
    muse_tool_results: [{ tool_call_id: 'call_0', content: '132', is_error: false }] }), 13);
  applyChunk(t, agent({ index: 1, muse_tool_calls: [{ index: 0, id: 'call_0', type: 'function', function: { name: 'zoom', arguments: '{}' } }],
    muse_tool_results: [{ tool_call_id: 'call_0', content: 'error: bad_arguments: no box', is_error: true }] }), 14);
  applyChunk(t, agent({ index: 0, content: 'The sum is ' }), 15);
  applyChunk(t, agent({ index: 1, content: '132' }), 16);
  applyChunk(t, agent({ index: 0, content: '132.' }), 17);
  applyChunk(t, agent({ index: 2, done: true, summary: { index: 2, temperature: 0.9, content: '', confidence: 0.4, tokens: 1,
    thinking_tokens: 1, stop: 'low_confidence', finish_reason: null, counted: false, weight: 0 } }), 18);
  assert.equal(t.agents.length, 3);
  assert.equal(t.agents[2].done, true);
  assert.equal(t.agents[0].done, false);
  assert.equal(t.content, '', 'agent text is not the answer');
  assert.equal(t.reasoning, '');
  assert.equal(t.phase, 'thinking');
  assert.equal(t.agentChunks, 7);
  const summaries = [0, 1].map((i) => ({ index: i, temperature: 0.5 + i / 10, content: '132', confidence: i ? 2.5 : 1.75, tokens: 3,
    thinking_tokens: 2, stop: 'finished', finish_reason: 'stop', counted: true, weight: i ? 2.5 : 1.75 }));
  summaries.forEach((s, i) => applyChunk(t, agent({ index: i, done: true, summary: s }), 19 + i));
  summaries.push({ index: 2, temperature: 0.9, content: '', confidence: 0.4, tokens: 1, thinking_tokens: 1, stop: 'low_confidence',
    finish_reason: null, counted: false, weight: 0 });
  const synthesis = { synthesis: 'confidence', agents_requested: 3, winner: 1, support: 0.59, winner_votes: 4.25, threshold: null,
    consensus_stop: false, tokens: 7, agents: summaries };
  applyChunk(t, { id: 'chatcmpl-c', choices: [{ index: 0, delta: { reasoning_content: 'B thinks', content: '132', muse_contemplation: synthesis } }] }, 30);
  applyChunk(t, { id: 'chatcmpl-c', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }, 31);
  assert.equal(t.content, '132');
  assert.equal(t.reasoning, 'B thinks');
  assert.equal(t.phase, 'answering');
  assert.deepEqual(t.contemplation, { synthesis: 'confidence', agents_requested: 3, winner: 1, support: 0.59, winner_votes: 4.25,
    threshold: null, consensus_stop: false, tokens: 7 });
  const [a, b, c] = t.agents;
  assert.equal(a.reasoning, 'A thinks');
  assert.equal(a.content, 'The sum is 132.');
  assert.equal(a.answer, '132');
  assert.equal(a.confidence, 1.75);
  assert.equal(a.counted, true);
  assert.deepEqual(a.tool_calls, [{ id: 'call_0', type: 'function', muse_server: true, is_error: false, function: { name: 'calculator', arguments: '{"expression":"47+85"}' } }]);
  assert.deepEqual(a.tool_results, { call_0: '132' });
  assert.equal(b.tool_calls[0].function.name, 'zoom', 'the same call id in another agent stays its own');
  assert.equal(b.tool_calls[0].is_error, true);
  assert.deepEqual(b.tool_results, { call_0: 'error: bad_arguments: no box' });
  assert.equal(c.stop, 'low_confidence');
  assert.equal(c.reasoning, 'C');
  assert.deepEqual(t.tool_calls, [], 'agent calls are not the message calls');
  // as stored: no lookup tables
  const stored = storedAgents(t.agents);
  assert.ok(!('toolSlots' in stored[0]) && !('chunks' in stored[0]));
  assert.ok(!('tool_calls' in stored[2]), 'no empty fields');
  assert.deepEqual(JSON.parse(JSON.stringify(stored[0].tool_calls)), a.tool_calls);
});

test('Contemplating, not streamed: message.muse_contemplation with every agent\'s thinking and tool calls', () => {
  const t = createTurn();
  const message = { role: 'assistant', content: 'The sum is **132**.', reasoning_content: 'winner',
    muse_contemplation: { synthesis: 'vote', agents_requested: 2, winner: 0, support: 1, winner_votes: 1, threshold: null, consensus_stop: false, tokens: 9,
      agents: [
        { index: 0, temperature: 0.5, content: '132', confidence: null, tokens: 5, thinking_tokens: 3, stop: 'finished', finish_reason: 'stop', counted: true, weight: 1,
          reasoning_content: 'winner', muse_tool_calls: [{ id: 'call_a0', type: 'function', function: { name: 'calculator', arguments: '{}' }, result: { content: '132', is_error: false } }] },
        { index: 1, temperature: 0.9, content: '', confidence: null, tokens: 4, thinking_tokens: 4, stop: 'failed', finish_reason: null, counted: false, weight: 0,
          reasoning_content: 'lost', muse_tool_calls: [] },
      ] } };
  applyChunk(t, { id: 'chatcmpl-n', object: 'chat.completion', choices: [{ index: 0, message, finish_reason: 'stop' }] }, 5);
  assert.equal(t.content, 'The sum is **132**.');
  assert.equal(t.reasoning, 'winner');
  assert.equal(t.contemplation.winner, 0);
  assert.ok(!('agents' in t.contemplation));
  assert.equal(t.agents.length, 2);
  assert.equal(t.agents[0].reasoning, 'winner');
  assert.equal(t.agents[0].answer, '132');
  assert.equal(t.agents[0].content, '', 'nothing streamed: the card shows the answer');
  assert.equal(t.agents[0].tool_calls[0].muse_server, true);
  assert.deepEqual(t.agents[0].tool_results, { call_a0: '132' });
  assert.equal(t.agents[1].stop, 'failed');
  assert.equal(t.agents[1].reasoning, 'lost');
  assert.ok(t.agents.every((a) => a.done));
});

test('sub-agents: muse_spawn "on" in Standard only; spawned agents stream beside the root, the tree ends them', () => {
  assert.equal(buildRequest({ ...DEFAULT_SETTINGS }, [user('x')]).muse_spawn, 'on', 'on by default');
  assert.ok(!('muse_spawn' in buildRequest({ ...DEFAULT_SETTINGS, spawn: 'off' }, [user('x')])));
  assert.ok(!('muse_spawn' in buildRequest({ ...DEFAULT_SETTINGS, mode: 'contemplating' }, [user('x')])), 'Contemplating agents do not spawn');
  const t = createTurn();
  const delta = (d) => ({ id: 'chatcmpl-s', choices: [{ index: 0, delta: d, finish_reason: null }] });
  applyChunk(t, delta({ role: 'assistant' }), 0);
  applyChunk(t, delta({ reasoning_content: 'split it' }), 1);
  applyChunk(t, delta({ muse_spawn: { agent: 0, tasks: ['23*41', '57*18'], children: [1, 2], results: [], error: null } }), 2);
  applyChunk(t, delta({ muse_agent: { index: 1, parent: 0, depth: 1, task: '23*41' } }), 3);
  applyChunk(t, delta({ muse_agent: { index: 2, parent: 0, depth: 1, task: '57*18' } }), 3);
  applyChunk(t, delta({ muse_agent: { index: 2, reasoning_content: '57*18=' } }), 4);
  applyChunk(t, delta({ muse_agent: { index: 1, content: '943' } }), 5);
  applyChunk(t, delta({ muse_agent: { index: 1, done: true, summary: { index: 1, parent: 0, depth: 1, task: '23*41', content: '943',
    tokens: 9, finish_reason: 'stop', started_s: 0.01, seconds: 0.12, spawns: [] } } }), 6);
  assert.equal(t.agents[0], undefined, 'the root is the reply itself');
  assert.equal(t.agents[1].task, '23*41');
  assert.equal(t.agents[1].parent, 0);
  assert.equal(t.agents[1].answer, '943');
  assert.equal(t.agents[1].seconds, 0.12);
  assert.equal(t.agents[2].reasoning, '57*18=');
  assert.equal(t.agents[2].done, false);
  assert.equal(t.reasoning, 'split it', 'sub-agent text is not the reply');
  applyChunk(t, delta({ muse_agents: { agents: [
    { index: 0, parent: null, depth: 0, task: '', content: '1969', tokens: 40, finish_reason: 'stop', spawns: [] },
    { index: 1, parent: 0, depth: 1, task: '23*41', content: '943', tokens: 9, finish_reason: 'stop', seconds: 0.12, spawns: [] },
    { index: 2, parent: 0, depth: 1, task: '57*18', content: '1026', tokens: 9, finish_reason: 'stop', seconds: 0.13, spawns: [] },
  ], tokens: 58, seconds: 0.4, timed_out: false, refused_spawns: 0 } }), 7);
  assert.deepEqual(t.tree, { tokens: 58, seconds: 0.4, timed_out: false, refused_spawns: 0 });
  assert.equal(t.agents[0], undefined, 'the root\'s summary does not become an agent');
  assert.equal(t.agents[2].done, true);
  assert.equal(t.agents[2].answer, '1026');
  assert.equal(storedAgents(t.agents).length, 2);
});

test('an in-stream error chunk is kept', () => {
  const t = applyChunk(createTurn(), { error: { message: 'generation failed: x', type: 'server_error', param: null, code: null } });
  assert.equal(t.error.message, 'generation failed: x');
  assert.equal(t.error.type, 'server_error');
});

// A fetch stand-in: records the request, answers with a status, headers and a body given as pieces.
function fakeFetch(status, pieces, type = 'text/event-stream') {
  const calls = [];
  const fn = async (url, init = {}) => {
    calls.push({ url, init });
    if (init.signal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
    const body = new ReadableStream({
      start(c) {
        for (const p of pieces) c.enqueue(new TextEncoder().encode(p));
        c.close();
      },
    });
    return new Response(body, { status, headers: { 'content-type': type } });
  };
  fn.calls = calls;
  return fn;
}

test('streamChat: the SSE body in awkward pieces, the headers, [DONE]', async () => {
  const sse =
    'data: {"id":"chatcmpl-7","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}\n\n' +
    ': comment\n\n' +
    'data: {"id":"chatcmpl-7","choices":[{"index":0,"delta":{"reasoning_content":"think"},"finish_reason":null}]}\n\n' +
    'data: {"id":"chatcmpl-7","choices":[{"index":0,"delta":{"content":"hé"},"finish_reason":null}]}\n\n' +
    'data: {"id":"chatcmpl-7","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n' +
    'data: {"id":"chatcmpl-7","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n' +
    'data: [DONE]\n\n';
  const pieces = [];
  for (let k = 0; k < sse.length; k += 7) pieces.push(sse.slice(k, k + 7));
  const f = fakeFetch(200, pieces);
  const updates = [];
  const turn = await streamChat({ apiKey: 'sk-x', body: { messages: [] }, fetchImpl: f, onUpdate: (t) => updates.push(t.phase) });
  assert.equal(f.calls[0].url, '/v1/chat/completions');
  assert.equal(f.calls[0].init.headers.Authorization, 'Bearer sk-x');
  assert.equal(f.calls[0].init.method, 'POST');
  assert.equal(turn.id, 'chatcmpl-7');
  assert.equal(turn.reasoning, 'think');
  assert.equal(turn.content, 'hé');
  assert.equal(turn.usage.completion_tokens, 2);
  assert.equal(turn.incomplete, undefined);
  assert.ok(updates.includes('thinking') && updates.at(-1) === 'done');
  const noKey = fakeFetch(200, ['data: [DONE]\n\n']);
  await streamChat({ body: {}, fetchImpl: noKey });
  assert.ok(!('Authorization' in noKey.calls[0].init.headers));
});

test('streamChat: an HTTP error rejects with the server message; a stream without [DONE] is incomplete', async () => {
  const err = '{"error":{"message":"Contemplating is not supported yet","type":"invalid_request_error","param":"mode","code":null}}';
  await assert.rejects(streamChat({ body: {}, fetchImpl: fakeFetch(400, [err], 'application/json') }),
    (e) => e instanceof ApiError && e.status === 400 && e.param === 'mode' && /Contemplating/.test(e.message));
  const turn = await streamChat({ body: {}, fetchImpl: fakeFetch(200, ['data: {"choices":[{"index":0,"delta":{"content":"par"}}]}\n\n']) });
  assert.equal(turn.content, 'par');
  assert.equal(turn.incomplete, true);
  const c = new AbortController();
  c.abort();
  const aborted = await streamChat({ body: {}, signal: c.signal, fetchImpl: fakeFetch(200, []) });
  assert.equal(aborted.aborted, true);
  await assert.rejects(streamChat({ body: {}, fetchImpl: async () => { throw new TypeError('Failed to fetch'); } }),
    (e) => e.status === 0 && /cannot reach the server/.test(e.message));
});

test('answerNow posts to /v1/chat/completions/{id}/answer_now; 404 is quiet', async () => {
  const ok = fakeFetch(200, ['{"id":"chatcmpl-1","answer_now":true}'], 'application/json');
  assert.deepEqual(await answerNow({ id: 'chatcmpl-1', apiKey: 'k', fetchImpl: ok }), { ok: true });
  assert.equal(ok.calls[0].url, '/v1/chat/completions/chatcmpl-1/answer_now');
  assert.equal(ok.calls[0].init.method, 'POST');
  assert.equal(ok.calls[0].init.headers.Authorization, 'Bearer k');
  const gone = fakeFetch(404, ['{"error":{"message":"no such request","type":"invalid_request_error","param":null,"code":"not_found"}}'], 'application/json');
  assert.deepEqual(await answerNow({ id: 'chatcmpl-1', fetchImpl: gone }), { ok: false, finished: true });
  await assert.rejects(answerNow({ id: 'x', fetchImpl: fakeFetch(500, ['{"error":{"message":"boom"}}'], 'application/json') }), /boom/);
});

test('listModels reads /v1/models', async () => {
  const f = fakeFetch(200, ['{"object":"list","data":[{"id":"default","object":"model","context_length":512}]}'], 'application/json');
  assert.deepEqual(await listModels({ fetchImpl: f }), [{ id: 'default', context_length: 512 }]);
});

test('zoom boxes as percentages of the image, clamped; spawn trees', () => {
  assert.deepEqual(zoomBox('{"box":[10,20,60,70]}', 100, 200), { left: 10, top: 10, width: 50, height: 25, image: null });
  assert.deepEqual(zoomBox({ box: [90, -5, 150, 50], image: 0 }, 100, 100), { left: 90, top: 0, width: 10, height: 50, image: 0 });
  assert.equal(zoomBox('{"box":[1,2,3]}', 10, 10), null);
  assert.equal(zoomBox('not json', 10, 10), null);
  const calls = [
    { id: 's1', function: { name: 'spawn', arguments: '{}' } },
    { id: 'z1', muse_parent: 's1', function: { name: 'zoom', arguments: '{}' } },
    { id: 's2', muse_parent: 's1', function: { name: 'spawn', arguments: '{}' } },
    { id: 'z2', muse_parent: 's2', function: { name: 'zoom', arguments: '{}' } },
    { id: 'c', function: { name: 'calc', arguments: '{}' } },
  ];
  const tree = toolTree(calls, { z2: 'done' });
  const shape = (n) => [n.call.id, n.result, n.children.map(shape)];
  assert.deepEqual(tree.map(shape), [['s1', null, [['z1', null, []], ['s2', null, [['z2', 'done', []]]]]], ['c', null, []]]);
});

// ---------------------------------------------------------------- Muse's built-in tools (run server-side)

const museChunk = (delta) => ({ id: 'chatcmpl-9', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }] });

test('muse_tool_calls fold into the tool calls, marked as run by the server, with box, image, crop and errors', () => {
  const t = createTurn();
  applyChunk(t, museChunk({ reasoning_content: 'let me look' }), 5);
  applyChunk(t, museChunk({
    muse_tool_calls: [{ index: 0, id: 'call_0', type: 'function', function: { name: 'calculator', arguments: '{"expression":"47+85"}' } }],
    muse_tool_results: [{ tool_call_id: 'call_0', content: '132', is_error: false }],
  }), 10);
  // OpenAI's tool_calls number their calls separately: index 0 there is another call
  applyChunk(t, museChunk({ tool_calls: [{ index: 0, id: 'client_a', type: 'function', function: { name: 'lookup', arguments: '{}' } }] }), 11);
  applyChunk(t, museChunk({
    muse_tool_calls: [{ index: 1, id: 'call_1', type: 'function', function: { name: 'zoom', arguments: '{"bbox_2d":[1,0,2,0],"unit":"patch"}' },
      muse_box: [16, 0, 32, 16], muse_image: 1 }],
    muse_tool_results: [{ tool_call_id: 'call_1', content: 'zoomed', is_error: false, muse_crop: [16, 16] }],
  }), 12);
  applyChunk(t, museChunk({
    muse_tool_calls: [{ index: 2, id: 'call_2', type: 'function', function: { name: 'zoom', arguments: '{"bbox_2d":[1,2]}' } }],
    muse_tool_results: [{ tool_call_id: 'call_2', content: 'error: bad_arguments: bbox_2d must have 4 numbers', is_error: true }],
  }), 13);
  applyChunk(t, museChunk({ muse_tool_calls: [{ index: 3, id: 'call_3', function: { name: 'zoom', arguments: '{}' }, muse_box: [1, 2, 3], muse_image: -1 }] }), 14);
  assert.equal(t.phase, 'thinking', 'tools run while the model thinks');
  assert.equal(t.firstTokenAt, 5);
  assert.deepEqual(t.tool_calls, [
    { id: 'call_0', type: 'function', function: { name: 'calculator', arguments: '{"expression":"47+85"}' }, muse_server: true, is_error: false },
    { id: 'client_a', type: 'function', function: { name: 'lookup', arguments: '{}' } },
    { id: 'call_1', type: 'function', function: { name: 'zoom', arguments: '{"bbox_2d":[1,0,2,0],"unit":"patch"}' }, muse_server: true,
      muse_box: [16, 0, 32, 16], muse_image: 1, is_error: false, muse_crop: [16, 16] },
    { id: 'call_2', type: 'function', function: { name: 'zoom', arguments: '{"bbox_2d":[1,2]}' }, muse_server: true, is_error: true },
    { id: 'call_3', type: 'function', function: { name: 'zoom', arguments: '{}' }, muse_server: true }, // a bad box and image are not kept
  ]);
  assert.deepEqual(t.tool_results, { call_0: '132', call_1: 'zoomed', call_2: 'error: bad_arguments: bbox_2d must have 4 numbers' });
});

test('a built-in result that comes before its call still marks the call; plain results stay text', () => {
  const t = createTurn();
  applyChunk(t, museChunk({ muse_tool_results: [{ tool_call_id: 'call_0', content: 'error: timeout', is_error: true }] }));
  applyChunk(t, museChunk({ muse_tool_calls: [{ index: 0, id: 'call_0', function: { name: 'table_query', arguments: '{"op":"sum"}' } }] }));
  assert.equal(t.tool_calls[0].is_error, true);
  assert.equal(t.tool_calls[0].muse_server, true);
  assert.deepEqual(t.tool_results, { call_0: 'error: timeout' });
  applyChunk(t, museChunk({ muse_tool_results: [{ tool_call_id: 'spawned', content: { ok: 1 } }, { content: 'no id' }, null] }));
  assert.deepEqual(t.tool_results, { call_0: 'error: timeout', spawned: '{"ok":1}' });
});

test('a non-streamed completion: message.muse_tool_calls carry their result', async () => {
  const json = JSON.stringify({ id: 'chatcmpl-n', object: 'chat.completion', choices: [{ index: 0, finish_reason: 'stop', message: {
    role: 'assistant', content: '132',
    muse_tool_calls: [
      { id: 'call_0', type: 'function', function: { name: 'calculator', arguments: '{"expression":"47+85"}' }, result: { content: '132', is_error: false } },
      { id: 'call_1', type: 'function', function: { name: 'zoom', arguments: '{"bbox_2d":[0,0,1,1],"unit":"patch"}' }, muse_box: [0, 0, 14, 14], muse_image: 0,
        result: { content: 'zoomed', is_error: false, muse_crop: [14, 14] } },
      { id: 'call_2', type: 'function', function: { name: 'zoom', arguments: 'nope' }, result: { content: 'error: bad_arguments: not JSON', is_error: true } },
    ] } }] });
  const turn = await streamChat({ body: {}, fetchImpl: fakeFetch(200, [json], 'application/json') });
  assert.equal(turn.content, '132');
  assert.deepEqual(turn.tool_calls.map((c) => [c.id, c.muse_server, c.muse_box ?? null, c.muse_image ?? null, c.muse_crop ?? null, c.is_error]), [
    ['call_0', true, null, null, null, false],
    ['call_1', true, [0, 0, 14, 14], 0, [14, 14], false],
    ['call_2', true, null, null, null, true],
  ]);
  assert.deepEqual(turn.tool_results, { call_0: '132', call_1: 'zoomed', call_2: 'error: bad_arguments: not JSON' });
});

test('history: calls the server ran are never sent back as tool_calls; muse_tools "off" is sent when switched off', () => {
  const server = (id, name) => ({ id, type: 'function', function: { name, arguments: '{}' }, muse_server: true });
  const body = buildRequest(DEFAULT_SETTINGS, [
    user('a'),
    { id: 'x', role: 'assistant', content: '132', tool_calls: [server('call_0', 'calculator')], tool_results: { call_0: '132' } },
    user('b'),
    { id: 'y', role: 'assistant', content: '', aborted: true, tool_calls: [server('call_0', 'zoom')] }, // nothing else: left out
    user('c'),
    { id: 'z', role: 'assistant', content: '', tool_calls: [server('call_1', 'zoom'), { id: 'mine', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    { id: 't1', role: 'tool', tool_call_id: 'mine', content: 'client result' },
    { id: 't2', role: 'tool', tool_call_id: 'call_1', content: 'server result' },
    user('d'),
  ]);
  assert.deepEqual(body.messages, [
    { role: 'user', content: 'a' },
    { role: 'assistant', content: '132' },
    { role: 'user', content: 'b' },
    { role: 'user', content: 'c' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'mine', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'mine', content: 'client result' },
    { role: 'user', content: 'd' },
  ]);
  assert.ok(!JSON.stringify({ ...body, muse_spawn: undefined }).includes('muse_'), 'no Muse field by default but muse_spawn');
  assert.equal(buildRequest({ ...DEFAULT_SETTINGS, tools: 'off' }, [user('x')]).muse_tools, 'off');
  assert.ok(!('muse_tools' in buildRequest({ ...DEFAULT_SETTINGS, tools: 'on' }, [user('x')])));
});

test('zoom arguments: bbox_2d in pixels (unit absent or "pixel"), "normalized" scaled, "patch" not drawable', () => {
  assert.deepEqual(zoomPixels('{"bbox_2d":[10,20,60,70]}', 100, 200), [10, 20, 60, 70]);
  assert.deepEqual(zoomPixels({ bbox_2d: [10, 20, 60, 70], unit: 'pixel' }), [10, 20, 60, 70]);
  assert.deepEqual(zoomPixels({ bbox_2d: [0.1, 0.25, 0.5, 1], unit: 'normalized' }, 200, 100), [20, 25, 100, 100]);
  assert.equal(zoomPixels({ bbox_2d: [0.1, 0.25, 0.5, 1], unit: 'normalized' }), null, 'normalized needs the image size');
  assert.equal(zoomPixels({ bbox_2d: [1, 0, 2, 0], unit: 'patch' }, 100, 100), null);
  assert.equal(zoomPixels({ box: [1, 0, 2, 0], unit: 'furlong' }, 100, 100), null);
  assert.deepEqual(zoomPixels([1, 2, 3, 4]), [1, 2, 3, 4]);
  assert.deepEqual(zoomBox({ bbox_2d: [0, 0, 0.5, 0.5], unit: 'normalized', image: 1 }, 64, 48), { left: 0, top: 0, width: 50, height: 50, image: 1 });
  assert.equal(zoomBox({ bbox_2d: [0, 0, 2, 2], unit: 'patch' }, 64, 48), null);
});
