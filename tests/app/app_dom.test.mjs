// app/app.js on a fake DOM (fake_dom.mjs) against the mock server over HTTP: the page's glue runs without a
// browser — sending, streaming into the page, errors, edit, regenerate, Answer now, Esc, storage, escaping.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Document, Event, memoryStorage } from './fake_dom.mjs';
import { createMockServer } from './mock_server.mjs';

let server;
let contemplating; // a mock that streams Contemplating replies (delta.muse_agent)
let wholeMock; // a mock that answers with whole JSON completions
let useContemplating = false;
let useWhole = false;
let doc;
const storage = memoryStorage();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const $ = (id) => doc.getElementById(id);

async function until(pred, ms = 10000) {
  for (let t = 0; t < ms; t += 10) {
    if (pred()) return true;
    await sleep(10);
  }
  return false;
}
const idle = () => until(() => $('stop').hidden && !doc.querySelector('[aria-busy]'));
async function type(text) {
  const input = $('composer-input');
  input.value = text;
  input.dispatchEvent(new Event('input', { bubbles: true }));
  input.dispatchEvent(new Event('keydown', { key: 'Enter', bubbles: true }));
  await sleep(5);
}
const msgs = (sel = '.msg') => $('messages').querySelectorAll(sel);
const lastAssistant = () => msgs('.msg.assistant').at(-1);

before(async () => {
  server = createMockServer({ delay: 0 });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  contemplating = createMockServer({ delay: 5, contemplating: true });
  await new Promise((r) => contemplating.listen(0, '127.0.0.1', r));
  wholeMock = createMockServer({ delay: 0, contemplating: true, whole: true });
  await new Promise((r) => wholeMock.listen(0, '127.0.0.1', r));
  const base = () => `http://127.0.0.1:${(useWhole ? wholeMock : useContemplating ? contemplating : server).address().port}`;
  doc = new Document(readFileSync(new URL('../../app/index.html', import.meta.url), 'utf8'));
  const realFetch = globalThis.fetch;
  // the app's long timers (toasts) must not keep the test process alive
  const realSetTimeout = globalThis.setTimeout;
  globalThis.setTimeout = (fn, ms, ...args) => {
    const t = realSetTimeout(fn, ms, ...args);
    if (ms > 1000) t.unref?.();
    return t;
  };
  Object.assign(globalThis, {
    document: doc,
    window: globalThis,
    localStorage: storage,
    matchMedia: () => ({ matches: true }),
    requestAnimationFrame: (cb) => setTimeout(cb, 0),
    CSS: { escape: (s) => s },
    confirm: () => true,
    addEventListener: () => {},
    innerHeight: 800,
    fetch: (url, init) => realFetch(url.startsWith('/') ? base() + url : url, init),
    FileReader: FakeFileReader,
    Image: FakeImage,
  });
  if (!globalThis.navigator?.clipboard)
    Object.defineProperty(globalThis, 'navigator', { value: { clipboard: { writeText: async () => {} } }, configurable: true });
  await import('../../app/app.js');
  await sleep(50);
});
after(() => {
  server.close();
  contemplating.close();
  wholeMock.close();
});

class FakeFileReader {
  readAsText(blob) {
    blob.text().then((t) => {
      this.result = t;
      this.onload();
    });
  }
  readAsDataURL(blob) {
    blob.arrayBuffer().then((b) => {
      this.result = `data:${blob.type};base64,${Buffer.from(b).toString('base64')}`;
      this.onload();
    });
  }
}
class FakeImage {
  set src(v) {
    this._src = v;
    this.naturalWidth = 64;
    this.naturalHeight = 48;
    setTimeout(() => this.onload(), 0);
  }
  get src() {
    return this._src;
  }
}
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

test('the page starts empty, with the served model in the badge', async () => {
  assert.equal($('empty').hidden, false);
  assert.equal(msgs().length, 0);
  assert.ok(await until(() => $('model-badge').textContent === 'mock'));
});

