// The Muse app's page: DOM glue over the pure modules (store, api, sse, markdown, table, view). Every piece of
// model or user text reaches the page through textContent, or through renderMarkdown/renderMath (which escape
// it); nothing else is ever assigned to innerHTML.

import { createStore, loadSettings, saveSettings, titleFrom } from './store.js';
import {
  ApiError, answerNow, buildRequest, createTurn, describeError, estimateTokens, listModels, storedAgents, streamChat,
  toolTree, turnStats,
} from './api.js';
import { renderMarkdown } from './markdown.js';
import { looksLikeTable, tableAttachment } from './table.js';
import {
  agentFinalAnswer, agentStatus, agentsProgress, formatStats, prettyArguments, synthesisLine, toolCardState, toolResults,
  zoomInfo, zoomOverlays,
} from './view.js';

// ---------------------------------------------------------------- state

function safeStorage() {
  try {
    const k = '__muse_probe__';
    localStorage.setItem(k, '1');
    localStorage.removeItem(k);
    return localStorage;
  } catch {
    const mem = new Map();
    return {
      getItem: (k) => (mem.has(k) ? mem.get(k) : null),
      setItem: (k, v) => mem.set(k, String(v)),
      removeItem: (k) => mem.delete(k),
    };
  }
}

const storage = safeStorage();
const store = createStore(storage);
store.load();
let settings = loadSettings(storage);
let currentId = null;
let pending = []; // attachments of the message being written
let live = null; // {convId, msgId, controller, turn, startedAt, answerNowSent, requested (Contemplating: muse_agents)}
let editing = null; // id of the user message being edited
const openState = new Map(); // msgId -> thinking <details> open, as the user left it
const MAX_BODY = 16 << 20; // muse serve's default body limit

const $ = (id) => document.getElementById(id);
const els = {
  sidebar: $('sidebar'), backdrop: $('backdrop'), convList: $('conv-list'), newChat: $('new-chat'),
  exportBtn: $('export-btn'), importBtn: $('import-btn'), importFile: $('import-file'), settingsBtn: $('settings-btn'),
  themeBtn: $('theme-btn'), menuBtn: $('menu-btn'), title: $('conv-title'), modelBadge: $('model-badge'),
  log: $('log'), empty: $('empty'), messages: $('messages'), composer: $('composer'), input: $('composer-input'),
  attachments: $('attachments'), attachImage: $('attach-image'), attachTable: $('attach-table'), imageFile: $('image-file'),
  send: $('send'), stop: $('stop'), answerNow: $('answer-now'), dropHint: $('drop-hint'),
  agents: $('agents'), synthesis: $('synthesis'), effort: $('effort'), budget: $('budget'), budgetWrap: $('budget-wrap'),
  temperature: $('temperature'), settingsDialog: $('settings-dialog'), apiKey: $('api-key'), model: $('model'),
  refreshModels: $('refresh-models'), modelsNote: $('models-note'), system: $('system-prompt'), maxTokens: $('max-tokens'),
  museTools: $('muse-tools'), museSpawn: $('muse-spawn'),
  tableDialog: $('table-dialog'), tableText: $('table-text'), tableFile: $('table-file'), tableError: $('table-error'),
  tableOk: $('table-ok'), tableCancel: $('table-cancel'), toasts: $('toasts'), srLive: $('sr-live'),
};

// ---------------------------------------------------------------- small DOM helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'html') el.innerHTML = v; // only ever renderMarkdown output
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

function toast(text, { error = false, action = null, timeout = error ? 9000 : 4000 } = {}) {
  const el = h('div', { class: `toast${error ? ' error' : ''}`, role: error ? 'alert' : null }, text);
  if (action) {
    el.append(' ', h('button', { type: 'button', class: 'btn small', onclick: () => { action.fn(); el.remove(); } }, action.label));
  }
  els.toasts.append(el);
  setTimeout(() => el.remove(), timeout);
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = h('textarea', { style: { position: 'fixed', opacity: '0' } });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

// Screen readers: the streaming bubble is aria-busy while it changes; the finished answer is read from here.
function announce(text) {
  els.srLive.textContent = '';
  setTimeout(() => (els.srLive.textContent = text.length > 2000 ? text.slice(0, 2000) + '…' : text), 50);
}

function persist() {
  const r = store.save();
  if (!r.ok) toast(`Could not save: ${r.error?.message ?? r.error}`, { error: true });
  else if (r.note) toast(r.note, { error: true });
}

const current = () => (currentId ? store.get(currentId) : null);

// ---------------------------------------------------------------- sidebar

function renderSidebar() {
  els.convList.replaceChildren(
    ...store.list().map((c) => {
      const li = h('li', { class: `conv-item${c.id === currentId ? ' current' : ''}`, 'data-id': c.id });
      const select = h('button', {
        type: 'button', class: 'conv-select', 'aria-current': c.id === currentId ? 'page' : null, title: c.title,
        onclick: () => selectConversation(c.id),
      }, c.title);
      const rename = h('button', { type: 'button', class: 'btn link', 'aria-label': `Rename “${c.title}”`, title: 'Rename', onclick: () => startRename(li, c) }, '✎');
      const del = h('button', { type: 'button', class: 'btn link', 'aria-label': `Delete “${c.title}”`, title: 'Delete', onclick: () => deleteConversation(c) }, '×');
      li.append(select, h('span', { class: 'conv-actions' }, rename, del));
      return li;
    }),
  );
}

function startRename(li, c) {
  const input = h('input', { class: 'rename', 'aria-label': 'New name', value: c.title });
  let done = false;
  const finish = (save) => {
    if (done) return;
    done = true;
    if (save && input.value.trim()) {
      store.rename(c.id, input.value);
      persist();
    }
    renderSidebar();
    renderHeader();
    els.convList.querySelector(`[data-id="${CSS.escape(c.id)}"] .conv-select`)?.focus();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') finish(true);
    if (e.key === 'Escape') {
      e.stopPropagation();
      finish(false);
    }
  });
  input.addEventListener('blur', () => finish(true));
  li.replaceChildren(input);
  input.focus();
  input.select();
}

