// A manual check of the page in headless Chromium over the DevTools protocol, against the mock server
// (mock_server.mjs). The automated browser test is tests/app/browser_test.sh (ctest app.browser: the real
// `muse serve` and the shipped model, through playwright-core); this one stays for what the real model cannot be
// made to do on demand: server errors shown in the conversation (a 400), regenerate and edit, Esc, a table preview,
// a client zoom box over the thumbnail, a spawn tree, built-in tool cards and agents stopped early ("online").
// It checks no console errors or exceptions, and saves a screenshot of each state. Not part of `node --test` (it
// needs a browser); Debian's `chromium` (scripts/setup.sh installs it) or `chromium-headless-shell`:
//
//   node --experimental-websocket tests/app/browser_check.mjs [--browser chromium] [--out /tmp/muse-app]
//
// (Node 22+ needs no flag.) Exit code 1 when a check fails.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMockServer } from './mock_server.mjs';

const arg = (name, fallback) => {
  const k = process.argv.indexOf(name);
  return k > 0 ? process.argv[k + 1] : fallback;
};
const BROWSER = arg('--browser', 'chromium');
const OUT = arg('--out', '/tmp/muse-app');
mkdirSync(OUT, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

const server = createMockServer({ contemplating: true, delay: 8 });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const APP = `http://127.0.0.1:${server.address().port}/`;

const port = 9300 + Math.floor(Math.random() * 500);
const browser = spawn(BROWSER, ['--headless', '--no-sandbox', '--disable-gpu', `--remote-debugging-port=${port}`,
  `--user-data-dir=${OUT}/profile`, '--window-size=1280,800', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
let version;
for (let i = 0; i < 100 && !version; i++) {
  await sleep(200);
  version = await fetch(`http://127.0.0.1:${port}/json/version`).then((r) => r.json()).catch(() => null);
}
if (!version) {
  console.error('the browser did not start');
  process.exit(2);
}
const target = await fetch(`http://127.0.0.1:${port}/json/new?about:blank`, { method: 'PUT' }).then((r) => r.json());
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((r) => ws.addEventListener('open', r));
let nextId = 1;
const waiting = new Map();
const problems = [];
ws.addEventListener('message', (e) => {
  const msg = JSON.parse(e.data);
  if (msg.id && waiting.has(msg.id)) {
    waiting.get(msg.id)(msg);
    waiting.delete(msg.id);
  } else if (msg.method === 'Runtime.exceptionThrown') {
    problems.push(`exception: ${msg.params.exceptionDetails.exception?.description ?? msg.params.exceptionDetails.text}`);
  } else if (msg.method === 'Runtime.consoleAPICalled' && (msg.params.type === 'error' || msg.params.type === 'warning')) {
    problems.push(`console.${msg.params.type}: ${msg.params.args.map((a) => a.value ?? a.description).join(' ')}`);
  } else if (msg.method === 'Log.entryAdded' && msg.params.entry.level === 'error') {
    problems.push(`log: ${msg.params.entry.text} ${msg.params.entry.url ?? ''}`);
  }
});
const cdp = (method, params = {}) =>
  new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, (msg) => (msg.error ? reject(new Error(`${method}: ${msg.error.message}`)) : resolve(msg.result)));
    ws.send(JSON.stringify({ id, method, params }));
  });