test('a streamed answer: Markdown, math, collapsed thinking with its count, stats; saved', async () => {
  await type('What is 47+85?');
  assert.ok(await idle());
  const a = lastAssistant();
  assert.ok(a.querySelector('table'), 'a Markdown table');
  assert.ok(a.querySelector('.math .frac'), 'math');
  assert.ok(a.querySelector('.copy-code'), 'a copy button');
  assert.equal(a.querySelector('code').textContent, 'print(47 + 85)  # <b>132</b>');
  const thinking = a.querySelector('details.thinking');
  assert.equal(thinking.open, false);
  assert.match(thinking.querySelector('summary').textContent, /\d+ tokens/);
  assert.match(a.querySelector('.stats').textContent, /tok\/s/);
  assert.equal($('conv-title').textContent, 'What is 47+85?');
  assert.equal($('conv-list').querySelectorAll('li').length, 1);
  const saved = JSON.parse(storage.getItem('muse.conversations'));
  assert.equal(saved.conversations[0].messages.length, 2);
  assert.match(saved.conversations[0].messages[1].content, /\*\*132\*\*/);
});

test('user text is never HTML', async () => {
  await type('<script>alert(1)</script> <img src=x onerror=alert(1)>');
  await idle();
  const u = msgs('.msg.user').at(-1);
  assert.equal(u.querySelector('.bubble').textContent, '<script>alert(1)</script> <img src=x onerror=alert(1)>');
  assert.equal($('messages').querySelectorAll('script').length, 0);
  assert.equal($('messages').querySelectorAll('img').length, 0);
});

test('a server error is shown in the conversation', async () => {
  await type('please error');
  await idle();
  const box = lastAssistant().querySelector('.error-box');
  assert.ok(box);
  assert.match(box.textContent, /Error 400 · invalid_request_error/);
  assert.match(box.textContent, /param: messages\[0\]\.content\[0\]\.image_url\.url/);
});

test('Contemplating sends its fields; the 400 names them', async () => {
  doc.querySelector('input[name="mode"][value="contemplating"]').click();
  assert.ok($('composer').classList.contains('contemplating'));
  await type('47+85');
  await idle();
  assert.match(lastAssistant().querySelector('.error-box').textContent, /param: mode/);
  doc.querySelector('input[name="mode"][value="standard"]').click();
  assert.equal(JSON.parse(storage.getItem('muse.settings')).mode, 'standard');
});

test('regenerate replaces the last answer; editing the first message drops the rest', async () => {
  const n = msgs().length;
  lastAssistant().querySelectorAll('button').find((b) => b.textContent === 'Regenerate').click();
  await sleep(5);
  await idle();
  assert.equal(msgs().length, n);
  assert.equal(lastAssistant().querySelector('.error-box'), null, 'the regenerated answer is a Standard one');
  msgs('.msg.user')[0].querySelectorAll('button').find((b) => b.textContent === 'Edit').click();
  const box = doc.querySelector('.edit-box textarea');
  assert.ok(box);
  box.value = 'What is 2+2?';
  doc.querySelector('.edit-box .btn.primary').click();
  await sleep(5);
  await idle();
  assert.equal(msgs().length, 2);
  assert.equal(msgs('.msg.user')[0].querySelector('.bubble').textContent, 'What is 2+2?');
});

test('Answer now while thinking; Esc stops', async () => {
  await type('think long');
  assert.ok(await until(() => !$('answer-now').hidden), 'the button shows');
  $('answer-now').click();
  assert.ok(await idle());
  assert.match(lastAssistant().textContent, /answered early/);
  assert.match(lastAssistant().textContent, /132/);
  await type('long again');
  assert.ok(await until(() => !$('stop').hidden));
  await sleep(20);
  doc.dispatchEvent(new Event('keydown', { key: 'Escape', bubbles: true }));
  assert.ok(await idle());
  assert.match(lastAssistant().textContent, /stopped by you/);
});

test('tool calls: cards, a nested spawn tree', async () => {
  await type('spawn please');
  await idle();
  const cards = lastAssistant().querySelectorAll('.tool-card');
  assert.equal(cards.length, 3);
  assert.equal(lastAssistant().querySelectorAll('.tool-children .tool-children .tool-card').length, 1);
  assert.match(cards[0].textContent, /the sum is right/);
});