function deleteConversation(c) {
  if (!confirm(`Delete “${c.title}”? This cannot be undone (export first to keep a copy).`)) return;
  if (live?.convId === c.id) stopStreaming();
  store.remove(c.id);
  persist();
  if (currentId === c.id) currentId = store.list()[0]?.id ?? null;
  renderAll();
}

function selectConversation(id) {
  currentId = id;
  editing = null;
  closeDrawer();
  renderAll();
  els.input.focus();
}

function newConversation() {
  currentId = null;
  editing = null;
  closeDrawer();
  renderAll();
  els.input.focus();
}

// ---------------------------------------------------------------- messages

function renderHeader() {
  const c = current();
  const title = c?.title ?? 'New chat';
  els.title.textContent = title;
  document.title = `${title} · Muse`;
}

function renderAll() {
  renderSidebar();
  renderHeader();
  renderMessages();
  renderComposerState();
}

function nearBottom() {
  const l = els.log;
  return l.scrollHeight - l.scrollTop - l.clientHeight < 80;
}
function scrollToBottom() {
  els.log.scrollTop = els.log.scrollHeight;
}

function renderMessages() {
  const c = current();
  const messages = c?.messages ?? [];
  els.empty.hidden = messages.length > 0;
  const overlays = zoomOverlays(messages);
  const lastAssistant = [...messages].reverse().find((m) => m.role === 'assistant');
  els.messages.replaceChildren(
    ...messages
      .filter((m) => m.role !== 'tool') // shown inside the cards of the calls they answer
      .map((m) => renderMessage(c, m, { overlays, isLast: m === lastAssistant })),
  );
  scrollToBottom();
}

function renderMessage(conv, m, { overlays, isLast }) {
  if (m.role === 'user') return renderUser(conv, m, overlays);
  if (m.role === 'assistant') return renderAssistant(conv, m, isLast);
  return h('article', { class: `msg ${m.role}`, 'data-id': m.id, 'aria-label': m.role },
    h('div', { class: 'bubble' }, h('b', {}, `${m.role}: `), m.content ?? ''));
}

function renderAttachment(att, { overlays = [], onRemove = null } = {}) {
  const name = att.name || (att.kind === 'image' ? 'image' : 'table');
  const li = h('li', { class: `att ${att.kind}` });
  if (att.kind === 'image') {
    if (att.url) {
      const thumb = h('span', { class: 'thumb' }, h('img', { src: att.url, alt: name, loading: 'lazy' }));
      for (const b of overlays)
        thumb.append(h('span', { class: 'zoom-box', title: 'zoom', style: { left: `${b.left}%`, top: `${b.top}%`, width: `${b.width}%`, height: `${b.height}%` } }));
      li.append(thumb);
    } else {
      li.append(h('span', { class: 'dropped' }, 'image not kept (browser storage was full)'));
    }
    li.append(h('span', { class: 'att-name', title: att.width ? `${name} · ${att.width}×${att.height}` : name },
      att.width ? `${name} · ${att.width}×${att.height}` : name));
  } else {
    li.append(tablePreview(att));
    li.append(h('span', { class: 'att-name' }, `${name} · ${att.rows?.length ?? '?'} rows × ${att.columns?.length ?? '?'} columns · ${att.format.toUpperCase()}`));
    for (const p of att.problems ?? []) li.append(h('div', { class: 'att-problems' }, `⚠ ${p}`));
  }
  if (onRemove) li.append(h('button', { type: 'button', class: 'att-remove', 'aria-label': `Remove ${name}`, title: 'Remove', onclick: onRemove }, '×'));
  return li;
}

function tablePreview(att) {
  let { columns = [], rows = [] } = att;
  if (!att.columns) {
    try {
      ({ columns, rows } = tableAttachment(att.format === 'json' ? JSON.stringify(att.json) : att.csv, att.format === 'json' ? 't.json' : 't.csv'));
    } catch {
      /* shown without a preview */
    }
  }
  const shown = rows.slice(0, 8);
  const wrap = h('div', { class: 'table-preview', tabindex: '0', role: 'region', 'aria-label': `Preview of ${att.name || 'the table'}` },
    h('table', {},
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, shown.map((r) => h('tr', {}, r.map((cell) => h('td', {}, cell)))))));
  if (rows.length > shown.length) wrap.append(h('div', { class: 'att-more' }, `… ${rows.length - shown.length} more rows`));
  return wrap;
}

function renderUser(conv, m, overlays) {
  const el = h('article', { class: 'msg user', 'data-id': m.id, 'aria-label': 'You' });
  const atts = m.attachments ?? [];
  if (atts.length)
    el.append(h('ul', { class: 'attachments', 'aria-label': 'Attachments' },
      atts.map((a, k) => renderAttachment(a, { overlays: overlays[`${m.id}:${k}`] ?? [] }))));
  if (editing === m.id) {
    const ta = h('textarea', { 'aria-label': 'Edit the message' });
    ta.value = m.content ?? '';
    const save = () => {
      if (!ta.value.trim() && !(m.attachments ?? []).length) return;
      editing = null;
      store.editMessage(conv.id, m.id, ta.value);
      persist();
      renderAll();
      runTurn(conv.id);
    };
    const cancel = () => {
      editing = null;
      renderMessages();
    };
    ta.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        save();
      } else if (e.key === 'Escape') {
        e.stopPropagation();
        cancel();
      }
    });
    el.append(h('div', { class: 'edit-box' }, ta, h('div', { class: 'row' },
      h('button', { type: 'button', class: 'btn', onclick: cancel }, 'Cancel'),
      h('button', { type: 'button', class: 'btn primary', onclick: save }, 'Save & send'))));
    queueMicrotask(() => ta.focus());
    return el;
  }
  if (m.content) el.append(h('div', { class: 'bubble' }, m.content));
  el.append(h('div', { class: 'msg-actions' },
    h('button', { type: 'button', class: 'btn link', onclick: () => copyText(m.content ?? '').then((ok) => toast(ok ? 'Copied' : 'Could not copy')) }, 'Copy'),
    h('button', {
      type: 'button', class: 'btn link', disabled: !!live, title: 'Edit and resend: the messages after it are dropped',
      onclick: () => { editing = m.id; renderMessages(); },
    }, 'Edit')));
  return el;
}

