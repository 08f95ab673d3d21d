// The Muse API as the app uses it: the request body built from a conversation and the settings, the streamed
// chunks folded into one turn's state, errors made readable, and the fetch calls (fetch is injectable, so
// everything here runs under node's test runner).
//
//   POST /v1/chat/completions                     stream: true, stream_options.include_usage: true
//   POST /v1/chat/completions/{id}/answer_now     {id} = the chunks' "id"; 200 {"id","answer_now":true}; 404 = finished
//   GET  /v1/models                               the model names for the settings
//
// Shapes and the Muse extensions are described in app/README.md.

import { readSSE } from './sse.js';
import { tablePart } from './table.js';

export const SYNTHESIS = ['vote', 'confidence', 'online'];
export const AGENTS_MIN = 1;
export const AGENTS_MAX = 64;
export const AGENTS_DEFAULT = 8;
export const SYNTHESIS_DEFAULT = 'confidence';
export const EFFORTS = ['default', 'low', 'medium', 'high', 'custom'];

// ---------------------------------------------------------------- requests

// One stored message as the API reads it. User attachments become content parts in the order the CLI uses
// (images, tables, then the text); images whose data was not kept (storage full) are left out.
export function apiMessage(m) {
  if (m.role === 'user') {
    const atts = (m.attachments ?? []).filter((a) => !(a.kind === 'image' && !a.url));
    if (atts.length === 0) return { role: 'user', content: m.content ?? '' };
    const parts = atts.map((a) =>
      a.kind === 'image' ? { type: 'image_url', image_url: { url: a.url } } : tablePart(a),
    );
    if (m.content) parts.push({ type: 'text', text: m.content });
    return { role: 'user', content: parts };
  }
  if (m.role === 'assistant') {
    const out = { role: 'assistant', content: m.content ?? '' };
    const calls = clientToolCalls(m);
    if (calls.length) {
      out.tool_calls = calls.map((t) => ({
        id: t.id,
        type: t.type ?? 'function',
        function: { name: t.function?.name ?? '', arguments: t.function?.arguments ?? '' },
      }));
      if (!out.content) out.content = null;
    }
    return out;
  }
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.tool_call_id ?? '', content: m.content ?? '' };
  return { role: m.role, content: m.content ?? '' };
}

// The calls of an assistant message that are the client's (OpenAI tool_calls): the calls the server ran itself
// (muse_tool_calls, marked muse_server) are not, and are never sent back as tool_calls.
export function clientToolCalls(m) {
  return (m?.tool_calls ?? []).filter((t) => t && !t.muse_server);
}

// Messages worth sending: failed or empty answers (an error, a stop before any text) are left out; so are `tool`
// messages answering a call the server ran itself (there is no client tool call for them to answer).
export function apiMessages(messages, system = '') {
  const out = [];
  if (system && system.trim() && messages[0]?.role !== 'system') out.push({ role: 'system', content: system });
  const serverIds = new Set();
  for (const m of messages) {
    if (m.role === 'assistant')
      for (const t of m.tool_calls ?? []) if (t?.muse_server && t.id) serverIds.add(t.id);
    if (m.role === 'assistant' && !m.content && !clientToolCalls(m).length) continue;
    if (m.role === 'tool' && serverIds.has(m.tool_call_id)) continue;
    out.push(apiMessage(m));
  }
  return out;
}

function clampInt(v, lo, hi, fallback) {
  const x = Math.round(Number(v));
  if (!Number.isFinite(x)) return fallback;
  return Math.min(hi, Math.max(lo, x));
}