test('new chat, rename, delete, theme', async () => {
  $('new-chat').click();
  assert.equal(msgs().length, 0);
  await type('second chat');
  await idle();
  assert.equal($('conv-list').querySelectorAll('li').length, 2);
  const item = $('conv-list').querySelectorAll('li')[0];
  item.querySelectorAll('button').find((b) => /Rename/.test(b.getAttribute('aria-label'))).click();
  const input = item.querySelector('input.rename');
  input.value = 'Renamed';
  input.dispatchEvent(new Event('keydown', { key: 'Enter' }));
  assert.equal($('conv-list').querySelectorAll('.conv-select')[0].textContent, 'Renamed');
  $('conv-list').querySelectorAll('li')[0].querySelectorAll('button').find((b) => /Delete/.test(b.getAttribute('aria-label'))).click();
  assert.equal($('conv-list').querySelectorAll('li').length, 1);
  $('theme-btn').click();
  assert.equal(doc.documentElement.dataset.theme, 'light');
  $('theme-btn').click();
  assert.equal(doc.documentElement.dataset.theme, 'dark');
  $('theme-btn').click();
  assert.equal(doc.documentElement.dataset.theme, undefined);
});

test('attachments: an image with a zoom box, a pasted table with its preview, both sent', async () => {
  await globalThis.muse.addFiles([new File([PNG], 'digit.png', { type: 'image/png' })]);
  assert.equal($('attachments').querySelectorAll('.att.image img').length, 1);
  const paste = new Event('paste', { bubbles: true });
  paste.clipboardData = { files: [], getData: () => 'item,price\napple,3\npear,5' };
  $('composer-input').dispatchEvent(paste);
  assert.ok(paste.defaultPrevented, 'a table is not pasted as text');
  const preview = $('attachments').querySelector('.table-preview table');
  assert.ok(preview);
  assert.equal(preview.querySelectorAll('tbody tr').length, 2);
  // remove the table again, then attach it from the dialog
  $('attachments').querySelectorAll('.att-remove')[1].click();
  assert.equal($('attachments').querySelectorAll('.att').length, 1);
  $('attach-table').click();
  $('table-text').value = 'a,b\n1,2,3';
  $('table-ok').click();
  assert.match($('table-error').textContent, /line 2: 3 fields, the header has 2/);
  $('table-text').value = 'a,b\n1,2';
  $('table-ok').click();
  assert.equal($('table-dialog').open, false);
  await type('zoom on it');
  await idle();
  const sent = server.lastRequest.messages.at(-1);
  assert.deepEqual(sent.content.map((p) => p.type), ['image_url', 'table', 'text']);
  assert.match(sent.content[0].image_url.url, /^data:image\/png;base64,iVBOR/);
  assert.deepEqual(sent.content[1], { type: 'table', table: { csv: 'a,b\n1,2' } });
  assert.deepEqual(sent.content[2], { type: 'text', text: 'zoom on it' });
  assert.equal(server.lastRequest.stream, true);
  assert.deepEqual(server.lastRequest.stream_options, { include_usage: true });
  assert.equal($('attachments').querySelectorAll('.att').length, 0, 'the composer is cleared');
  const u = msgs('.msg.user').at(-1);
  assert.ok(u.querySelector('.thumb img').getAttribute('src').startsWith('data:image/png;base64,'));
  const box = u.querySelector('.thumb .zoom-box');
  assert.ok(box, 'the zoom box over the thumbnail');
  assert.equal(box.style.left, '12.5%'); // x0 8 of 64 pixels
  assert.equal(box.style.width, '50%');
  assert.ok(lastAssistant().querySelector('.tool-zoom .zoom-box'), 'and in the card');
  const saved = JSON.parse(localStorage.getItem('muse.conversations'));
  const msg = saved.conversations.flatMap((c) => c.messages).find((m) => m.content === 'zoom on it');
  assert.deepEqual(msg.attachments.map((a) => [a.kind, a.width ?? a.format]), [['image', 64], ['table', 'csv']]);
});