// What an assistant message shows: the stored fields, or the live turn while it streams.
function assistantView(m) {
  if (live && live.msgId === m.id) {
    const t = live.turn;
    return { live: true, phase: t.phase, reasoning: t.reasoning, content: t.content, tool_calls: t.tool_calls,
      tool_results: t.tool_results, agents: t.agents, contemplation: t.contemplation, tree: t.tree, requested: live.requested,
      error: t.error, stats: null, usage: t.usage, reasoningChunks: t.reasoningChunks, contentChunks: t.contentChunks,
      agentChunks: t.agentChunks, firstTokenAt: t.firstTokenAt };
  }
  return { live: false, phase: 'done', ...m, requested: m.contemplation?.agents_requested ?? null };
}

function renderAssistant(conv, m, isLast) {
  const v = assistantView(m);
  const el = h('article', { class: 'msg assistant', 'data-id': m.id, 'aria-label': 'Muse' });
  // Sub-agents (Standard): the reply is the root agent; the agents it spawned come after its thinking
  const spawned = !v.contemplation && (!!v.tree || (v.agents ?? []).some((a) => Number.isInteger(a?.parent)));
  // Contemplating: every agent, the synthesis line, then the synthesized answer (with the winner's thinking)
  if (!spawned && (v.agents?.length || v.contemplation)) {
    el.append(renderAgents(conv, m, v));
    if (v.reasoning || v.content || !v.live) el.append(h('div', { class: 'synthesis-label' }, 'Synthesis'));
  }
  if (v.reasoning) el.append(renderThinking(m.id, v));
  if (v.tool_calls?.length) el.append(renderTools(conv, m, v));
  if (spawned) el.append(renderSubAgents(conv, m, v));
  const answer = h('div', { class: 'bubble md', html: renderMarkdown(v.content ?? '') });
  if (v.live) {
    answer.setAttribute('aria-live', 'polite');
    answer.setAttribute('aria-busy', 'true');
    if (v.phase === 'answering') answer.append(h('span', { class: 'cursor', 'aria-hidden': 'true' }));
    if (v.phase === 'waiting' && !v.reasoning && !v.agents?.length)
      answer.append(h('span', { class: 'waiting' }, 'Waiting for the model…'));
  }
  el.append(answer);
  if (v.live && v.firstTokenAt !== null) {
    const n = v.reasoningChunks + v.contentChunks + (v.agentChunks ?? 0);
    const secs = (performance.now() - v.firstTokenAt) / 1000;
    const rate = secs > 0.2 && n > 1 ? ` · ${((n - 1) / secs).toFixed(1)} tok/s` : '';
    const all = v.agentChunks ? ' (all agents)' : '';
    el.append(h('div', { class: 'msg-actions' }, h('span', { class: 'stats' }, `${n} tokens${all}${rate}`)));
  }
  if (v.error) el.append(renderError(v.error));
  if (!v.live) {
    const notes = [];
    if (m.aborted) notes.push('stopped by you');
    if (m.incomplete) notes.push('the stream ended before it finished');
    if (m.finish_reason === 'length') notes.push('cut off at the token limit');
    if (m.answered_now) notes.push('answered early (Answer now)');
    if (m.mode === 'contemplating' && !m.error && !m.agents?.length && !m.contemplation && !m.aborted)
      notes.push('no agents came back: the server answered in Standard mode');
    const actions = h('div', { class: 'msg-actions' });
    const stats = formatStats(m.stats);
    if (stats.length)
      actions.append(h('span', { class: 'stats', 'aria-label': 'Statistics' },
        stats.map((s) => h('span', { title: s.title ?? null }, `${s.label} `, h('b', {}, s.value)))));
    if (notes.length) actions.append(h('span', { class: 'finish-note' }, notes.join(' · ')));
    if (m.content)
      actions.append(h('button', { type: 'button', class: 'btn link', onclick: () => copyText(m.content).then((ok) => toast(ok ? 'Copied' : 'Could not copy')) }, 'Copy'));
    if (isLast)
      actions.append(h('button', { type: 'button', class: 'btn link', disabled: !!live, onclick: () => regenerate(conv.id) }, 'Regenerate'));
    el.append(actions);
  }
  return el;
}

