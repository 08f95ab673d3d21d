import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore, parseExport, loadSettings, saveSettings, DEFAULT_SETTINGS, titleFrom } from '../../app/store.js';

// A localStorage stand-in; `quota` (bytes of all values) makes setItem throw as browsers do.
function fakeStorage(quota = Infinity) {
  const map = new Map();
  return {
    map,
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem(k, v) {
      const size = [...map].reduce((n, [key, val]) => n + (key === k ? 0 : val.length), 0) + String(v).length;
      if (size > quota) {
        const e = new Error('quota');
        e.name = 'QuotaExceededError';
        throw e;
      }
      map.set(k, String(v));
    },
    removeItem: (k) => map.delete(k),
  };
}

test('conversations survive a reload (a new store over the same storage)', () => {
  const storage = fakeStorage();
  const a = createStore(storage);
  a.load();
  const c = a.create();
  a.addMessage(c.id, { role: 'user', content: 'What is 47+85?\nshow the work' });
  a.addMessage(c.id, { role: 'assistant', content: '132', reasoning: '47+85 ...' });
  assert.equal(a.save().ok, true);
  const b = createStore(storage);
  const list = b.load();
  assert.equal(list.length, 1);
  assert.equal(list[0].title, 'What is 47+85?');
  assert.deepEqual(list[0].messages.map((m) => [m.role, m.content]), [['user', 'What is 47+85?\nshow the work'], ['assistant', '132']]);
  assert.equal(list[0].messages[1].reasoning, '47+85 ...');
});

test('rename, remove, newest first', () => {
  const s = createStore(fakeStorage());
  const c1 = s.create('one');
  c1.updated = 1;
  const c2 = s.create('two');
  c2.updated = 2;
  assert.deepEqual(s.list().map((c) => c.title), ['two', 'one']);
  s.rename(c1.id, '  first  ');
  assert.equal(s.get(c1.id).title, 'first');
  s.rename(c1.id, '   ');
  assert.equal(s.get(c1.id).title, 'first', 'a blank name keeps the old one');
  assert.equal(s.remove(c2.id), true);
  assert.equal(s.remove(c2.id), false);
  assert.deepEqual(s.list().map((c) => c.title), ['first']);
});

test('editing a user message drops everything after it; regenerate drops the last answer', () => {
  const s = createStore(fakeStorage());
  const c = s.create();
  const u1 = s.addMessage(c.id, { role: 'user', content: 'a' });
  s.addMessage(c.id, { role: 'assistant', content: 'A' });
  const u2 = s.addMessage(c.id, { role: 'user', content: 'b' });
  s.addMessage(c.id, { role: 'assistant', content: 'B' });
  s.addMessage(c.id, { role: 'tool', content: 'r', tool_call_id: 'x' });
  assert.equal(s.dropLastAnswer(c.id).id, u2.id);
  assert.deepEqual(s.get(c.id).messages.map((m) => m.content), ['a', 'A', 'b']);
  s.editMessage(c.id, u1.id, 'a2');
  assert.deepEqual(s.get(c.id).messages.map((m) => m.content), ['a2']);
  const asst = s.addMessage(c.id, { role: 'assistant', content: 'x' });
  assert.throws(() => s.editMessage(c.id, asst.id, 'no'), /only user messages/);
});

test('export then import round-trips; identical conversations are skipped, changed ones get a new id', () => {
  const s = createStore(fakeStorage());
  const c = s.create();
  s.addMessage(c.id, { role: 'user', content: 'hi', attachments: [{ kind: 'table', name: 't.csv', format: 'csv', csv: 'a,b\n1,2\n' }] });
  const text = s.exportJSON();
  const doc = JSON.parse(text);
  assert.equal(doc.format, 'muse-conversations');
  assert.equal(doc.version, 1);
  const t = createStore(fakeStorage());
  assert.deepEqual(t.importJSON(text), { added: 1, skipped: 0 });
  assert.equal(t.get(c.id).messages[0].attachments[0].csv, 'a,b\n1,2\n');
  assert.deepEqual(t.importJSON(text), { added: 0, skipped: 1 });
  doc.conversations[0].messages[0].content = 'changed';
  assert.deepEqual(t.importJSON(JSON.stringify(doc)), { added: 1, skipped: 0 });
  assert.equal(t.list().length, 2);
  assert.equal(new Set(t.list().map((x) => x.id)).size, 2);
});