test("built-in tools: cards marked built-in, the zoom's box on the image and its card, errors styled; not resent", async () => {
  $('new-chat').click();
  await globalThis.muse.addFiles([new File([PNG], 'digit.png', { type: 'image/png' })]);
  await type('builtin tools please');
  await idle();
  const a = lastAssistant();
  const cards = a.querySelectorAll('.tool-card');
  assert.deepEqual(cards.map((c) => c.querySelector('.tool-name').textContent), ['calculator', 'zoom', 'zoom', 'table_query']);
  assert.deepEqual(cards.map((c) => c.querySelector('.tool-kind').textContent), ['built-in', 'built-in', 'built-in', 'built-in']);
  assert.deepEqual(cards.map((c) => c.querySelector('.tool-state').textContent), ['done', 'done', 'error', 'done']);
  assert.match(cards[0].textContent, /47\+85/);
  assert.match(cards[0].querySelector('.tool-body').textContent, /result132/);
  assert.equal(cards[1].querySelector('.tool-zoom-caption').textContent, 'box (16,12)-(48,36), crop 32×24');
  const cardBox = cards[1].querySelector('.tool-zoom .zoom-box');
  assert.ok(cardBox, 'the box in the card');
  assert.deepEqual([cardBox.style.left, cardBox.style.top, cardBox.style.width, cardBox.style.height], ['25%', '25%', '50%', '50%']);
  assert.ok(cards[2].classList.contains('error'));
  assert.equal(cards[2].querySelector('pre.tool-error').textContent, 'error: bad_arguments: bbox_2d must have 4 numbers');
  assert.equal(cards[2].querySelector('.tool-zoom'), null, 'a failed zoom draws nothing');
  assert.equal(cards[0].classList.contains('error'), false);
  const thumbBox = msgs('.msg.user').at(-1).querySelectorAll('.thumb .zoom-box');
  assert.equal(thumbBox.length, 1, 'one box over the thumbnail (the patch-unit zoom is drawn from muse_box)');
  assert.equal(thumbBox[0].style.left, '25%'); // 16 of 64 pixels
  assert.equal(thumbBox[0].style.top, '25%'); // 12 of 48
  const saved = JSON.parse(localStorage.getItem('muse.conversations'));
  const msg = saved.conversations.flatMap((c) => c.messages).find((m) => m.tool_calls?.[0]?.function.name === 'calculator');
  assert.deepEqual(msg.tool_calls.map((t) => [t.muse_server, t.muse_box ?? null, t.muse_image ?? null, t.muse_crop ?? null, t.is_error]), [
    [true, null, null, null, false], [true, [16, 12, 48, 36], 0, [32, 24], false], [true, null, null, null, true], [true, null, null, null, false],
  ]);
  assert.equal(msg.tool_results.call_0, '132');
  // the next request carries the answer, not the server's calls
  await type('and then?');
  await idle();
  const history = server.lastRequest.messages;
  assert.equal(history.filter((m) => m.role === 'assistant').length, 1);
  assert.ok(history.every((m) => !('tool_calls' in m) && m.role !== 'tool'), 'no tool_calls, no tool messages');
  assert.ok(!('muse_tools' in server.lastRequest), 'on by default: nothing sent');
});

test('the built-in tools switch in Settings: persisted, sends muse_tools "off"', async () => {
  $('settings-btn').click();
  const box = $('muse-tools');
  assert.equal(box.checked, true);
  assert.equal(box.getAttribute('type'), 'checkbox');
  assert.equal(doc.querySelector('label[for="muse-tools"]').textContent.trim(), 'Built-in tools');
  box.checked = false;
  box.dispatchEvent(new Event('change'));
  assert.equal(JSON.parse(storage.getItem('muse.settings')).tools, 'off');
  $('settings-dialog').close();
  await type('builtin again');
  await idle();
  assert.equal(server.lastRequest.muse_tools, 'off');
  assert.equal(lastAssistant().querySelectorAll('.tool-card').length, 0);
  $('settings-btn').click();
  assert.equal($('muse-tools').checked, false, 'shown as saved');
  $('muse-tools').checked = true;
  $('muse-tools').dispatchEvent(new Event('change'));
  $('settings-dialog').close();
  assert.equal(JSON.parse(storage.getItem('muse.settings')).tools, 'on');
});

test('sub-agents: the spawned agents under the thinking, each with its task and answer; the switch in Settings', async () => {
  await type('subagents please');
  await idle();
  assert.equal(server.lastRequest.muse_spawn, 'on', 'on by default');
  const panel = lastAssistant().querySelector('.sub-agents');
  assert.ok(panel, 'a sub-agents panel');
  assert.match(panel.querySelector('summary').textContent, /2 sub-agents · 48 tokens · 0\.30 s/);
  const cards = panel.querySelectorAll('.agent');
  assert.equal(cards.length, 2);
  assert.match(cards[0].querySelector('.agent-task').textContent, /23\*41/);
  assert.match(cards[1].textContent, /1026/);
  assert.match(cards[1].textContent, /time 0\.11 s/);
  assert.doesNotMatch(cards[0].textContent, /confidence/, 'a sub-agent has no vote');
  assert.equal(lastAssistant().querySelectorAll('.synthesis-label').length, 0, 'not a Contemplating reply');
  $('settings-btn').click();
  assert.equal($('muse-spawn').checked, true);
  $('muse-spawn').checked = false;
  $('muse-spawn').dispatchEvent(new Event('change'));
  $('settings-dialog').close();
  assert.equal(JSON.parse(storage.getItem('muse.settings')).spawn, 'off');
  await type('subagents again');
  await idle();
  assert.ok(!('muse_spawn' in server.lastRequest));
  assert.equal(lastAssistant().querySelectorAll('.sub-agents').length, 0);
  $('settings-btn').click();
  $('muse-spawn').checked = true;
  $('muse-spawn').dispatchEvent(new Event('change'));
  $('settings-dialog').close();
});