function renderThinking(msgId, v) {
  const liveThinking = v.live && (v.phase === 'thinking' || v.phase === 'waiting');
  const open = liveThinking;
  const tokens = v.usage?.completion_tokens_details?.reasoning_tokens ?? v.stats?.reasoning_tokens ?? null;
  const count = tokens ?? (v.reasoningChunks || estimateTokens(v.reasoning));
  const approx = tokens === null ? '~' : '';
  let label;
  if (liveThinking) {
    const secs = v.firstTokenAt !== null && v.firstTokenAt !== undefined ? (performance.now() - v.firstTokenAt) / 1000 : 0;
    label = `Thinking… ${approx}${count} tokens${secs >= 1 ? ` · ${secs.toFixed(0)} s` : ''}`;
  }
  else if (v.contemplation) {
    // Contemplating: the synthesis's thinking is the winning agent's
    const w = Number.isInteger(v.contemplation.winner) ? v.agents?.find((a) => a?.index === v.contemplation.winner) : null;
    const n = Number.isFinite(w?.thinking_tokens) ? `${w.thinking_tokens}` : `~${estimateTokens(v.reasoning)}`;
    label = w ? `Thinking of agent ${w.index} (the winning answer) · ${n} tokens` : `Thinking · ${n} tokens`;
  }
  else if (v.stats?.thinking_ms) label = `Thought for ${(v.stats.thinking_ms / 1000).toFixed(1)} s · ${approx}${count} tokens`;
  else label = `Thinking · ${approx}${count} tokens`;
  return keepOpen(msgId, open,
    h('details', { class: 'thinking' },
      h('summary', {}, liveThinking ? h('span', { class: 'live-dot', 'aria-hidden': 'true' }) : null, label),
      h('div', { class: 'thinking-text' }, v.reasoning)));
}

// A <details> that stays as the user left it across the live re-renders (openState[key]); `open` otherwise.
function keepOpen(key, open, details) {
  const remembered = openState.get(key);
  details.open = remembered !== undefined ? remembered : open;
  const initial = details.open;
  details.addEventListener('toggle', () => {
    if (details.open !== initial || openState.has(key)) openState.set(key, details.open);
  });
  return details;
}

// Contemplating: one card per agent (live while streaming), in a collapsible panel, then the synthesis line.
function renderAgents(conv, m, v) {
  const c = v.contemplation ?? null;
  const winner = Number.isInteger(c?.winner) ? c.winner : null;
  const agents = (v.agents ?? []).filter(Boolean);
  const running = v.live && !c;
  const head = running ? `Contemplating · ${agentsProgress(agents, v.requested)}` : `${agents.length} agent${agents.length === 1 ? '' : 's'}`;
  const panel = keepOpen(`${m.id}:agents`, true,
    h('details', { class: 'contemplation' },
      h('summary', {}, running ? h('span', { class: 'live-dot', 'aria-hidden': 'true' }) : null, head),
      h('div', { class: 'agents', role: 'group', 'aria-label': 'Contemplating agents' },
        agents.map((a) => renderAgent(conv, m, v, a, winner)))));
  const wrap = h('div', { class: 'contemplation-wrap' }, panel);
  if (c) wrap.append(h('div', { class: 'synthesis-line', role: 'note', 'aria-label': 'Synthesis' }, synthesisLine(c)));
  return wrap;
}

// Sub-agents: one card per agent the reply spawned (its task, thinking, tools and answer), live while streaming.
function renderSubAgents(conv, m, v) {
  const agents = (v.agents ?? []).filter(Boolean);
  const done = agents.filter((a) => a.done).length;
  const running = v.live && !v.tree;
  const n = `${agents.length} sub-agent${agents.length === 1 ? '' : 's'}`;
  const head = running ? `Sub-agents · ${done} of ${agents.length} done` : [n, ...treeLine(v.tree)].join(' · ');
  return keepOpen(`${m.id}:agents`, true,
    h('details', { class: 'contemplation sub-agents' },
      h('summary', {}, running ? h('span', { class: 'live-dot', 'aria-hidden': 'true' }) : null, head),
      h('div', { class: 'agents', role: 'group', 'aria-label': 'Sub-agents' },
        agents.map((a) => renderAgent(conv, m, v, a, null)))));
}

// The tree's totals: "312 tokens", "0.41 s", "stopped by the time limit", "1 spawn refused".
function treeLine(t) {
  if (!t) return [];
  const parts = [];
  if (Number.isFinite(t.tokens)) parts.push(`${t.tokens} tokens`);
  if (Number.isFinite(t.seconds)) parts.push(`${t.seconds.toFixed(2)} s`);
  if (t.timed_out) parts.push('stopped by the time limit');
  if (t.refused_spawns > 0) parts.push(`${t.refused_spawns} spawn${t.refused_spawns === 1 ? '' : 's'} refused`);
  return parts;
}

function renderAgent(conv, m, v, a, winner) {
  const st = agentStatus(a, { live: v.live, winner });
  const running = v.live && !a.done;
  const cls = ['agent', st.winner && 'winner', st.early && 'stopped', st.failed && 'failed', running && 'running'].filter(Boolean).join(' ');
  const content = a.content || a.answer || '';
  const final = a.content ? agentFinalAnswer(a) : '';
  const thinkingTokens = Number.isFinite(a.thinking_tokens) ? `${a.thinking_tokens}` : `~${estimateTokens(a.reasoning)}`;
  return h('section', { class: cls, 'data-agent': String(a.index), 'aria-label': `${st.title}${st.winner ? ' (the winning answer)' : ''}: ${st.state}` },
    h('div', { class: 'agent-head' },
      h('b', {}, st.title),
      st.winner ? h('span', { class: 'agent-badge winner-badge' }, 'winner') : null,
      h('span', { class: 'agent-state' }, st.state)),
    a.task ? h('div', { class: 'agent-task' }, 'task: ', h('code', {}, a.task)) : null,
    st.facts.length
      ? h('div', { class: 'agent-facts' }, st.facts.map((f) => h('span', { title: f.title ?? null }, `${f.label} `, h('b', {}, f.value))))
      : null,
    a.reasoning
      ? keepOpen(`${m.id}:agent:${a.index}`, running && !a.content,
        h('details', { class: 'agent-thinking-box' },
          h('summary', {}, `thinking · ${thinkingTokens} tokens`),
          h('div', { class: 'agent-thinking', tabindex: '0', role: 'region', 'aria-label': `Thinking of agent ${a.index}` }, a.reasoning)))
      : null,
    a.tool_calls?.length
      ? renderTools(conv, m, { live: running, tool_calls: a.tool_calls, tool_results: a.tool_results ?? {} }, `${m.id}:agent:${a.index}:tool`)
      : null,
    content ? h('div', { class: 'agent-answer md', html: renderMarkdown(content) }) : null,
    final ? h('div', { class: 'agent-final' }, 'final answer: ', h('b', {}, final)) : null);
}