test('a bad import file is refused with a message naming the problem, and nothing is added', () => {
  const s = createStore(fakeStorage());
  const bad = (text, pattern) => {
    assert.throws(() => s.importJSON(text), pattern);
    assert.equal(s.list().length, 0);
  };
  bad('not json', /not a JSON file/);
  bad('42', /not a Muse conversations file/);
  bad('{"format":"other","conversations":[]}', /format "other"/);
  bad('{"hello":1}', /no 'conversations' array/);
  bad('{"format":"muse-conversations","version":99,"conversations":[]}', /newer app/);
  bad(JSON.stringify({ conversations: [{ title: 'x', messages: [{ role: 'user', content: 'ok' }] }, { title: 'y' }] }),
    /conversations\[1\]\.messages: must be an array/);
  bad(JSON.stringify({ conversations: [{ messages: [{ role: 'robot', content: 'x' }] }] }), /conversations\[0\]\.messages\[0\]\.role: must be one of/);
  bad(JSON.stringify({ conversations: [{ messages: [{ role: 'user', content: 5 }] }] }), /messages\[0\]\.content: must be a string/);
  bad(JSON.stringify({ conversations: [{ messages: [{ role: 'user', content: '', attachments: [{ kind: 'image', url: 'http://x/y.png' }] }] }] }),
    /attachments\[0\]\.url: must be a data:image/);
  // a bare array with valid content is fine, and gets ids and a title
  const list = parseExport(JSON.stringify([{ messages: [{ role: 'user', content: 'Hello there' }] }]));
  assert.equal(list[0].title, 'Hello there');
  assert.ok(list[0].id && list[0].messages[0].id);
});

test('a full storage drops images of the oldest conversations first and says so', () => {
  const storage = fakeStorage(4000);
  const s = createStore(storage);
  const big = 'data:image/png;base64,' + 'A'.repeat(1500);
  const old = s.create('old');
  s.addMessage(old.id, { role: 'user', content: 'x', attachments: [{ kind: 'image', url: big, width: 1, height: 1 }] });
  old.updated = 1;
  const recent = s.create('recent');
  s.addMessage(recent.id, { role: 'user', content: 'y', attachments: [{ kind: 'image', url: big, width: 1, height: 1 }] });
  recent.updated = 2;
  s.addMessage(recent.id, { role: 'user', content: 'z', attachments: [{ kind: 'image', url: big, width: 1, height: 1 }] });
  const r = s.save();
  assert.equal(r.ok, true);
  assert.match(r.note, /1 image\(s\)/);
  const reloaded = createStore(storage);
  reloaded.load();
  assert.equal(reloaded.get(old.id).messages[0].attachments[0].url, '');
  assert.equal(reloaded.get(recent.id).messages[0].attachments[0].url, big);
});

test('a damaged document is kept aside and reported, not silently lost', () => {
  const storage = fakeStorage();
  storage.setItem('muse.conversations', '{"conversations": [ broken');
  const s = createStore(storage);
  assert.deepEqual(s.load(), []);
  assert.match(s.lastError.message, /could not be read/);
  assert.equal(storage.getItem('muse.conversations.damaged'), '{"conversations": [ broken');
});

test('settings merge over the defaults', () => {
  const storage = fakeStorage();
  assert.deepEqual(loadSettings(storage), DEFAULT_SETTINGS);
  saveSettings(storage, { ...DEFAULT_SETTINGS, apiKey: 'sk-1', mode: 'contemplating' });
  const s = loadSettings(storage);
  assert.equal(s.apiKey, 'sk-1');
  assert.equal(s.mode, 'contemplating');
  assert.equal(s.synthesis, 'confidence');
  assert.equal(s.agents, 8);
  storage.setItem('muse.settings', 'garbage');
  assert.deepEqual(loadSettings(storage), DEFAULT_SETTINGS);
});

test('Contemplating settings: saved and read back, old or bad values back into range', () => {
  const storage = fakeStorage();
  saveSettings(storage, { ...DEFAULT_SETTINGS, mode: 'contemplating', agents: 24, synthesis: 'online' });
  assert.deepEqual([loadSettings(storage).mode, loadSettings(storage).agents, loadSettings(storage).synthesis], ['contemplating', 24, 'online']);
  saveSettings(storage, { ...DEFAULT_SETTINGS, mode: 'contemplating', agents: 500, synthesis: 'merge' });
  assert.equal(loadSettings(storage).agents, 64);
  assert.equal(loadSettings(storage).synthesis, 'confidence');
  saveSettings(storage, { ...DEFAULT_SETTINGS, mode: 'nonsense', agents: 'x' });
  assert.equal(loadSettings(storage).mode, 'standard');
  assert.equal(loadSettings(storage).agents, 8);
});