// The body of POST /v1/chat/completions. Standard sends OpenAI fields only (plus Muse's documented
// thinking_budget_tokens for a custom budget); Contemplating adds "mode", "muse_agents" (1-64) and
// "muse_synthesis". (The app never sends `n` or `logprobs`, which Contemplating refuses.)
export function buildRequest(settings, messages) {
  const s = settings ?? {};
  const body = {};
  if (s.model) body.model = s.model;
  body.messages = apiMessages(messages, s.system);
  body.stream = true;
  body.stream_options = { include_usage: true };
  if (s.temperature !== null && s.temperature !== undefined && s.temperature !== '') {
    const t = Number(s.temperature);
    if (Number.isFinite(t)) body.temperature = Math.min(2, Math.max(0, t));
  }
  if (s.maxTokens !== null && s.maxTokens !== undefined && s.maxTokens !== '') {
    const n = clampInt(s.maxTokens, 1, 1 << 20, null);
    if (n !== null) body.max_tokens = n;
  }
  if (s.effort === 'low' || s.effort === 'medium' || s.effort === 'high') body.reasoning_effort = s.effort;
  else if (s.effort === 'custom') body.thinking_budget_tokens = clampInt(s.budget, 0, 1 << 20, 256);
  if (s.mode === 'contemplating') {
    body.mode = 'contemplating';
    body.muse_agents = clampInt(s.agents, AGENTS_MIN, AGENTS_MAX, AGENTS_DEFAULT);
    body.muse_synthesis = SYNTHESIS.includes(s.synthesis) ? s.synthesis : SYNTHESIS_DEFAULT;
  }
  // Muse's built-in tools (calculator, zoom, table_query) run server-side unless switched off; "on" is the
  // server's default, so only "off" is sent.
  if (s.tools === 'off') body.muse_tools = 'off';
  // Sub-agents the model spawns itself: Standard only (Contemplating's agents do not spawn).
  if (s.spawn === 'on' && s.mode !== 'contemplating') body.muse_spawn = 'on';
  return body;
}

export function authHeaders(apiKey) {
  return apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
}

// ---------------------------------------------------------------- errors

export class ApiError extends Error {
  constructor({ status = 0, message, type = null, param = null, code = null }) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
  }
  toJSON() {
    return { status: this.status, message: this.message, type: this.type, param: this.param, code: this.code };
  }
}

// An error response's body (OpenAI's {"error":{message,type,param,code}}, or anything else) as an ApiError.
export function parseApiError(status, text) {
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  const e = body && typeof body === 'object' ? body.error ?? body : null;
  if (e && typeof e === 'object' && typeof e.message === 'string') {
    return new ApiError({ status, message: e.message, type: e.type ?? null, param: e.param ?? null, code: e.code ?? null });
  }
  if (typeof e === 'string') return new ApiError({ status, message: e });
  const trimmed = String(text ?? '').trim().slice(0, 500);
  return new ApiError({ status, message: trimmed || `HTTP ${status}${statusText(status)}` });
}

function statusText(status) {
  const known = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 413: 'Payload Too Large',
    500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };
  return known[status] ? ` ${known[status]}` : '';
}

// A one-line heading and the details, for showing in the conversation.
export function describeError(err) {
  const e = err instanceof ApiError ? err.toJSON() : err && typeof err === 'object' ? err : { message: String(err) };
  const head = e.status ? `Error ${e.status}${e.type ? ` · ${e.type}` : ''}` : 'Error';
  const details = [];
  if (e.param) details.push(`param: ${e.param}`);
  if (e.code) details.push(`code: ${e.code}`);
  let hint = '';
  if (e.status === 401) hint = 'Set the API key in Settings.';
  else if (e.status === 413) hint = 'The request is too large: remove attachments or start a new chat.';
  else if (e.code === 'context_length_exceeded') hint = 'The conversation no longer fits the model: start a new chat.';
  else if (e.status === 0 && !e.type) hint = 'Is `muse serve` running?';
  return { head, message: e.message ?? '', details, hint };
}

// ---------------------------------------------------------------- the streamed turn

