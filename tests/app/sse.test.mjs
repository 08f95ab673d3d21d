import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSSEParser, readSSE } from '../../app/sse.js';

function collect(pieces) {
  const events = [];
  const p = createSSEParser((e) => events.push(e));
  for (const piece of pieces) p.push(piece);
  p.end();
  return events;
}

test('one event per blank line; the space after the colon is dropped', () => {
  const events = collect(['data: {"a":1}\n\ndata: two\n\n']);
  assert.deepEqual(events.map((e) => e.data), ['{"a":1}', 'two']);
  assert.equal(events[0].event, 'message');
});

test('lines and even CRLF pairs split between chunks', () => {
  const text = 'data: {"choices":[{"delta":{"content":"héllo"}}]}\r\n\r\ndata: [DONE]\r\n\r\n';
  // every split point, one at a time
  for (let k = 1; k < text.length; k++) {
    const events = collect([text.slice(0, k), text.slice(k)]);
    assert.deepEqual(events.map((e) => e.data), ['{"choices":[{"delta":{"content":"héllo"}}]}', '[DONE]'], `split at ${k}`);
  }
  // one character at a time
  assert.equal(collect([...text]).length, 2);
});

test('multi-line data joins with newlines; comments and unknown fields are ignored', () => {
  const events = collect([': keep-alive\n', 'event: chunk\nid: 7\nretry: 100\nfoo: bar\ndata: line one\ndata:line two\n\n']);
  assert.equal(events.length, 1);
  assert.equal(events[0].data, 'line one\nline two');
  assert.equal(events[0].event, 'chunk');
  assert.equal(events[0].id, '7');
});

test('a comment-only or field-only block dispatches nothing; CR line ends work', () => {
  assert.deepEqual(collect([': ping\n\n', 'event: x\n\n']), []);
  assert.deepEqual(collect(['data: a\r\rdata: b\r\r']).map((e) => e.data), ['a', 'b']);
});

test('an event without its closing blank line is not dispatched at the end', () => {
  const events = collect(['data: complete\n\n', 'data: cut off']);
  assert.deepEqual(events.map((e) => e.data), ['complete']);
});

test('readSSE decodes UTF-8 split between byte chunks', async () => {
  const bytes = new TextEncoder().encode('data: 日本\n\ndata: [DONE]\n\n');
  const chunks = [bytes.slice(0, 7), bytes.slice(7, 9), bytes.slice(9)]; // splits inside 日
  const body = new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
  const got = [];
  for await (const e of readSSE(body)) got.push(e.data);
  assert.deepEqual(got, ['日本', '[DONE]']);
});