function renderTools(conv, m, v, keyPrefix = `${m.id}:tool`) {
  const results = { ...toolResults(conv.messages, m.id), ...(v.tool_results ?? {}) };
  const card = (node) => {
    const { call, result, children } = node;
    const { name, kind, state, error } = toolCardState(call, result, v.live);
    const body = h('div', { class: 'tool-body' },
      h('div', { class: 'label' }, 'arguments'), h('pre', {}, prettyArguments(call.function?.arguments)));
    if (name === 'zoom') {
      const z = zoomInfo(conv.messages, m.id, call);
      if (z?.caption) body.append(h('div', { class: 'tool-zoom-caption' }, z.caption));
      if (z?.att?.url)
        body.append(h('div', { class: 'tool-zoom thumb' }, h('img', { src: z.att.url, alt: `zoom on ${z.att.name || 'the image'}` }),
          h('span', { class: 'zoom-box', style: { left: `${z.box.left}%`, top: `${z.box.top}%`, width: `${z.box.width}%`, height: `${z.box.height}%` } })));
    }
    if (result !== null)
      body.append(h('div', { class: 'label' }, error ? 'error' : 'result'),
        h('pre', { class: error ? 'tool-error' : null }, prettyArguments(result)));
    if (children.length) body.append(h('div', { class: 'tool-children', role: 'group', 'aria-label': `calls of ${name}` }, children.map(card)));
    return keepOpen(`${keyPrefix}:${call.id}`, false, h('details', { class: `tool-card${error ? ' error' : ''}` },
      h('summary', {}, h('span', { class: 'tool-name' }, name), h('span', { class: 'tool-kind', title: kind === 'built-in' ? 'run by the server' : null }, kind),
        h('span', { class: 'tool-state' }, state)),
      body));
  };
  return h('div', { class: 'tools', 'aria-label': 'Tool calls' }, toolTree(v.tool_calls, results).map(card));
}

function renderError(err) {
  const d = describeError(err);
  return h('div', { class: 'error-box', role: 'alert' },
    h('div', { class: 'error-head' }, d.head),
    h('div', {}, d.message),
    d.details.length ? h('div', { class: 'error-details' }, d.details.join(' · ')) : null,
    d.hint ? h('div', { class: 'error-hint' }, d.hint) : null);
}

// Re-renders only the streaming message, at most once a frame.
let frame = 0;
function scheduleLive() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    if (!live || live.convId !== currentId) return;
    const old = els.messages.querySelector(`[data-id="${CSS.escape(live.msgId)}"]`);
    const conv = current();
    const m = conv?.messages.find((x) => x.id === live.msgId);
    if (!old || !m) return;
    const stick = nearBottom();
    const atBottom = (el) => !el || el.scrollHeight - el.scrollTop - el.clientHeight < 20;
    const thinkingScroll = old.querySelector('.thinking-text');
    const keepThinkingBottom = atBottom(thinkingScroll);
    // Contemplating: the agents grid keeps its scroll, each agent's thinking follows its end unless scrolled up
    const grid = old.querySelector('.agents');
    const gridTop = grid ? grid.scrollTop : 0;
    const agentScroll = new Map();
    for (const el of old.querySelectorAll('.agent')) {
      const box = el.querySelector('.agent-thinking');
      if (box && !atBottom(box)) agentScroll.set(el.getAttribute('data-agent'), box.scrollTop);
    }
    const fresh = renderAssistant(conv, m, false);
    old.replaceWith(fresh);
    const t = fresh.querySelector('.thinking-text');
    if (t && keepThinkingBottom) t.scrollTop = t.scrollHeight;
    const freshGrid = fresh.querySelector('.agents');
    if (freshGrid) freshGrid.scrollTop = gridTop;
    for (const el of fresh.querySelectorAll('.agent')) {
      const box = el.querySelector('.agent-thinking');
      if (!box) continue;
      const k = el.getAttribute('data-agent');
      box.scrollTop = agentScroll.has(k) ? agentScroll.get(k) : box.scrollHeight;
    }
    if (stick) scrollToBottom();
    renderComposerState();
  });
}

// ---------------------------------------------------------------- sending

function renderComposerState() {
  const streaming = !!live;
  els.send.hidden = streaming;
  els.stop.hidden = !streaming;
  const thinking = streaming && live.turn.id && (live.turn.phase === 'thinking' || live.turn.phase === 'waiting') && !live.answerNowSent;
  els.answerNow.hidden = !thinking;
  els.composer.classList.toggle('contemplating', settings.mode === 'contemplating');
}

async function send() {
  if (live) return;
  const text = els.input.value;
  if (!text.trim() && pending.length === 0) return;
  let conv = current();
  if (!conv) {
    conv = store.create();
    currentId = conv.id;
  }
  store.addMessage(conv.id, { role: 'user', content: text.trim() ? text : '', attachments: pending.length ? pending : undefined });
  pending = [];
  els.input.value = '';
  autosize();
  renderAttachments();
  persist();
  renderAll();
  await runTurn(conv.id);
}

async function regenerate(convId) {
  if (live) return;
  if (!store.dropLastAnswer(convId)) return;
  persist();
  renderAll();
  await runTurn(convId);
}