export function createTurn() {
  return {
    id: null, // the completion's id, for answer_now
    model: null,
    phase: 'waiting', // waiting | thinking | answering | done
    reasoning: '',
    content: '',
    tool_calls: [],
    tool_results: {}, // tool_call_id -> text
    toolSlots: {}, // "oa:<index>" | "muse:<index>" -> position in tool_calls
    agents: [], // Contemplating: per agent index, see mergeAgent
    contemplation: null, // Contemplating: the synthesis (muse_contemplation without its agents)
    tree: null, // Sub-agents: muse_agents without its agents ({tokens, seconds, timed_out, refused_spawns})
    agentChunks: 0,
    usage: null,
    timings: null,
    finish_reason: null,
    error: null,
    reasoningChunks: 0, // Muse sends one chunk per generated token: a live token count
    contentChunks: 0,
    firstTokenAt: null,
    answerStartedAt: null,
  };
}

// Tool calls of the turn, in order of arrival. OpenAI's delta.tool_calls and Muse's delta.muse_tool_calls each
// number their calls from 0 ("index"), so a slot is looked up by source and index (turn.toolSlots).
function mergeToolCall(turn, d, server = false) {
  if (!d || typeof d !== 'object') return null;
  const list = turn.tool_calls;
  const slots = (turn.toolSlots ??= {});
  const key = Number.isInteger(d.index) ? `${server ? 'muse' : 'oa'}:${d.index}` : null;
  let t = key !== null && key in slots ? list[slots[key]] : null;
  if (!t) {
    t = { id: '', type: 'function', function: { name: '', arguments: '' } };
    if (key !== null) slots[key] = list.length;
    list.push(t);
  }
  if (server) t.muse_server = true;
  if (d.id) t.id = d.id;
  if (d.type) t.type = d.type;
  if (d.muse_parent) t.muse_parent = d.muse_parent;
  const f = d.function ?? {};
  if (typeof f.name === 'string' && f.name !== t.function.name) t.function.name += f.name;
  if (typeof f.arguments === 'string') t.function.arguments += f.arguments;
  else if (f.arguments && typeof f.arguments === 'object') t.function.arguments = JSON.stringify(f.arguments);
  if (isBox(d.muse_box)) t.muse_box = d.muse_box.slice();
  if (Number.isInteger(d.muse_image) && d.muse_image >= 0) t.muse_image = d.muse_image;
  const pending = turn.pendingResults?.[t.id];
  if (pending) {
    Object.assign(t, pending);
    delete turn.pendingResults[t.id];
  }
  return t;
}

const isNums = (v, n) => Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));
const isBox = (v) => isNums(v, 4);

// A tool result ({tool_call_id, content, is_error?, muse_crop?}): the text is appended per id in
// turn.tool_results; is_error and muse_crop go on the call itself (kept for a call that has not arrived yet).
function mergeToolResult(turn, res, id = res?.tool_call_id) {
  if (!res || typeof res !== 'object' || typeof id !== 'string' || !id) return;
  if (res.content !== undefined && res.content !== null) {
    const text = typeof res.content === 'string' ? res.content : JSON.stringify(res.content);
    turn.tool_results[id] = (turn.tool_results[id] ?? '') + text;
  } else turn.tool_results[id] ??= '';
  const meta = {};
  if (typeof res.is_error === 'boolean') meta.is_error = res.is_error;
  if (isNums(res.muse_crop, 2)) meta.muse_crop = res.muse_crop.slice();
  if (!Object.keys(meta).length) return;
  const call = turn.tool_calls.find((t) => t.id === id);
  if (call) Object.assign(call, meta);
  else Object.assign(((turn.pendingResults ??= {})[id] ??= {}), meta);
}

// ---------------------------------------------------------------- Contemplating

// One agent of a Contemplating reply, as the turn and the stored message keep it: its streamed thinking and
// answer, its built-in tool calls (with their results, as for the message itself), and once it ended its
// summary's fields (done: true).
export function createAgent(index) {
  return { index, reasoning: '', content: '', tool_calls: [], tool_results: {}, chunks: 0, done: false };
}

const SUMMARY_FIELDS = ['temperature', 'confidence', 'tokens', 'thinking_tokens', 'stop', 'finish_reason', 'counted', 'weight',
  'parent', 'depth', 'task', 'seconds'];