test('a Contemplating answer keeps its agents and synthesis through saving, export and import', () => {
  const storage = fakeStorage();
  const store = createStore(storage);
  const c = store.create();
  store.addMessage(c.id, { role: 'user', content: '47+85' });
  const agents = [
    { index: 0, reasoning: 'r0', content: 'The sum is 132.', answer: '132', done: true, confidence: 2.1, tokens: 9, thinking_tokens: 5,
      stop: 'finished', finish_reason: 'stop', counted: true, weight: 2.1, temperature: 0.5,
      tool_calls: [{ id: 'call_0', type: 'function', muse_server: true, function: { name: 'calculator', arguments: '{}' } }], tool_results: { call_0: '132' } },
    { index: 1, reasoning: 'r1', content: '', done: true, stop: 'low_confidence', counted: false, confidence: 0.3 },
  ];
  const contemplation = { synthesis: 'online', agents_requested: 2, winner: 0, support: 1, winner_votes: 2.1, threshold: 1.2, consensus_stop: false, tokens: 14 };
  store.addMessage(c.id, { role: 'assistant', content: 'The sum is 132.', mode: 'contemplating', agents, contemplation });
  assert.ok(store.save().ok);
  const again = createStore(storage);
  again.load();
  const m = again.get(c.id).messages[1];
  assert.deepEqual(m.agents, agents);
  assert.deepEqual(m.contemplation, contemplation);
  const other = createStore(fakeStorage());
  other.importJSON(again.exportJSON());
  assert.deepEqual(other.list()[0].messages[1].agents, agents);
  assert.throws(() => other.importJSON(JSON.stringify([{ messages: [{ role: 'assistant', content: '', agents: {} }] }])), /messages\[0\]\.agents: must be an array/);
  assert.throws(() => other.importJSON(JSON.stringify([{ messages: [{ role: 'assistant', content: '', contemplation: [] }] }])), /contemplation: must be an object/);
});

test('titles', () => {
  assert.equal(titleFrom('\n  hello world \nmore'), 'hello world');
  assert.equal(titleFrom(''), 'New chat');
  assert.equal(titleFrom('x'.repeat(60)).length, 48);
});

test('built-in tool calls (muse_server, muse_box, muse_image, muse_crop, is_error) survive saving, export and import', () => {
  const storage = fakeStorage();
  const a = createStore(storage);
  a.load();
  const c = a.create();
  a.addMessage(c.id, { role: 'user', content: 'zoom', attachments: [{ kind: 'image', name: 'i.png', url: 'data:image/png;base64,AA==', width: 64, height: 48 }] });
  const calls = [
    { id: 'call_0', type: 'function', function: { name: 'zoom', arguments: '{"bbox_2d":[1,1,3,3],"unit":"patch"}' }, muse_server: true,
      muse_box: [16, 12, 48, 36], muse_image: 0, is_error: false, muse_crop: [32, 24] },
    { id: 'call_1', type: 'function', function: { name: 'calculator', arguments: '{"expression":"1/0"}' }, muse_server: true, is_error: true },
  ];
  const results = { call_0: 'zoomed', call_1: 'error: division by zero' };
  a.addMessage(c.id, { role: 'assistant', content: 'ok', tool_calls: calls, tool_results: results });
  assert.equal(a.save().ok, true);
  const b = createStore(storage);
  const m = b.load()[0].messages[1];
  assert.deepEqual([m.tool_calls, m.tool_results], [calls, results]);
  const other = createStore(fakeStorage());
  other.load();
  other.importJSON(b.exportJSON());
  const m2 = other.list()[0].messages[1];
  assert.deepEqual([m2.tool_calls, m2.tool_results], [calls, results]);
});

test('the built-in tools setting defaults to on', () => {
  assert.equal(DEFAULT_SETTINGS.tools, 'on');
  const storage = fakeStorage();
  saveSettings(storage, { ...DEFAULT_SETTINGS, tools: 'off' });
  assert.equal(loadSettings(storage).tools, 'off');
});
