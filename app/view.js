// Pure helpers of the view (no DOM): what the per-message stats line says, where zoom boxes are drawn, the
// tool results of a message. app.js only puts their results on the page.

import { parseArguments, zoomBox } from './api.js';

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

// Where each zoom call's box goes: {"<messageId>:<index>": [{left, top, width, height, callId}]}. A zoom with an
// "image" argument points at the conversation's images by number (0 = the first); without it, at the last image
// sent before the call's message.
export function zoomOverlays(messages) {
  const overlays = {};
  const seen = [];
  for (const m of messages) {
    if (m.role === 'user') {
      (m.attachments ?? []).forEach((att, index) => {
        if (att.kind === 'image') seen.push({ messageId: m.id, index, att });
      });
      continue;
    }
    for (const call of m.tool_calls ?? []) {
      if (call.function?.name !== 'zoom') continue;
      const args = parseArguments(call.function.arguments);
      const wanted = Number.isInteger(args?.image) ? seen[args.image] : seen[seen.length - 1];
      if (!wanted) continue;
      const box = zoomBox(args, wanted.att.width, wanted.att.height);
      if (!box) continue;
      const key = `${wanted.messageId}:${wanted.index}`;
      (overlays[key] ??= []).push({ left: box.left, top: box.top, width: box.width, height: box.height, callId: call.id });
    }
  }
  return overlays;
}

// The image a zoom call of `messageId` points at (for the card's own copy of the box), or null.
export function zoomTarget(messages, messageId, call) {
  const seen = [];
  for (const m of messages) {
    if (m.id === messageId) break;
    if (m.role === 'user') for (const att of m.attachments ?? []) if (att.kind === 'image') seen.push(att);
  }
  const args = parseArguments(call.function?.arguments);
  const att = Number.isInteger(args?.image) ? seen[args.image] : seen[seen.length - 1];
  if (!att) return null;
  const box = zoomBox(args, att.width, att.height);
  return box ? { att, box } : null;
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