function agentAt(turn, index) {
  const k = Number.isInteger(index) && index >= 0 ? index : turn.agents.length;
  return (turn.agents[k] ??= createAgent(k));
}

// A summary of an ended agent ({index, temperature, content, confidence, tokens, thinking_tokens, stop,
// finish_reason, counted, weight}, and in a non-streamed response also reasoning_content and muse_tool_calls).
function applySummary(turn, s) {
  if (!s || typeof s !== 'object') return;
  const a = agentAt(turn, s.index);
  a.done = true;
  for (const k of SUMMARY_FIELDS) if (s[k] !== undefined) a[k] = s[k];
  if (typeof s.content === 'string') a.answer = s.content;
  if (typeof s.reasoning_content === 'string' && !a.reasoning) a.reasoning = s.reasoning_content;
  if (Array.isArray(s.muse_tool_calls) && !a.tool_calls.length)
    for (const c of s.muse_tool_calls) {
      const t = mergeToolCall(a, c, true);
      if (t && c.result && typeof c.result === 'object') mergeToolResult(a, c.result, t.id);
    }
}

// delta.muse_agent: {index, reasoning_content?, content?, muse_tool_calls?, muse_tool_results?, done?, summary?}
// (an array of them is read too).
function mergeAgent(turn, d) {
  if (Array.isArray(d)) return d.forEach((x) => mergeAgent(turn, x));
  if (!d || typeof d !== 'object') return;
  const a = agentAt(turn, d.index);
  // A sub-agent's first chunk says who spawned it and for what.
  if (Number.isInteger(d.parent)) a.parent = d.parent;
  if (Number.isInteger(d.depth)) a.depth = d.depth;
  if (typeof d.task === 'string') a.task = d.task;
  const r = d.reasoning_content ?? d.reasoning;
  let tokens = false;
  if (typeof r === 'string' && r) {
    a.reasoning += r;
    tokens = true;
  }
  if (typeof d.content === 'string' && d.content) {
    a.content += d.content;
    tokens = true;
  }
  if (tokens) {
    a.chunks++;
    turn.agentChunks++;
  }
  if (Array.isArray(d.muse_tool_calls)) for (const c of d.muse_tool_calls) mergeToolCall(a, c, true);
  if (Array.isArray(d.muse_tool_results)) for (const res of d.muse_tool_results) mergeToolResult(a, res);
  if (d.summary) applySummary(turn, { ...d.summary, index: d.summary.index ?? a.index });
  if (d.done === true) a.done = true;
}

// delta.muse_contemplation (or message.muse_contemplation): the synthesis, and every agent's summary.
function applyContemplation(turn, c) {
  if (!c || typeof c !== 'object') return;
  const { agents, ...rest } = c;
  turn.contemplation = rest;
  if (Array.isArray(agents)) for (const s of agents) applySummary(turn, s);
}

// delta.muse_agents (or message.muse_agents): the sub-agent tree once it ended. Its root is the reply itself.
function applyTree(turn, t) {
  if (!t || typeof t !== 'object') return;
  const { agents, ...rest } = t;
  turn.tree = rest;
  if (Array.isArray(agents)) for (const s of agents) if (Number.isInteger(s?.parent)) applySummary(turn, s);
}

// The agents as a message stores them: no lookup tables, no empty fields.
export function storedAgents(agents) {
  return (agents ?? []).filter(Boolean).map((a) => {
    const out = { ...a };
    delete out.toolSlots;
    delete out.pendingResults;
    delete out.chunks;
    if (!out.tool_calls?.length) delete out.tool_calls;
    if (!out.tool_results || !Object.keys(out.tool_results).length) delete out.tool_results;
    return out;
  });
}

