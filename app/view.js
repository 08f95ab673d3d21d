// Pure helpers of the view (no DOM): what the per-message stats line says, where zoom boxes are drawn, the
// tool results of a message. app.js only puts their results on the page.

import { boxPercent, parseArguments, zoomPixels } from './api.js';

function ms(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  return v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(v < 10000 ? 2 : 1)} s`;
}

// The stats of an answered message as short labelled items: [{label, value, title?}].
export function formatStats(stats) {
  if (!stats) return [];
  const out = [];
  if (stats.tokens_per_s !== null && stats.tokens_per_s !== undefined)
    out.push({
      label: 'speed',
      value: `${stats.tokens_per_s.toFixed(1)} tok/s`,
      title: stats.source === 'server' ? 'generation speed reported by the server (timings)' : 'measured by the app: completion tokens after the first, over the time since the first',
    });
  if (stats.completion_tokens !== null && stats.completion_tokens !== undefined)
    out.push({ label: 'completion', value: `${stats.completion_tokens} tok` });
  if (stats.reasoning_tokens) out.push({ label: 'reasoning', value: `${stats.reasoning_tokens} tok` });
  if (stats.prompt_tokens !== null && stats.prompt_tokens !== undefined)
    out.push({ label: 'prompt', value: `${stats.prompt_tokens} tok${stats.cached_tokens ? ` (${stats.cached_tokens} cached)` : ''}` });
  if (stats.prompt_per_s) out.push({ label: 'prefill', value: `${stats.prompt_per_s.toFixed(0)} tok/s` });
  const ttft = ms(stats.ttft_ms);
  if (ttft) out.push({ label: 'first token', value: ttft });
  const thinking = ms(stats.thinking_ms);
  if (thinking) out.push({ label: 'thinking', value: thinking });
  const total = ms(stats.total_ms);
  if (total) out.push({ label: 'total', value: total });
  return out;
}

// Every image of a conversation in order: [{messageId, index (within its message), att}].
export function conversationImages(messages) {
  const out = [];
  for (const m of messages) {
    if (m.role !== 'user') continue;
    (m.attachments ?? []).forEach((att, index) => {
      if (att.kind === 'image') out.push({ messageId: m.id, index, att });
    });
  }
  return out;
}

// The images a call can point at, as they were when its message was sent: `all` numbers every image of the
// conversation before it (the app's numbering, for a zoom's own "image" argument), `sent` only those that still
// had their data and so were sent (the server's numbering, for muse_image). Images are dropped only when the
// browser's storage is full, and then every image of the conversation at once, so a `sent` image is numbered
// as the server numbered it for as long as it can be drawn.
function addImages(seen, m) {
  (m.attachments ?? []).forEach((att, index) => {
    if (att?.kind !== 'image') return;
    const img = { messageId: m.id, index, att };
    seen.all.push(img);
    if (att.url) seen.sent.push(img);
  });
}

const isBox = (v) => Array.isArray(v) && v.length === 4 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
const isCrop = (v) => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
const num = (v) => String(Math.round(v * 10) / 10);

// A zoom call resolved against the images before it: {target: {messageId, index, att} | null, pixels: [x0, y0,
// x1, y1] | null, box: CSS percentages | null, crop: [w, h] | null}; null for another tool or a failed zoom.
// A call the server ran (muse_box: the box in pixels of the original image; muse_image: its number among the
// images sent) is drawn from those; any other from its arguments (zoomPixels), on its "image" (0 = the
// conversation's first) or by default the last image sent before the call.
function resolveZoom(call, seen) {
  if (call?.function?.name !== 'zoom' || call.is_error === true) return null;
  const args = parseArguments(call.function.arguments);
  const server = !!call.muse_server || Number.isInteger(call.muse_image);
  const list = server ? seen.sent : seen.all;
  const k = Number.isInteger(call.muse_image) ? call.muse_image : Number.isInteger(args?.image) ? args.image : null;
  const target = (k !== null ? list[k] : server ? list[list.length - 1] : seen.all.at(-1)) ?? null;
  const w = target?.att.width;
  const h = target?.att.height;
  const pixels = isBox(call.muse_box) ? call.muse_box : zoomPixels(args, w, h);
  const box = target && pixels ? boxPercent(pixels, w, h) : null;
  return { target, pixels, box, crop: isCrop(call.muse_crop) ? call.muse_crop : null };
}

// The zoom's line on its card: "box (x0,y0)-(x1,y1), crop w×h" (either part when only it is known), or ''.
export function zoomCaption(z) {
  if (!z) return '';
  const parts = [];
  if (z.pixels) {
    const [x0, y0, x1, y1] = z.pixels.map(num);
    parts.push(`box (${x0},${y0})-(${x1},${y1})`);
  }
  if (z.crop) parts.push(`crop ${num(z.crop[0])}×${num(z.crop[1])}`);
  return parts.join(', ');
}

// Where each zoom call's box goes: {"<messageId>:<index>": [{left, top, width, height, callId}]} (see resolveZoom).
export function zoomOverlays(messages) {
  const overlays = {};
  const seen = { all: [], sent: [] };
  for (const m of messages) {
    if (m.role === 'user') {
      addImages(seen, m);
      continue;
    }
    for (const call of m.tool_calls ?? []) {
      const z = resolveZoom(call, seen);
      if (!z?.box) continue;
      const key = `${z.target.messageId}:${z.target.index}`;
      (overlays[key] ??= []).push({ left: z.box.left, top: z.box.top, width: z.box.width, height: z.box.height, callId: call.id });
    }
  }
  return overlays;
}

// A zoom call of `messageId` resolved for its card: {att, box, pixels, crop, caption} (att and box null when it
// cannot be drawn), or null for another tool or a failed zoom.
export function zoomInfo(messages, messageId, call) {
  const seen = { all: [], sent: [] };
  for (const m of messages) {
    if (m.id === messageId) break;
    if (m.role === 'user') addImages(seen, m);
  }
  const z = resolveZoom(call, seen);
  if (!z) return null;
  return { att: z.box ? z.target.att : null, box: z.box, pixels: z.pixels, crop: z.crop, caption: zoomCaption(z) };
}

// The image a zoom call of `messageId` points at and its box there (for the card's own copy), or null.
export function zoomTarget(messages, messageId, call) {
  const z = zoomInfo(messages, messageId, call);
  return z?.box ? { att: z.att, box: z.box } : null;
}

// How a tool card is labelled: {kind: "sub-agent" | "built-in" (run by the server) | "tool", state, error}.
export function toolCardState(call, result, live = false) {
  const name = call?.function?.name || 'tool';
  const kind = name === 'spawn' ? 'sub-agent' : call?.muse_server ? 'built-in' : 'tool';
  const error = call?.is_error === true;
  const state = error ? 'error' : result !== null && result !== undefined ? 'done' : live ? 'running…' : 'no result';
  return { name, kind, state, error };
}

// Results of a message's tool calls: the streamed muse_tool_results kept on the message, then any `tool`
// messages that follow it (matched by tool_call_id).
export function toolResults(messages, messageId) {
  const k = messages.findIndex((m) => m.id === messageId);
  if (k < 0) return {};
  const results = { ...(messages[k].tool_results ?? {}) };
  for (let j = k + 1; j < messages.length && messages[j].role === 'tool'; j++) {
    const t = messages[j];
    if (t.tool_call_id) results[t.tool_call_id] = t.content ?? '';
  }
  return results;
}

// Pretty JSON of a tool call's arguments (the raw text when it is not JSON, e.g. still streaming).
export function prettyArguments(text) {
  const v = parseArguments(text);
  return v === null ? String(text ?? '') : JSON.stringify(v, null, 2);
}

// ---------------------------------------------------------------- Contemplating

const fixed = (v, digits = 2) => (typeof v === 'number' && Number.isFinite(v) ? String(Math.round(v * 10 ** digits) / 10 ** digits) : null);

// Why an agent ended (its summary's "stop"), in words.
export const STOP_TEXT = {
  finished: 'finished',
  low_confidence: 'stopped early: low confidence',
  consensus: 'stopped early: consensus reached',
  failed: 'failed',
};

// How an agent's card is labelled: {title, state, early (stopped before its end by the synthesis), failed,
// winner, facts: [{label, value, title?}]}. Agents are numbered by the server's index (from 0), as `muse
// generate` prints them. The confidence is DeepConf's trace score (higher is surer), not a probability.
export function agentStatus(a, { live = false, winner = null } = {}) {
  const isWinner = Number.isInteger(winner) && winner === a.index;
  let state;
  if (a.done) state = STOP_TEXT[a.stop] ?? (a.stop ? String(a.stop) : 'done');
  else if (live) state = a.content ? 'answering…' : a.reasoning || a.tool_calls?.length ? 'thinking…' : 'waiting…';
  else state = 'did not finish';
  const facts = [];
  if (a.done) {
    const conf = fixed(a.confidence);
    const spawned = Number.isInteger(a.parent);  // a sub-agent: no confidence, no vote
    if (!spawned)
      facts.push({ label: 'confidence', value: conf ?? 'n/a', title: 'the trace score (DeepConf): the lowest windowed mean of token confidence' });
    if (Number.isFinite(a.tokens))
      facts.push({ label: 'tokens', value: Number.isFinite(a.thinking_tokens) && a.thinking_tokens ? `${a.tokens} (${a.thinking_tokens} thinking)` : String(a.tokens) });
    if (typeof a.counted === 'boolean')
      facts.push({ label: 'vote', value: a.counted ? 'counted' : 'not counted', title: fixed(a.weight) !== null ? `weight ${fixed(a.weight)}` : null });
    if (fixed(a.temperature) !== null) facts.push({ label: 'T', value: fixed(a.temperature), title: 'sampling temperature' });
    if (Number.isFinite(a.seconds)) facts.push({ label: 'time', value: `${a.seconds.toFixed(2)} s` });
    if (a.finish_reason === 'length') facts.push({ label: 'cut off', value: 'token limit' });
  } else if (live && a.chunks) facts.push({ label: 'tokens', value: `${a.chunks}…` });
  return {
    title: Number.isInteger(a.parent) && a.parent > 0 ? `Agent ${a.index} (of agent ${a.parent})` : `Agent ${a.index}`,
    state,
    early: a.stop === 'low_confidence' || a.stop === 'consensus',
    failed: a.stop === 'failed',
    winner: isWinner,
    facts,
  };
}