test('Contemplating: every agent live, then the synthesis line, the winner highlighted, early stops marked', async () => {
  useContemplating = true;
  try {
    doc.querySelector('input[name="mode"][value="contemplating"]').click();
    assert.equal($('agents').value, '8', 'the default number of agents');
    assert.equal($('synthesis').value, 'confidence', 'the default synthesis');
    $('agents').value = '4';
    $('agents').dispatchEvent(new Event('change'));
    $('synthesis').value = 'online';
    $('synthesis').dispatchEvent(new Event('change'));
    const saved = JSON.parse(storage.getItem('muse.settings'));
    assert.deepEqual([saved.mode, saved.agents, saved.synthesis], ['contemplating', 4, 'online']);
    await type('47+85 together builtin');
    // live: one card per agent, streaming
    assert.ok(await until(() => lastAssistant()?.querySelectorAll('.agent.running').length >= 2), 'agents stream live');
    const panel = lastAssistant().querySelector('details.contemplation');
    assert.equal(panel.open, true);
    assert.match(panel.querySelector('summary').textContent, /Contemplating · \d of 4 agents done/);
    assert.ok(lastAssistant().querySelector('.agent .agent-thinking'), 'thinking shown as it streams');
    assert.equal(lastAssistant().querySelector('.synthesis-line'), null, 'no synthesis yet');
    assert.ok(await idle());
    assert.equal(contemplating.lastRequest.mode, 'contemplating');
    assert.equal(contemplating.lastRequest.muse_agents, 4);
    assert.equal(contemplating.lastRequest.muse_synthesis, 'online');
    assert.ok(!('agents' in contemplating.lastRequest) && !('synthesis' in contemplating.lastRequest));
    const a = lastAssistant();
    const agents = a.querySelectorAll('.agent');
    assert.equal(agents.length, 4);
    assert.equal(a.querySelectorAll('.agent.running').length, 0);
    assert.match(agents[0].textContent, /Agent 0.*finished.*confidence.*tokens.*vote counted/);
    assert.match(agents[0].querySelector('.agent-answer').textContent, /The sum is 132/);
    assert.match(agents[0].querySelector('.agent-final').textContent, /final answer: 132/);
    // the tool call agent 0 made, as a built-in card inside its card
    const card = agents[0].querySelector('.tool-card');
    assert.ok(card);
    assert.match(card.querySelector('summary').textContent, /calculator.*built-in.*done/);
    assert.ok(agents[2].classList.contains('stopped'));
    assert.match(agents[2].textContent, /stopped early: consensus reached/);
    assert.ok(agents[3].classList.contains('stopped'));
    assert.match(agents[3].textContent, /stopped early: low confidence.*vote not counted/);
    const winners = a.querySelectorAll('.agent.winner');
    assert.equal(winners.length, 1);
    assert.match(winners[0].getAttribute('aria-label'), /the winning answer/);
    assert.ok(winners[0].querySelector('.winner-badge'));
    const line = a.querySelector('.synthesis-line').textContent;
    assert.match(line, /^online · 4 agents · answer of agent \d · support \d+% · \d+ tokens · stopped at consensus · threshold 1\.2$/);
    assert.match(a.querySelector('details.thinking summary').textContent, /Thinking of agent \d \(the winning answer\)/);
    assert.ok(a.querySelector('.synthesis-label'));
    assert.equal(a.querySelectorAll('.bubble').at(-1).textContent, 'The sum is 132.');
    // the thinking of a finished agent is collapsed (scrollable when opened)
    assert.equal(agents[1].querySelector('details.agent-thinking-box').open, false);
    assert.equal(agents[1].querySelector('.agent-thinking').getAttribute('role'), 'region');
    // kept with the message, and sent back as role/content only
    const conv = JSON.parse(storage.getItem('muse.conversations')).conversations.find((c) => c.messages.some((m) => m.content === '47+85 together builtin'));
    const m = conv.messages.at(-1);
    assert.equal(m.mode, 'contemplating');
    assert.equal(m.agents.length, 4);
    assert.ok(m.agents.every((x) => !('toolSlots' in x)));
    assert.equal(m.contemplation.synthesis, 'online');
    assert.ok(!('agents' in m.contemplation));
    await type('and again');
    await idle();
    const history = contemplating.lastRequest.messages;
    assert.deepEqual(Object.keys(history[history.length - 2]).sort(), ['content', 'role']);
    // a saved conversation shows its agents when selected again
    $('new-chat').click();
    assert.equal(msgs().length, 0);
    $('conv-list').querySelectorAll('.conv-select').find((b) => b.getAttribute('title') === conv.title).click();
    const again = msgs('.msg.assistant').find((x) => x.querySelector('.synthesis-line'));
    assert.ok(again);
    assert.equal(again.querySelectorAll('.agent').length, 4);
    assert.equal(again.querySelectorAll('.agent.winner').length, 1);
  } finally {
    doc.querySelector('input[name="mode"][value="standard"]').click();
    useContemplating = false;
  }
});