// Folds one parsed chunk (chat.completion.chunk, the usage chunk, or an in-stream {"error":...}) into the turn.
// Only choice 0 is shown (the app asks for n = 1). `now` is a millisecond clock for the timings.
export function applyChunk(turn, chunk, now = Date.now()) {
  if (!chunk || typeof chunk !== 'object') return turn;
  if (chunk.error) {
    const e = chunk.error;
    turn.error =
      typeof e === 'object'
        ? { status: 0, message: e.message ?? 'error', type: e.type ?? null, param: e.param ?? null, code: e.code ?? null }
        : { status: 0, message: String(e) };
    return turn;
  }
  if (chunk.id && !turn.id) turn.id = chunk.id;
  if (chunk.model) turn.model = chunk.model;
  if (chunk.usage) turn.usage = chunk.usage;
  if (chunk.timings) turn.timings = chunk.timings;
  for (const choice of chunk.choices ?? []) {
    if ((choice.index ?? 0) !== 0) continue;
    const d = choice.delta ?? choice.message ?? {};
    const r = d.reasoning_content ?? d.reasoning;
    if (typeof r === 'string' && r) {
      turn.reasoning += r;
      turn.reasoningChunks++;
      turn.firstTokenAt ??= now;
      if (turn.phase === 'waiting') turn.phase = 'thinking';
    }
    if (typeof d.content === 'string' && d.content) {
      turn.content += d.content;
      turn.contentChunks++;
      turn.firstTokenAt ??= now;
      turn.answerStartedAt ??= now;
      turn.phase = 'answering';
    }
    if (Array.isArray(d.tool_calls)) {
      for (const t of d.tool_calls) mergeToolCall(turn, t);
      turn.firstTokenAt ??= now;
    }
    // Muse's built-in tools, run by the server while the model thinks: each call comes already run, with its
    // result in muse_tool_results of the same chunk (a non-streamed message carries it as the call's "result").
    if (Array.isArray(d.muse_tool_calls)) {
      for (const c of d.muse_tool_calls) {
        const t = mergeToolCall(turn, c, true);
        if (t && c.result && typeof c.result === 'object') mergeToolResult(turn, c.result, t.id);
      }
      turn.firstTokenAt ??= now;
    }
    if (d.muse_agent) {
      mergeAgent(turn, d.muse_agent);
      turn.firstTokenAt ??= now;
      if (turn.phase === 'waiting') turn.phase = 'thinking';
    }
    if (d.muse_contemplation) applyContemplation(turn, d.muse_contemplation);
    if (d.muse_agents) applyTree(turn, d.muse_agents);
    if (Array.isArray(d.muse_tool_results)) for (const res of d.muse_tool_results) mergeToolResult(turn, res);
    if (choice.finish_reason) turn.finish_reason = choice.finish_reason;
  }
  return turn;
}

// Per-message numbers from usage, the optional server `timings` (llama.cpp's shape) and the client's clock.
export function turnStats(turn, startedAt, endedAt) {
  const u = turn.usage ?? {};
  const t = turn.timings ?? null;
  const stats = {
    prompt_tokens: u.prompt_tokens ?? null,
    completion_tokens: u.completion_tokens ?? null,
    reasoning_tokens: u.completion_tokens_details?.reasoning_tokens ?? null,
    cached_tokens: u.prompt_tokens_details?.cached_tokens ?? null,
    total_ms: endedAt - startedAt,
    ttft_ms: turn.firstTokenAt !== null ? turn.firstTokenAt - startedAt : null,
    thinking_ms:
      turn.firstTokenAt !== null && turn.reasoning
        ? (turn.answerStartedAt ?? endedAt) - turn.firstTokenAt
        : null,
    tokens_per_s: null,
    prompt_per_s: null,
    source: 'client',
  };
  if (t && typeof t === 'object') {
    if (typeof t.predicted_per_second === 'number') stats.tokens_per_s = t.predicted_per_second;
    else if (typeof t.predicted_ms === 'number' && typeof t.predicted_n === 'number' && t.predicted_ms > 0)
      stats.tokens_per_s = (t.predicted_n * 1000) / t.predicted_ms;
    if (typeof t.prompt_per_second === 'number') stats.prompt_per_s = t.prompt_per_second;
    else if (typeof t.prompt_ms === 'number' && typeof t.prompt_n === 'number' && t.prompt_ms > 0)
      stats.prompt_per_s = (t.prompt_n * 1000) / t.prompt_ms;
    if (typeof t.prompt_ms === 'number') stats.prompt_ms = t.prompt_ms;
    if (typeof t.predicted_ms === 'number') stats.predicted_ms = t.predicted_ms;
    if (typeof t.cache_n === 'number' && stats.cached_tokens === null) stats.cached_tokens = t.cache_n;
    if (stats.tokens_per_s !== null) stats.source = 'server';
  }
  if (stats.tokens_per_s === null && stats.completion_tokens && turn.firstTokenAt !== null) {
    const ms = endedAt - turn.firstTokenAt;
    // the first token's own time is in the TTFT: n-1 tokens over the rest
    if (ms > 0 && stats.completion_tokens > 1) stats.tokens_per_s = ((stats.completion_tokens - 1) * 1000) / ms;
  }
  return stats;
}