// The agent's final answer when it differs from the text it streamed (e.g. the answer extracted from it), else ''.
export function agentFinalAnswer(a) {
  const answer = typeof a?.answer === 'string' ? a.answer.trim() : '';
  if (!answer || answer === (a.content ?? '').trim()) return '';
  return answer;
}

// The synthesis line: "confidence · 8 agents · answer of agent 3 · support 71% · 812 tokens" (+ "stopped at
// consensus", "threshold 1.9" for online). '' without a contemplation.
export function synthesisLine(c) {
  if (!c || typeof c !== 'object') return '';
  const parts = [];
  if (c.synthesis) parts.push(String(c.synthesis));
  if (Number.isFinite(c.agents_requested)) parts.push(`${c.agents_requested} agent${c.agents_requested === 1 ? '' : 's'}`);
  parts.push(Number.isInteger(c.winner) ? `answer of agent ${c.winner}` : 'no winning answer');
  if (typeof c.support === 'number' && Number.isFinite(c.support)) {
    const votes = fixed(c.winner_votes);
    parts.push(`support ${Math.round(c.support * 100)}%${votes !== null && c.synthesis === 'vote' ? ` (${votes} vote${c.winner_votes === 1 ? '' : 's'})` : ''}`);
  }
  if (Number.isFinite(c.tokens)) parts.push(`${c.tokens} tokens`);
  if (c.consensus_stop) parts.push('stopped at consensus');
  if (fixed(c.threshold) !== null) parts.push(`threshold ${fixed(c.threshold)}`);
  return parts.join(' · ');
}

// "3 of 8 agents done" while streaming (the requested count when the settings are known, else those seen).
export function agentsProgress(agents, requested = null) {
  const list = (agents ?? []).filter(Boolean);
  const done = list.filter((a) => a.done).length;
  const total = Math.max(list.length, Number.isFinite(requested) ? requested : 0);
  return `${done} of ${total} agent${total === 1 ? '' : 's'} done`;
}
