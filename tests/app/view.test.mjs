import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  agentFinalAnswer, agentStatus, agentsProgress, formatStats, prettyArguments, synthesisLine, toolCardState, toolResults, zoomCaption,
  zoomInfo, zoomOverlays, zoomTarget,
} from '../../app/view.js';

const img = (w, h) => ({ kind: 'image', name: 'i.png', url: 'data:image/png;base64,AA==', width: w, height: h });

test('zoom boxes are drawn on the image they point at', () => {
  const messages = [
    { id: 'u1', role: 'user', content: 'a', attachments: [img(100, 100), img(200, 100)] },
    { id: 'a1', role: 'assistant', content: '', tool_calls: [
      { id: 'z1', function: { name: 'zoom', arguments: '{"box":[0,0,50,50]}' } }, // the last image so far
      { id: 'z2', function: { name: 'zoom', arguments: '{"image":0,"box":[50,50,100,100]}' } },
      { id: 'o', function: { name: 'calc', arguments: '{"box":[0,0,1,1]}' } },
    ] },
  ];
  assert.deepEqual(zoomOverlays(messages), {
    'u1:1': [{ left: 0, top: 0, width: 25, height: 50, callId: 'z1' }],
    'u1:0': [{ left: 50, top: 50, width: 50, height: 50, callId: 'z2' }],
  });
  const t = zoomTarget(messages, 'a1', messages[1].tool_calls[1]);
  assert.equal(t.att.width, 100);
  assert.equal(t.box.left, 50);
  assert.equal(zoomTarget([], 'a1', messages[1].tool_calls[0]), null);
});

test('tool results: streamed ones and the tool messages that follow', () => {
  const messages = [
    { id: 'a', role: 'assistant', tool_results: { c1: 'streamed' }, tool_calls: [] },
    { id: 't1', role: 'tool', tool_call_id: 'c2', content: 'from a tool message' },
    { id: 'u', role: 'user', content: 'next' },
    { id: 't2', role: 'tool', tool_call_id: 'c3', content: 'not this one' },
  ];
  assert.deepEqual(toolResults(messages, 'a'), { c1: 'streamed', c2: 'from a tool message' });
});

test('the stats line', () => {
  const items = formatStats({ tokens_per_s: 41.26, completion_tokens: 20, reasoning_tokens: 12, prompt_tokens: 30, cached_tokens: 8,
    ttft_ms: 120, thinking_ms: 1500, total_ms: 12500, source: 'client' });
  assert.deepEqual(items.map((i) => `${i.label} ${i.value}`), [
    'speed 41.3 tok/s', 'completion 20 tok', 'reasoning 12 tok', 'prompt 30 tok (8 cached)', 'first token 120 ms',
    'thinking 1.50 s', 'total 12.5 s',
  ]);
  assert.deepEqual(formatStats(null), []);
  assert.equal(prettyArguments('{"a":1}'), '{\n  "a": 1\n}');
  assert.equal(prettyArguments('{"a":'), '{"a":');
});

const dropped = () => ({ kind: 'image', name: 'old.png', url: '', dropped: true, width: 100, height: 100 });
const zoomCall = (id, args, extra = {}) => ({ id, type: 'function', function: { name: 'zoom', arguments: JSON.stringify(args) }, ...extra });