async function runTurn(convId) {
  const conv = store.get(convId);
  if (!conv || live) return;
  const history = conv.messages.slice();
  const body = buildRequest(settings, history);
  const size = new Blob([JSON.stringify(body)]).size;
  const assistant = store.addMessage(convId, { role: 'assistant', content: '', pending: true, mode: settings.mode });
  if (size > MAX_BODY) {
    store.updateMessage(convId, assistant.id, {
      pending: false,
      error: { status: 413, message: `the request would be ${(size / 1048576).toFixed(1)} MiB; muse serve accepts 16 MiB by default`, type: 'invalid_request_error', code: 'request_too_large' },
    });
    persist();
    renderAll();
    return;
  }
  const controller = new AbortController();
  const clock = () => performance.now();
  live = { convId, msgId: assistant.id, controller, turn: createTurn(), startedAt: clock(), answerNowSent: false,
    requested: body.muse_agents ?? null };
  renderAll();
  announce('Muse is thinking');
  const fields = { pending: false };
  try {
    await streamChat({
      apiKey: settings.apiKey, body, signal: controller.signal, now: clock, turn: live.turn,
      onUpdate: () => scheduleLive(),
    });
  } catch (e) {
    fields.error = e instanceof ApiError ? e.toJSON() : { status: 0, message: String(e?.message ?? e) };
  }
  const t = live.turn;
  Object.assign(fields, {
    content: t.content, reasoning: t.reasoning || undefined,
    agents: t.agents.length ? storedAgents(t.agents) : undefined, contemplation: t.contemplation ?? undefined,
    tree: t.tree ?? undefined,
    tool_calls: t.tool_calls.length ? t.tool_calls : undefined,
    tool_results: Object.keys(t.tool_results).length ? t.tool_results : undefined,
    usage: t.usage ?? undefined, timings: t.timings ?? undefined, finish_reason: t.finish_reason ?? undefined,
    request_id: t.id ?? undefined, aborted: t.aborted || undefined, incomplete: t.incomplete || undefined,
    answered_now: live.answerNowSent || undefined,
  });
  if (t.error && !fields.error) fields.error = t.error;
  if (!fields.error || t.content || t.reasoning) fields.stats = turnStats(t, live.startedAt, clock());
  store.updateMessage(convId, assistant.id, fields);
  live = null;
  announce(fields.error ? `Error: ${fields.error.message}` : t.content ? `Muse: ${t.content}` : 'Muse stopped');
  persist();
  if (currentId === convId) renderAll();
  else renderSidebar();
}

function stopStreaming() {
  if (live) live.controller.abort();
}

async function requestAnswerNow() {
  if (!live?.turn.id || live.answerNowSent) return;
  live.answerNowSent = true;
  renderComposerState();
  try {
    await answerNow({ apiKey: settings.apiKey, id: live.turn.id });
  } catch (e) {
    if (live) live.answerNowSent = false;
    renderComposerState();
    toast(`Answer now failed: ${e.message}`, { error: true });
  }
}

// ---------------------------------------------------------------- attachments

function renderAttachments() {
  els.attachments.replaceChildren(
    ...pending.map((att, k) =>
      renderAttachment(att, {
        onRemove: () => {
          pending.splice(k, 1);
          renderAttachments();
          els.input.focus();
        },
      }),
    ),
  );
}

function readAs(file, how) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('cannot read the file'));
    if (how === 'text') r.readAsText(file);
    else r.readAsDataURL(file);
  });
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('not an image this browser can read'));
    img.src = url;
  });
}

async function addImageFile(file) {
  const name = file.name || 'pasted image.png';
  try {
    if (file.size > MAX_BODY) throw new Error(`${(file.size / 1048576).toFixed(1)} MiB is over the server's 16 MiB request limit`);
    let url = await readAs(file, 'dataurl');
    let img = await loadImage(url);
    if (!/^data:image\/(png|jpeg|jpg);base64,/i.test(url)) {
      // Muse reads PNG and JPEG only: anything else is converted to PNG here.
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      canvas.getContext('2d').drawImage(img, 0, 0);
      url = canvas.toDataURL('image/png');
      img = await loadImage(url);
    }
    pending.push({ kind: 'image', name, url, width: img.naturalWidth, height: img.naturalHeight });
    renderAttachments();
  } catch (e) {
    toast(`${name}: ${e.message}`, { error: true });
  }
}

function addTableText(text, name) {
  const att = tableAttachment(text, name); // throws with a readable message
  pending.push(att);
  renderAttachments();
  if (att.problems.length) toast(`${name}: ${att.problems.join('; ')}`, { error: true });
  return att;
}

async function addFiles(files) {
  for (const file of files) {
    if (file.type.startsWith('image/')) await addImageFile(file);
    else if (/\.(csv|json|tsv)$/i.test(file.name) || /csv|json/.test(file.type)) {
      try {
        if (file.size > 1 << 20) throw new Error('over the 1 MiB a table may have');
        addTableText(await readAs(file, 'text'), file.name);
      } catch (e) {
        toast(e.message.startsWith(file.name) ? e.message : `${file.name}: ${e.message}`, { error: true });
      }
    } else toast(`${file.name}: not an image, .csv or .json file`, { error: true });
  }
}

function openTableDialog() {
  els.tableText.value = '';
  els.tableError.textContent = '';
  els.tableFile.value = '';
  els.tableDialog.showModal();
  els.tableText.focus();
}

// ---------------------------------------------------------------- drawer, theme, settings

function openDrawer() {
  els.sidebar.classList.add('open');
  els.backdrop.hidden = false;
  els.menuBtn.setAttribute('aria-expanded', 'true');
  els.sidebar.querySelector('button')?.focus();
}
function closeDrawer() {
  if (!els.sidebar.classList.contains('open')) return;
  els.sidebar.classList.remove('open');
  els.backdrop.hidden = true;
  els.menuBtn.setAttribute('aria-expanded', 'false');
}

