import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStats, prettyArguments, toolResults, zoomOverlays, zoomTarget } from '../../app/view.js';

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