test('Contemplating, not streamed: the agents panel from message.muse_contemplation', async () => {
  useWhole = true;
  try {
    doc.querySelector('input[name="mode"][value="contemplating"]').click();
    $('agents').value = '3';
    $('agents').dispatchEvent(new Event('change'));
    $('synthesis').value = 'vote';
    $('synthesis').dispatchEvent(new Event('change'));
    await type('47+85 at once');
    await idle();
    assert.equal(wholeMock.lastRequest.muse_synthesis, 'vote');
    const a = lastAssistant();
    const agents = a.querySelectorAll('.agent');
    assert.equal(agents.length, 3);
    assert.match(agents[0].querySelector('.agent-thinking').textContent, /Agent 0 on/);
    assert.match(agents[0].querySelector('.agent-answer').textContent, /^132$/, 'the summary answer when nothing streamed');
    assert.match(agents[2].textContent, /finished.*vote counted/);
    assert.match(agents[0].textContent, /confidence n\/a/, 'vote has no confidence');
    assert.equal(a.querySelectorAll('.agent.winner').length, 1);
    assert.match(a.querySelector('.synthesis-line').textContent, /^vote · 3 agents · answer of agent 0 · support 67% \(2 votes\)/);
    assert.equal(a.querySelectorAll('.bubble').at(-1).textContent, 'The sum is 132.');
    assert.equal(a.querySelector('.finish-note'), null, 'no "answered in Standard mode" note');
    // out-of-range agents are clamped in the control and the settings
    $('agents').value = '99';
    $('agents').dispatchEvent(new Event('change'));
    assert.equal($('agents').value, '64');
    assert.equal(JSON.parse(storage.getItem('muse.settings')).agents, 64);
  } finally {
    doc.querySelector('input[name="mode"][value="standard"]').click();
    useWhole = false;
  }
});

test('export and import; a bad file is refused with a clear message', async () => {
  const before = $('conv-list').querySelectorAll('li').length;
  const exported = globalThis.muse.store.exportJSON();
  const doc2 = JSON.parse(exported);
  doc2.conversations[0].id = 'imported-1';
  doc2.conversations[0].title = 'From a file';
  doc2.conversations[0].messages.push({ role: 'user', content: 'extra' });
  const input = $('import-file');
  input._files = [new File([JSON.stringify(doc2)], 'mine.json', { type: 'application/json' })];
  input.dispatchEvent(new Event('change'));
  assert.ok(await until(() => $('conv-list').querySelectorAll('li').length === before + 1));
  assert.ok($('conv-list').querySelectorAll('.conv-select').some((b) => b.textContent === 'From a file'));
  input._files = [new File(['{"conversations":[{"messages":[{"role":"robot"}]}]}'], 'bad.json')];
  input.dispatchEvent(new Event('change'));
  assert.ok(await until(() => /Import failed: bad\.json: conversations\[0\]\.messages\[0\]\.role/.test($('toasts').textContent)));
  assert.equal($('conv-list').querySelectorAll('li').length, before + 1);
});