function applyTheme() {
  const t = settings.theme;
  if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
  const label = t === 'light' ? 'light' : t === 'dark' ? 'dark' : 'auto';
  els.themeBtn.textContent = `Theme: ${label}`;
  els.themeBtn.setAttribute('aria-label', `Theme: ${t === 'light' || t === 'dark' ? t : 'follow the system'} (change)`);
}

function saveSettingsNow() {
  saveSettings(storage, settings);
}

function syncControls() {
  for (const r of document.querySelectorAll('input[name="mode"]')) r.checked = r.value === settings.mode;
  els.agents.value = String(settings.agents);
  els.synthesis.value = settings.synthesis;
  els.effort.value = settings.effort;
  els.budget.value = settings.budget;
  els.budgetWrap.hidden = settings.effort !== 'custom';
  els.temperature.value = settings.temperature ?? '';
  renderComposerState();
}

async function refreshModels(quiet = false) {
  els.modelsNote.textContent = quiet ? '' : 'Asking the server…';
  try {
    const models = await listModels({ apiKey: settings.apiKey });
    const keep = settings.model;
    els.model.replaceChildren(h('option', { value: '' }, 'the served model'),
      ...models.map((m) => h('option', { value: m.id }, m.context_length ? `${m.id} (context ${m.context_length})` : m.id)));
    if (keep && !models.some((m) => m.id === keep)) els.model.append(h('option', { value: keep }, `${keep} (not served)`));
    els.model.value = keep;
    els.modelBadge.textContent = keep || models[0]?.id || '';
    els.modelsNote.textContent = `${models.length} model${models.length === 1 ? '' : 's'} served`;
  } catch (e) {
    els.modelsNote.textContent = `Could not list the models: ${e.message}`;
    if (!quiet) toast(`Models: ${e.message}`, { error: true });
  }
}

// ---------------------------------------------------------------- events

function autosize() {
  els.input.style.height = 'auto';
  const max = window.innerHeight * 0.4;
  const full = els.input.scrollHeight + 2; // + the borders
  els.input.style.height = `${Math.min(full, max)}px`;
  els.input.style.overflowY = full > max ? 'auto' : 'hidden';
}