// Rough count of the thinking's tokens while streaming (before usage arrives): one per 4 characters, the
// usual rule; replaced by usage's reasoning_tokens at the end.
export function estimateTokens(text) {
  return text ? Math.max(1, Math.round(text.length / 4)) : 0;
}

// ---------------------------------------------------------------- calls

// Streams one completion into `turn` (a fresh one by default, so what arrived before a failure is kept by the
// caller). onUpdate(turn) after every chunk. Resolves with the turn (turn.aborted when the
// signal fired, turn.incomplete when the stream ended without [DONE]); rejects with ApiError for an HTTP error
// or a network failure.
export async function streamChat({
  baseUrl = '',
  apiKey = '',
  body,
  signal,
  fetchImpl = globalThis.fetch,
  onUpdate = () => {},
  now = Date.now,
  turn = createTurn(),
}) {
  let res;
  try {
    res = await fetchImpl(`${baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', ...authHeaders(apiKey) },
      body: JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (e?.name === 'AbortError') {
      turn.aborted = true;
      return turn;
    }
    throw new ApiError({ status: 0, message: `cannot reach the server: ${e?.message ?? e}` });
  }
  if (!res.ok) throw parseApiError(res.status, await res.text().catch(() => ''));
  const type = res.headers?.get?.('content-type') ?? '';
  if (!type.includes('text/event-stream')) {
    // a server that answered the whole completion at once
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ApiError({ status: res.status, message: `unexpected response (${type || 'no content type'})` });
    }
    applyChunk(turn, json, now());
    turn.phase = 'done';
    onUpdate(turn);
    return turn;
  }
  let done = false;
  try {
    for await (const event of readSSE(res.body)) {
      const data = event.data.trim();
      if (data === '[DONE]') {
        done = true;
        break;
      }
      if (data === '') continue;
      let chunk;
      try {
        chunk = JSON.parse(data);
      } catch {
        continue; // not JSON: skip the event rather than lose the stream
      }
      applyChunk(turn, chunk, now());
      onUpdate(turn);
    }
  } catch (e) {
    if (e?.name === 'AbortError' || signal?.aborted) turn.aborted = true;
    else throw new ApiError({ status: 0, message: `the stream broke off: ${e?.message ?? e}` });
  }
  if (!done && !turn.aborted) {
    if (signal?.aborted) turn.aborted = true;
    else turn.incomplete = true;
  }
  turn.phase = 'done';
  onUpdate(turn);
  return turn;
}

// Asks the server to end the thinking now. Resolves {ok: true} on 200, {ok: false, finished: true} on 404 (the
// request already finished: nothing to do); rejects with ApiError otherwise.
export async function answerNow({ baseUrl = '', apiKey = '', id, fetchImpl = globalThis.fetch }) {
  if (!id) return { ok: false, finished: false };
  let res;
  try {
    res = await fetchImpl(`${baseUrl}/v1/chat/completions/${encodeURIComponent(id)}/answer_now`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...authHeaders(apiKey) },
      body: '{}',
    });
  } catch (e) {
    throw new ApiError({ status: 0, message: `cannot reach the server: ${e?.message ?? e}` });
  }
  if (res.status === 404) return { ok: false, finished: true };
  if (!res.ok) throw parseApiError(res.status, await res.text().catch(() => ''));
  return { ok: true };
}

export async function listModels({ baseUrl = '', apiKey = '', fetchImpl = globalThis.fetch } = {}) {
  let res;
  try {
    res = await fetchImpl(`${baseUrl}/v1/models`, { headers: authHeaders(apiKey) });
  } catch (e) {
    throw new ApiError({ status: 0, message: `cannot reach the server: ${e?.message ?? e}` });
  }
  if (!res.ok) throw parseApiError(res.status, await res.text().catch(() => ''));
  const json = await res.json();
  return (json.data ?? []).map((m) => ({ id: m.id, context_length: m.context_length ?? null }));
}

// ---------------------------------------------------------------- tool calls

export function parseArguments(text) {
  if (text && typeof text === 'object') return text;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// A zoom call's box [x0, y0, x1, y1] in pixels of an image of width × height, from its arguments; null when
// there is none that can be drawn. Accepts {"box": [...]}, {"bbox": [...]}, {"bbox_2d": [...]} or the array
// itself, with an optional "unit": absent or "pixel" (pixels), "normalized" (0-1, multiplied by the image's
// size); any other unit ("patch": the model's own grid) cannot be drawn from the arguments alone.
export function zoomPixels(args, width, height) {
  const a = parseArguments(args);
  const box = Array.isArray(a) ? a : a?.box ?? a?.bbox ?? a?.bbox_2d;
  if (!isBox(box)) return null;
  const unit = Array.isArray(a) || a?.unit === undefined || a?.unit === null ? 'pixel' : String(a.unit).toLowerCase();
  if (unit === 'pixel' || unit === 'pixels' || unit === 'px') return box.slice();
  if (unit === 'normalized') {
    if (!(width > 0 && height > 0)) return null;
    return [box[0] * width, box[1] * height, box[2] * width, box[3] * height];
  }
  return null;
}

// A box in pixels as CSS percentages of its image, clamped to it: {left, top, width, height}; null without a size.
export function boxPercent(box, width, height) {
  if (!isBox(box) || !(width > 0 && height > 0)) return null;
  let [x0, y0, x1, y1] = box;
  if (x1 < x0) [x0, x1] = [x1, x0];
  if (y1 < y0) [y0, y1] = [y1, y0];
  const cx = (v) => Math.min(width, Math.max(0, v));
  const cy = (v) => Math.min(height, Math.max(0, v));
  const pct = (v, total) => Math.round((v / total) * 10000) / 100;
  return {
    left: pct(cx(x0), width),
    top: pct(cy(y0), height),
    width: pct(cx(x1) - cx(x0), width),
    height: pct(cy(y1) - cy(y0), height),
  };
}

// A zoom call's box (from its arguments, see zoomPixels) as CSS percentages of the image, with the "image"
// argument (null when absent); null when the arguments are not a box that can be drawn.
export function zoomBox(args, width, height) {
  const a = parseArguments(args);
  const px = zoomPixels(a, width, height);
  const pct = px && boxPercent(px, width, height);
  if (!pct) return null;
  return { ...pct, image: Number.isInteger(a?.image) ? a.image : null };
}

// Tool calls as a tree: a call whose muse_parent is another call's id (a "spawn") nests under it.
// Returns [{call, result, children: [...]}] roots in order.
export function toolTree(calls, results = {}) {
  const nodes = calls.map((call) => ({ call, result: results[call.id] ?? null, children: [] }));
  const byId = new Map(nodes.filter((n) => n.call.id).map((n) => [n.call.id, n]));
  const roots = [];
  for (const n of nodes) {
    const parent = n.call.muse_parent ? byId.get(n.call.muse_parent) : null;
    if (parent && parent !== n) parent.children.push(n);
    else roots.push(n);
  }
  return roots;
}
