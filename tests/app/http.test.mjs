// The app's API module against a real HTTP server (the mock of muse serve): network chunking, auth, answer now.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMockServer } from './mock_server.mjs';
import { answerNow, buildRequest, listModels, streamChat } from '../../app/api.js';
import { DEFAULT_SETTINGS } from '../../app/store.js';

let server;
let base;
before(async () => {
  server = createMockServer({ apiKey: 'sk-test', delay: 0 });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => server.close());

const settings = { ...DEFAULT_SETTINGS, apiKey: 'sk-test' };
const ask = (text, extra = {}) => buildRequest({ ...settings, ...extra }, [{ id: 'u', role: 'user', content: text }]);

test('a streamed answer with thinking, usage and the chunk id', async () => {
  const turn = await streamChat({ baseUrl: base, apiKey: 'sk-test', body: ask('47+85') });
  assert.match(turn.id, /^chatcmpl-mock-/);
  assert.match(turn.reasoning, /The user asks: 47\+85/);
  assert.match(turn.content, /The sum is \*\*132\*\*/);
  assert.equal(turn.finish_reason, 'stop');
  assert.ok(turn.usage.completion_tokens > 10);
  assert.equal(turn.usage.completion_tokens_details.reasoning_tokens, turn.reasoningChunks);
});

test('errors: no key (401), Contemplating refused (400 naming mode), an in-stream error chunk', async () => {
  await assert.rejects(streamChat({ baseUrl: base, body: ask('x') }), (e) => e.status === 401 && e.code === 'invalid_api_key');
  await assert.rejects(streamChat({ baseUrl: base, apiKey: 'sk-test', body: ask('x', { mode: 'contemplating', agents: 3 }) }),
    (e) => e.status === 400 && e.param === 'mode');
  const turn = await streamChat({ baseUrl: base, apiKey: 'sk-test', body: ask('midstream') });
  assert.match(turn.error.message, /broke on purpose/);
});

test('answer now ends the thinking; after the end it is a quiet 404', async () => {
  let asked = null;
  const turn = await streamChat({
    baseUrl: base, apiKey: 'sk-test', body: ask('long'),
    onUpdate: (t) => {
      if (!asked && t.reasoningChunks >= 5) asked = answerNow({ baseUrl: base, apiKey: 'sk-test', id: t.id });
    },
  });
  assert.deepEqual(await asked, { ok: true });
  // the whole thinking is 1,600 chunks: answer now cut it short
  assert.ok(turn.reasoningChunks < 1600, `stopped thinking early (${turn.reasoningChunks} chunks)`);
  assert.match(turn.content, /132/);
  assert.deepEqual(await answerNow({ baseUrl: base, apiKey: 'sk-test', id: turn.id }), { ok: false, finished: true });
});

test('Stop: aborting mid-stream keeps what arrived', async () => {
  const c = new AbortController();
  const turn = await streamChat({
    baseUrl: base, apiKey: 'sk-test', body: ask('long'), signal: c.signal,
    onUpdate: (t) => { if (t.reasoningChunks === 3) c.abort(); },
  });
  assert.equal(turn.aborted, true);
  assert.ok(turn.reasoning.length > 0);
});

test('tool calls and sub-agents arrive as deltas', async () => {
  const turn = await streamChat({ baseUrl: base, apiKey: 'sk-test', body: ask('spawn and zoom') });
  assert.deepEqual(turn.tool_calls.map((t) => [t.id, t.function.name, t.muse_parent ?? null]), [
    ['call_zoom', 'zoom', null],
    ['call_s1', 'spawn', null],
    ['call_s2', 'spawn', 'call_s1'],
    ['call_c', 'calc', 'call_s2'],
  ]);
  assert.deepEqual(JSON.parse(turn.tool_calls[0].function.arguments), { box: [8, 8, 40, 32] });
  assert.equal(turn.tool_results.call_c, '132');
  assert.equal(turn.tool_results.call_zoom, 'a crop of 32x24 pixels');
});

test("Muse's built-in tools: muse_tool_calls with their results, streamed or not; muse_tools off", async () => {
  const PNG = 'data:image/png;base64,iVBORw0KGgo=';
  const messages = [{ id: 'u', role: 'user', content: 'builtin', attachments: [{ kind: 'image', name: 'a.png', url: PNG, width: 64, height: 48 }] }];
  const turn = await streamChat({ baseUrl: base, apiKey: 'sk-test', body: buildRequest(settings, messages) });
  assert.deepEqual(turn.tool_calls.map((t) => [t.id, t.function.name, t.muse_server, t.is_error]), [
    ['call_0', 'calculator', true, false],
    ['call_1', 'zoom', true, false],
    ['call_2', 'zoom', true, true],
    ['call_3', 'table_query', true, false],
  ]);
  assert.deepEqual([turn.tool_calls[1].muse_box, turn.tool_calls[1].muse_image, turn.tool_calls[1].muse_crop], [[16, 12, 48, 36], 0, [32, 24]]);
  assert.equal(turn.tool_results.call_0, '132');
  assert.match(turn.tool_results.call_2, /^error: bad_arguments/);
  const whole = await streamChat({ baseUrl: base, apiKey: 'sk-test', body: { ...buildRequest(settings, messages), stream: false } });
  assert.deepEqual(whole.tool_calls.map((t) => [t.id, t.muse_server, t.muse_image ?? null, t.muse_crop ?? null]), [
    ['call_0', true, null, null], ['call_1', true, 0, [32, 24]], ['call_2', true, null, null], ['call_3', true, null, null],
  ]);
  assert.deepEqual(whole.tool_results, turn.tool_results);
  const off = await streamChat({ baseUrl: base, apiKey: 'sk-test', body: buildRequest({ ...settings, tools: 'off' }, messages) });
  assert.equal(server.lastRequest.muse_tools, 'off');
  assert.deepEqual(off.tool_calls, []);
});

test('models', async () => {
  assert.deepEqual(await listModels({ baseUrl: base, apiKey: 'sk-test' }), [{ id: 'mock', context_length: 512 }]);
});

test('Contemplating against the mock: interleaved agents streamed, the synthesis, and the same not streamed', async () => {
  const cm = createMockServer({ contemplating: true, delay: 0 });
  await new Promise((r) => cm.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${cm.address().port}`;
  try {
    const body = buildRequest({ ...DEFAULT_SETTINGS, mode: 'contemplating', agents: 4, synthesis: 'online' }, [{ id: 'u', role: 'user', content: '47+85 builtin' }]);
    let interleaved = false;
    let last = -1;
    const turn = await streamChat({
      baseUrl: url, body,
      onUpdate: (t) => {
        const seen = t.agents.filter(Boolean).map((a) => a.index);
        if (seen.length > 1 && last !== -1) interleaved = true;
        last = seen.length;
      },
    });
    assert.equal(cm.lastRequest.muse_agents, 4);
    assert.equal(cm.lastRequest.muse_synthesis, 'online');
    assert.ok(interleaved);
    assert.equal(turn.agents.length, 4);
    assert.ok(turn.agents.every((a) => a.done && a.reasoning));
    assert.deepEqual(turn.agents.map((a) => a.stop), ['finished', 'finished', 'consensus', 'low_confidence']);
    assert.equal(turn.agents[0].tool_calls[0].function.name, 'calculator');
    assert.deepEqual(turn.agents[0].tool_results, { call_a0: '132' });
    assert.equal(turn.contemplation.synthesis, 'online');
    assert.equal(turn.contemplation.consensus_stop, true);
    assert.equal(turn.contemplation.threshold, 1.2);
    const w = turn.contemplation.winner;
    assert.equal(turn.reasoning, turn.agents[w].reasoning, "the synthesis's thinking is the winner's");
    assert.equal(turn.content, 'The sum is **132**.');
    assert.equal(turn.usage.completion_tokens, turn.contemplation.tokens);
    const whole = await streamChat({ baseUrl: url, body: { ...body, stream: false } });
    assert.equal(whole.content, turn.content);
    assert.deepEqual(whole.contemplation, turn.contemplation);
    assert.deepEqual(whole.agents.map((a) => a.reasoning), turn.agents.map((a) => a.reasoning));
    assert.equal(whole.agents[0].tool_calls[0].muse_server, true);
    for (const [extra, param] of [[{ n: 2 }, 'n'], [{ logprobs: true }, 'logprobs'], [{ muse_agents: 65 }, 'muse_agents'], [{ muse_synthesis: 'best' }, 'muse_synthesis']])
      await assert.rejects(streamChat({ baseUrl: url, body: { ...body, ...extra } }), (e) => e.status === 400 && e.param === param);
  } finally {
    cm.close();
  }
});