function bind() {
  els.newChat.addEventListener('click', newConversation);
  els.menuBtn.addEventListener('click', openDrawer);
  els.backdrop.addEventListener('click', closeDrawer);
  els.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  els.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !e.altKey) {
      e.preventDefault();
      send();
    }
  });
  els.input.addEventListener('input', autosize);
  els.stop.addEventListener('click', stopStreaming);
  els.answerNow.addEventListener('click', requestAnswerNow);
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || e.defaultPrevented) return;
    if (document.querySelector('dialog[open]')) return; // the dialog closes itself
    if (live) {
      e.preventDefault();
      stopStreaming();
    } else if (els.sidebar.classList.contains('open')) {
      closeDrawer();
      els.menuBtn.focus();
    } else if (editing) {
      editing = null;
      renderMessages();
    }
  });

  // code copy buttons inside rendered Markdown
  els.messages.addEventListener('click', async (e) => {
    const btn = e.target.closest('.copy-code');
    if (!btn) return;
    const code = btn.closest('.codeblock')?.querySelector('code');
    const ok = await copyText(code?.textContent ?? '');
    btn.textContent = ok ? 'Copied' : 'Failed';
    setTimeout(() => (btn.textContent = 'Copy'), 1500);
  });

  // attachments: picker, paste, drop
  els.attachImage.addEventListener('click', () => els.imageFile.click());
  els.imageFile.addEventListener('change', async () => {
    await addFiles([...els.imageFile.files]);
    els.imageFile.value = '';
  });
  els.attachTable.addEventListener('click', openTableDialog);
  els.input.addEventListener('paste', async (e) => {
    const dt = e.clipboardData;
    if (!dt) return;
    const files = [...dt.files].filter((f) => f.type.startsWith('image/'));
    if (files.length) {
      e.preventDefault();
      await addFiles(files);
      return;
    }
    const text = dt.getData('text/plain');
    if (text && looksLikeTable(text)) {
      try {
        const att = tableAttachment(text, 'pasted.csv');
        e.preventDefault();
        pending.push(att);
        renderAttachments();
        toast(`Pasted as a table (${att.rows.length} rows × ${att.columns.length} columns)`, {
          action: {
            label: 'Paste as text instead',
            fn: () => {
              pending = pending.filter((a) => a !== att);
              renderAttachments();
              els.input.setRangeText(text, els.input.selectionStart, els.input.selectionEnd, 'end');
              autosize();
              els.input.focus();
            },
          },
          timeout: 8000,
        });
      } catch {
        /* not a valid table after all: paste as text */
      }
    }
  });
  let dragDepth = 0;
  const main = document.querySelector('.main');
  main.addEventListener('dragenter', (e) => {
    if (![...(e.dataTransfer?.types ?? [])].includes('Files')) return;
    e.preventDefault();
    dragDepth++;
    els.dropHint.hidden = false;
    els.composer.classList.add('dragging');
  });
  main.addEventListener('dragover', (e) => {
    if ([...(e.dataTransfer?.types ?? [])].includes('Files')) e.preventDefault();
  });
  main.addEventListener('dragleave', () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) {
      els.dropHint.hidden = true;
      els.composer.classList.remove('dragging');
    }
  });
  main.addEventListener('drop', async (e) => {
    e.preventDefault();
    dragDepth = 0;
    els.dropHint.hidden = true;
    els.composer.classList.remove('dragging');
    await addFiles([...(e.dataTransfer?.files ?? [])]);
    els.input.focus();
  });

  // the table dialog
  els.tableCancel.addEventListener('click', () => els.tableDialog.close());
  els.tableFile.addEventListener('change', async () => {
    const file = els.tableFile.files[0];
    if (!file) return;
    try {
      addTableText(await readAs(file, 'text'), file.name);
      els.tableDialog.close();
    } catch (e) {
      els.tableError.textContent = e.message;
    }
  });
  els.tableOk.addEventListener('click', () => {
    try {
      addTableText(els.tableText.value, 'pasted.csv');
      els.tableDialog.close();
      els.input.focus();
    } catch (e) {
      els.tableError.textContent = e.message;
    }
  });

  // controls
  for (const r of document.querySelectorAll('input[name="mode"]'))
    r.addEventListener('change', () => {
      settings.mode = r.value;
      saveSettingsNow();
      renderComposerState();
    });
  els.agents.addEventListener('change', () => {
    const v = Math.round(Number(els.agents.value));
    settings.agents = els.agents.value.trim() !== '' && Number.isFinite(v) ? Math.min(64, Math.max(1, v)) : 8;
    els.agents.value = String(settings.agents);
    saveSettingsNow();
  });
  els.synthesis.addEventListener('change', () => {
    settings.synthesis = els.synthesis.value;
    saveSettingsNow();
  });
  els.effort.addEventListener('change', () => {
    settings.effort = els.effort.value;
    els.budgetWrap.hidden = settings.effort !== 'custom';
    saveSettingsNow();
    if (settings.effort === 'custom') els.budget.focus();
  });
  els.budget.addEventListener('change', () => {
    const v = Math.round(Number(els.budget.value));
    settings.budget = Number.isFinite(v) && v >= 0 ? v : 256;
    els.budget.value = settings.budget;
    saveSettingsNow();
  });
  els.temperature.addEventListener('change', () => {
    const raw = els.temperature.value.trim();
    const v = Number(raw);
    settings.temperature = raw === '' || !Number.isFinite(v) ? null : Math.min(2, Math.max(0, v));
    els.temperature.value = settings.temperature ?? '';
    saveSettingsNow();
  });

  // sidebar footer
  els.exportBtn.addEventListener('click', () => {
    const blob = new Blob([store.exportJSON()], { type: 'application/json' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `muse-conversations-${new Date().toISOString().slice(0, 10)}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  });
  els.importBtn.addEventListener('click', () => els.importFile.click());
  els.importFile.addEventListener('change', async () => {
    const file = els.importFile.files[0];
    els.importFile.value = '';
    if (!file) return;
    try {
      const { added, skipped } = store.importJSON(await readAs(file, 'text'));
      persist();
      renderAll();
      toast(`Imported ${added} conversation${added === 1 ? '' : 's'}${skipped ? ` (${skipped} already here)` : ''}`);
    } catch (e) {
      toast(`Import failed: ${file.name}: ${e.message}`, { error: true, timeout: 15000 });
    }
  });
  els.themeBtn.addEventListener('click', () => {
    settings.theme = settings.theme === 'auto' ? 'light' : settings.theme === 'light' ? 'dark' : 'auto';
    saveSettingsNow();
    applyTheme();
  });

  // settings dialog
  els.settingsBtn.addEventListener('click', () => {
    els.apiKey.value = settings.apiKey;
    els.system.value = settings.system;
    els.maxTokens.value = settings.maxTokens ?? '';
    els.model.value = settings.model;
    els.museTools.checked = settings.tools !== 'off';
    els.museSpawn.checked = settings.spawn !== 'off';
    els.settingsDialog.showModal();
    refreshModels(true);
  });
  els.apiKey.addEventListener('change', () => {
    settings.apiKey = els.apiKey.value.trim();
    saveSettingsNow();
    refreshModels(true);
  });
  els.model.addEventListener('change', () => {
    settings.model = els.model.value;
    els.modelBadge.textContent = settings.model || els.model.options[1]?.value || '';
    saveSettingsNow();
  });
  els.system.addEventListener('change', () => {
    settings.system = els.system.value;
    saveSettingsNow();
  });
  els.maxTokens.addEventListener('change', () => {
    const v = Math.round(Number(els.maxTokens.value));
    settings.maxTokens = els.maxTokens.value.trim() === '' || !(v >= 1) ? null : v;
    els.maxTokens.value = settings.maxTokens ?? '';
    saveSettingsNow();
  });
  els.museTools.addEventListener('change', () => {
    settings.tools = els.museTools.checked ? 'on' : 'off';
    saveSettingsNow();
  });
  els.museSpawn.addEventListener('change', () => {
    settings.spawn = els.museSpawn.checked ? 'on' : 'off';
    saveSettingsNow();
  });
  els.refreshModels.addEventListener('click', () => refreshModels(false));
  els.settingsDialog.addEventListener('close', () => {
    settings.apiKey = els.apiKey.value.trim();
    settings.system = els.system.value;
    saveSettingsNow();
  });

  window.addEventListener('storage', (e) => {
    // another tab saved: reload the list (not while this tab streams into it)
    if (e.key === 'muse.conversations' && !live) {
      store.load();
      if (currentId && !store.get(currentId)) currentId = null;
      renderAll();
    }
  });
}

// ---------------------------------------------------------------- start

function start() {
  if (store.lastError) toast(store.lastError.message, { error: true, timeout: 15000 });
  // answers cut by a reload mid-stream
  let fixed = false;
  for (const c of store.list())
    for (const m of c.messages)
      if (m.pending) {
        m.pending = false;
        m.incomplete = true;
        fixed = true;
      }
  if (fixed) persist();
  currentId = store.list()[0]?.id ?? null;
  applyTheme();
  syncControls();
  bind();
  renderAll();
  autosize();
  refreshModels(true);
  if (matchMedia('(min-width: 761px)').matches) els.input.focus(); // no keyboard popping up on a phone
}

start();

// For the console and the browser check (tests/app/browser_check.mjs): window.muse.store, .addFiles(files), ...
window.muse = { store, settings: () => settings, addFiles, send, titleFrom };