test('built-in zooms: muse_box in pixels on muse_image, numbered among the images sent', () => {
  const messages = [
    { id: 'u1', role: 'user', content: 'a', attachments: [dropped(), { kind: 'table', format: 'csv', csv: 'a\n1' }] }, // not sent
    { id: 'a1', role: 'assistant', content: '' },
    { id: 'u2', role: 'user', content: 'b', attachments: [img(64, 48), img(200, 100)] },
    { id: 'a2', role: 'assistant', content: '', tool_calls: [
      zoomCall('call_0', { bbox_2d: [1, 1, 3, 3], unit: 'patch' }, { muse_server: true, muse_box: [16, 12, 48, 36], muse_image: 0, muse_crop: [32, 24] }),
      zoomCall('call_1', { bbox_2d: [0, 0, 1, 1], unit: 'patch' }, { muse_server: true, muse_box: [0, 0, 100, 50] }), // no muse_image: the last sent
      zoomCall('call_2', { bbox_2d: [1, 1, 3, 3], unit: 'patch' }, { muse_server: true }), // patch without muse_box: not drawn
      zoomCall('call_3', { bbox_2d: [0, 0, 10, 10] }, { muse_server: true, is_error: true }), // failed: not drawn
      zoomCall('call_4', { bbox_2d: [0, 0, 0.5, 0.5], unit: 'normalized' }, { muse_server: true, muse_image: 1 }),
      zoomCall('call_5', { box: [0, 0, 50, 50], image: 1 }), // the app's own numbering (every image): the first of u2
      zoomCall('call_6', { bbox_2d: [0, 0, 8, 8], unit: 'pixel' }, { muse_server: true, muse_image: 7 }), // no such image
    ] },
  ];
  assert.deepEqual(zoomOverlays(messages), {
    'u2:0': [
      { left: 25, top: 25, width: 50, height: 50, callId: 'call_0' },
      { left: 0, top: 0, width: 78.13, height: 100, callId: 'call_5' },
    ],
    'u2:1': [
      { left: 0, top: 0, width: 50, height: 50, callId: 'call_1' },
      { left: 0, top: 0, width: 50, height: 50, callId: 'call_4' },
    ],
  });
  const calls = messages[3].tool_calls;
  const z0 = zoomInfo(messages, 'a2', calls[0]);
  assert.equal(z0.att, messages[2].attachments[0]);
  assert.deepEqual(z0.box, { left: 25, top: 25, width: 50, height: 50 });
  assert.equal(z0.caption, 'box (16,12)-(48,36), crop 32×24');
  assert.deepEqual(zoomTarget(messages, 'a2', calls[0]).box, z0.box);
  assert.equal(zoomInfo(messages, 'a2', calls[1]).caption, 'box (0,0)-(100,50)');
  const z2 = zoomInfo(messages, 'a2', calls[2]);
  assert.deepEqual([z2.att, z2.box, z2.caption], [null, null, '']);
  assert.equal(zoomInfo(messages, 'a2', calls[3]), null);
  assert.equal(zoomInfo(messages, 'a2', calls[4]).caption, 'box (0,0)-(100,50)');
  const z6 = zoomInfo(messages, 'a2', calls[6]);
  assert.deepEqual([z6.att, z6.caption], [null, 'box (0,0)-(8,8)'], 'the box is still told on the card');
  assert.equal(zoomTarget(messages, 'a2', calls[6]), null);
  assert.equal(zoomInfo(messages, 'a2', { id: 'c', function: { name: 'calculator', arguments: '{}' }, muse_server: true }), null);
  assert.equal(zoomCaption({ pixels: null, crop: [7.25, 3] }), 'crop 7.3×3');
});

test('a built-in zoom whose image has since been dropped is not drawn on another image', () => {
  // sent while both images had their data; then the storage filled up and dropped them all
  const messages = [
    { id: 'u1', role: 'user', content: 'a', attachments: [dropped(), dropped()] },
    { id: 'a1', role: 'assistant', content: '', tool_calls: [zoomCall('call_0', {}, { muse_server: true, muse_box: [0, 0, 5, 5], muse_image: 1 })] },
    { id: 'u2', role: 'user', content: 'b', attachments: [img(10, 10)] },
    { id: 'a2', role: 'assistant', content: '', tool_calls: [zoomCall('call_0', {}, { muse_server: true, muse_box: [0, 0, 5, 5], muse_image: 0 })] },
  ];
  assert.deepEqual(zoomOverlays(messages), { 'u2:0': [{ left: 0, top: 0, width: 50, height: 50, callId: 'call_0' }] });
  assert.equal(zoomInfo(messages, 'a1', messages[1].tool_calls[0]).caption, 'box (0,0)-(5,5)');
});