const evaluate = async (expression) => {
  const r = await cdp('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
  if (r.exceptionDetails) throw new Error(`${expression.slice(0, 80)}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
  return r.result.value;
};
// Polls in the page (every 10 ms), so short-lived states (a thinking panel open for 80 ms) are seen.
const waitFor = async (expression, ms = 15000) => {
  for (let t = 0; t < ms; t += 1000) {
    const ok = await evaluate(`new Promise((resolve) => { const t0 = performance.now();
      (function poll() { let v = false; try { v = !!(${expression}); } catch {}
        if (v) return resolve(true); if (performance.now() - t0 > 1000) return resolve(false); setTimeout(poll, 10); })(); })`).catch(() => false);
    if (ok) return true;
  }
  return false;
};
const shot = async (name) => {
  const { data } = await cdp('Page.captureScreenshot', { format: 'png' });
  writeFileSync(join(OUT, `${name}.png`), Buffer.from(data, 'base64'));
};
const type = (text) => evaluate(`(() => { const i = document.getElementById('composer-input'); i.value = ${JSON.stringify(text)};
  i.dispatchEvent(new Event('input')); i.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true})); return true; })()`);
const idle = () => waitFor(`document.getElementById('stop').hidden && !document.querySelector('.msg.assistant [aria-busy="true"]')`, 30000);

try {
  await cdp('Runtime.enable');
  await cdp('Log.enable');
  await cdp('Page.enable');
  await cdp('Emulation.setDeviceMetricsOverride', { width: 1280, height: 800, deviceScaleFactor: 1, mobile: false });
  await cdp('Page.navigate', { url: APP });
  check(await waitFor(`!!window.muse`), 'the app loads (window.muse)');
  await evaluate(`localStorage.clear(); location.reload(); true`);
  await sleep(500);
  check(await waitFor(`!!window.muse && document.getElementById('empty') && !document.getElementById('empty').hidden`), 'empty state after a clean start');
  await shot('01-empty');

  // a streamed answer: thinking open while streaming, then collapsed, stats, Markdown and math
  await type('What is 47+85?');
  check(await waitFor(`!!document.querySelector('.msg.assistant details.thinking[open]')`, 5000), 'thinking is open while streaming');
  await shot('02-streaming');
  check(await idle(), 'the stream ends');
  check(await evaluate(`!document.querySelector('.msg.assistant details.thinking').open`), 'thinking collapsed afterwards');
  check(await evaluate(`/tok\\/s/.test(document.querySelector('.msg.assistant .stats')?.textContent ?? '')`), 'stats with tokens/s');
  check(await evaluate(`!!document.querySelector('.msg.assistant table') && !!document.querySelector('.msg.assistant .math .frac') && !!document.querySelector('.copy-code')`), 'Markdown table, math and a code block');
  check(await evaluate(`!document.querySelector('.msg.assistant b b') && document.querySelector('.msg.assistant code').textContent.includes('<b>132</b>')`), 'HTML in code shown as text');
  check(await evaluate(`document.querySelectorAll('#conv-list li').length === 1 && document.getElementById('conv-title').textContent === 'What is 47+85?'`), 'the conversation is listed with its title');
  await shot('03-answer');

  // errors are shown in the conversation
  await type('please error');
  await idle();
  check(await evaluate(`/Error 400/.test(document.querySelector('.msg.assistant:last-child .error-box')?.textContent ?? '')`), 'a 400 shown in the conversation');

  // regenerate replaces the last answer; edit truncates
  const count = () => evaluate(`document.querySelectorAll('.msg').length`);
  const before = await count();
  await evaluate(`[...document.querySelectorAll('.msg.assistant:last-child button')].find(b => b.textContent === 'Regenerate').click(); true`);
  await idle();
  check((await count()) === before, 'regenerate keeps the message count');
  await evaluate(`document.querySelector('.msg.user .msg-actions button:last-child').click(); true`);
  check(await waitFor(`!!document.querySelector('.edit-box textarea')`), 'edit opens a box');
  await evaluate(`(() => { const t = document.querySelector('.edit-box textarea'); t.value = 'What is 2+2?'; document.querySelector('.edit-box .btn.primary').click(); return true; })()`);
  await idle();
  check((await count()) === 2, 'editing the first message drops what followed');

  // Answer now
  await type('think long please');
  check(await waitFor(`!document.getElementById('answer-now').hidden`, 5000), 'Answer now shows while thinking');
  await evaluate(`document.getElementById('answer-now').click(); true`);
  check(await idle(), 'answer now: the answer arrives');
  check(await evaluate(`/answered early/.test(document.querySelector('.msg.assistant:last-child').textContent)`), 'answer now noted');

  // Stop with Esc
  await type('long again');
  await waitFor(`!document.getElementById('stop').hidden`);
  await sleep(300);
  await evaluate(`document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true})); true`);
  check(await idle(), 'Esc stops');
  check(await evaluate(`/stopped by you/.test(document.querySelector('.msg.assistant:last-child').textContent)`), 'stop noted');

  // an image, a zoom box, a spawn tree, a table
  await evaluate(`(async () => { const c = document.createElement('canvas'); c.width = 64; c.height = 48; const g = c.getContext('2d');
    g.fillStyle = '#4a8'; g.fillRect(0, 0, 64, 48); g.fillStyle = '#fff'; g.fillText('7', 20, 26);
    const blob = await new Promise(r => c.toBlob(r, 'image/png'));
    await window.muse.addFiles([new File([blob], 'digit.png', {type: 'image/png'})]); return true; })()`);
  check(await evaluate(`document.querySelectorAll('#attachments .att.image img').length === 1`), 'image thumbnail in the composer');
  await evaluate(`(async () => { await window.muse.addFiles([new File(['item,price\\napple,3\\npear,5\\n'], 'prices.csv', {type: 'text/csv'})]); return true; })()`);
  check(await evaluate(`!!document.querySelector('#attachments .table-preview table')`), 'table preview in the composer');
  await shot('04-attachments');
  await type('zoom and spawn please');
  await idle();
  check(await evaluate(`!!document.querySelector('.msg.user .thumb .zoom-box')`), 'the zoom box over the thumbnail');
  check(await evaluate(`document.querySelectorAll('.tool-card .tool-children .tool-card').length >= 2`), 'spawn calls nested');
  await evaluate(`document.querySelectorAll('.tool-card').forEach(d => d.open = true); true`);
  await shot('05-tools');

  // Contemplating
  await evaluate(`document.querySelector('input[name=mode][value=contemplating]').click(); true`);
  check(await evaluate(`getComputedStyle(document.getElementById('agents')).display !== 'none'`), 'agents control shown in Contemplating');
  await evaluate(`(() => { const a = document.getElementById('agents'); a.value = '4'; a.dispatchEvent(new Event('change'));
    const s = document.getElementById('synthesis'); s.value = 'online'; s.dispatchEvent(new Event('change')); return true; })()`);
  await type('Contemplate 47+85 builtin');
  check(await waitFor(`document.querySelectorAll('.agent.running').length === 4`, 8000), 'four agents live');
  await shot('06-agents-live');
  await idle();
  check(await evaluate(`/stopped early/.test(document.querySelector('.agent.stopped')?.textContent ?? '')`), 'a stopped agent marked');
  check(await evaluate(`document.querySelectorAll('.agent.winner').length === 1 && /answer of agent/.test(document.querySelector('.synthesis-line')?.textContent ?? '')`), 'the winner and the synthesis line');
  await shot('07-agents');
  await evaluate(`document.querySelector('input[name=mode][value=standard]').click(); true`);

  // reload: conversations survive
  await evaluate(`location.reload(); true`);
  await sleep(800);
  check(await waitFor(`document.querySelectorAll('.msg').length > 4`), 'the conversation survives a reload');

  // dark theme and the phone layout
  await cdp('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: 'dark' }] });
  await sleep(200);
  check(await evaluate(`getComputedStyle(document.body).backgroundColor !== 'rgb(255, 255, 255)'`), 'dark theme from prefers-color-scheme');
  await shot('08-dark');
  await cdp('Emulation.setDeviceMetricsOverride', { width: 390, height: 844, deviceScaleFactor: 2, mobile: true });
  await sleep(300);
  check(await evaluate(`getComputedStyle(document.getElementById('menu-btn')).display !== 'none' && document.getElementById('sidebar').getBoundingClientRect().right <= 0`), 'phone: the sidebar is a hidden drawer');
  check(await evaluate(`document.documentElement.scrollWidth <= 390`), 'phone: no horizontal scroll');
  await shot('09-phone');
  await evaluate(`document.getElementById('menu-btn').click(); true`);
  await sleep(400);
  check(await evaluate(`document.getElementById('sidebar').getBoundingClientRect().left >= 0`), 'phone: the drawer opens');
  await shot('10-phone-drawer');
  await cdp('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: 'light' }] });
  await evaluate(`document.getElementById('backdrop').click(); true`);
  await sleep(300);
  await shot('11-phone-light');
} catch (e) {
  check(false, `the check broke: ${e.message}`);
}

const real = problems.filter((p) => !/Failed to load resource: the server responded with a status of 400/.test(p));
check(real.length === 0, `no console errors or exceptions${real.length ? ':\n  ' + real.join('\n  ') : ''}`);
ws.close();
browser.kill();
server.close();
console.log(`screenshots in ${OUT}`);
process.exit(failures.length ? 1 : 0);