test('tool cards: built-in, sub-agent or tool; done, error, running, no result', () => {
  const call = (name, extra = {}) => ({ id: 'x', function: { name, arguments: '{}' }, ...extra });
  assert.deepEqual(toolCardState(call('calculator', { muse_server: true }), '132'), { name: 'calculator', kind: 'built-in', state: 'done', error: false });
  assert.deepEqual(toolCardState(call('zoom', { muse_server: true, is_error: true }), 'error: bad_arguments: x'),
    { name: 'zoom', kind: 'built-in', state: 'error', error: true });
  assert.equal(toolCardState(call('spawn'), null, true).state, 'running…');
  assert.equal(toolCardState(call('spawn'), null).kind, 'sub-agent');
  assert.deepEqual(toolCardState(call('calc'), null), { name: 'calc', kind: 'tool', state: 'no result', error: false });
  assert.equal(toolCardState({ id: 'y', function: { name: '' } }, '').name, 'tool');
});

test('Contemplating: the synthesis line', () => {
  assert.equal(synthesisLine({ synthesis: 'confidence', agents_requested: 8, winner: 3, support: 0.714, winner_votes: 4.2, threshold: null, consensus_stop: false, tokens: 812 }),
    'confidence · 8 agents · answer of agent 3 · support 71% · 812 tokens');
  assert.equal(synthesisLine({ synthesis: 'online', agents_requested: 4, winner: 0, support: 1, winner_votes: 3, threshold: 1.234, consensus_stop: true, tokens: 40 }),
    'online · 4 agents · answer of agent 0 · support 100% · 40 tokens · stopped at consensus · threshold 1.23');
  assert.equal(synthesisLine({ synthesis: 'vote', agents_requested: 1, winner: null, support: 0, winner_votes: 0, threshold: null, consensus_stop: false, tokens: 3 }),
    'vote · 1 agent · no winning answer · support 0% (0 votes) · 3 tokens');
  assert.equal(synthesisLine({ synthesis: 'vote', agents_requested: 3, winner: 1, support: 0.667, winner_votes: 2 }), 'vote · 3 agents · answer of agent 1 · support 67% (2 votes)');
  assert.equal(synthesisLine(null), '');
});

test('Contemplating: agent states, early stops, the winner, facts', () => {
  const live = agentStatus({ index: 2, reasoning: 'hm', content: '', done: false, chunks: 7 }, { live: true });
  assert.deepEqual([live.title, live.state, live.early, live.winner], ['Agent 2', 'thinking…', false, false]);
  assert.deepEqual(live.facts, [{ label: 'tokens', value: '7…' }]);
  assert.equal(agentStatus({ index: 0, reasoning: 'x', content: 'A', done: false }, { live: true }).state, 'answering…');
  assert.equal(agentStatus({ index: 0, reasoning: '', content: '', done: false }, { live: true }).state, 'waiting…');
  assert.equal(agentStatus({ index: 0, reasoning: 'x', content: '', done: false }, { live: false }).state, 'did not finish');
  const done = agentStatus({ index: 3, done: true, stop: 'finished', confidence: 2.345, tokens: 40, thinking_tokens: 30, counted: true, weight: 2.345, temperature: 0.7 }, { winner: 3 });
  assert.equal(done.state, 'finished');
  assert.equal(done.winner, true);
  assert.deepEqual(done.facts.map((f) => `${f.label} ${f.value}`), ['confidence 2.35', 'tokens 40 (30 thinking)', 'vote counted', 'T 0.7']);
  const low = agentStatus({ index: 1, done: true, stop: 'low_confidence', confidence: null, counted: false }, { winner: 3 });
  assert.deepEqual([low.state, low.early, low.winner], ['stopped early: low confidence', true, false]);
  assert.deepEqual(low.facts.map((f) => `${f.label} ${f.value}`), ['confidence n/a', 'vote not counted']);
  assert.equal(agentStatus({ index: 1, done: true, stop: 'consensus' }).state, 'stopped early: consensus reached');
  const failed = agentStatus({ index: 1, done: true, stop: 'failed' });
  assert.deepEqual([failed.state, failed.failed, failed.early], ['failed', true, false]);
  assert.equal(agentFinalAnswer({ content: 'The sum is **132**.', answer: '132' }), '132');
  assert.equal(agentFinalAnswer({ content: '132 ', answer: '132' }), '');
  assert.equal(agentsProgress([{ done: true }, { done: false }, null], 8), '1 of 8 agents done');
  assert.equal(agentsProgress([{ done: true }]), '1 of 1 agent done');
});
