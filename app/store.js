// Conversations and settings kept in the browser (localStorage, or any object with getItem/setItem/removeItem:
// the tests pass a fake). All conversations live under one key as one JSON document:
//   {"format": "muse-conversations", "version": 1, "conversations": [Conversation...]}
// the same document export() writes and import() reads.
//
// Conversation: {id, title, created, updated, messages: [Message...]}
// Message: {id, role: "system"|"user"|"assistant"|"tool", content: string,
//   attachments?: [{kind:"image", name, url (data URL), width, height} | {kind:"table", name, format, csv|json}],
//   reasoning?, tool_calls?, tool_results?, tool_call_id?, agents?, usage?, timings?, stats?, error?,
//   finish_reason?, request_id?, mode?, contemplation?, tree?}
// Contemplating (mode "contemplating"): agents: [{index, reasoning, content, tool_calls?, tool_results?, done,
//   answer?, temperature?, confidence?, tokens?, thinking_tokens?, stop?, finish_reason?, counted?, weight?}],
//   contemplation: {synthesis, agents_requested, winner, support, winner_votes, threshold, consensus_stop, tokens}.
//   Neither is ever sent back to the server (the history is role/content, as for any answer).
// Sub-agents (Standard with muse_spawn): agents are the ones the reply spawned, each with parent, depth and task
//   (the root is the message itself); tree: {tokens, seconds, timed_out, refused_spawns}.
// A tool call: {id, type, function: {name, arguments}, muse_parent?} and, for one the server ran itself
// (muse_tool_calls), muse_server: true, muse_box?, muse_image?, is_error?, muse_crop?; tool_results maps a call's
// id to its result text.

export const FORMAT = 'muse-conversations';
export const VERSION = 1;
const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

let counter = 0;
export function newId(prefix = 'c') {
  counter = (counter + 1) % 1e6;
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}${counter.toString(36)}`;
}

// A title from the first user message: its first line, at most 48 characters.
export function titleFrom(text) {
  const line = String(text ?? '').split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
  if (line === '') return 'New chat';
  return line.length > 48 ? line.slice(0, 47) + '…' : line;
}

// ---------------------------------------------------------------- validation

function fail(path, what) {
  throw new Error(`${path}: ${what}`);
}

function checkAttachment(a, path) {
  if (a === null || typeof a !== 'object' || Array.isArray(a)) fail(path, 'must be an object');
  if (a.kind === 'image') {
    if (typeof a.url !== 'string') fail(`${path}.url`, 'must be a string (a data: URL)');
    if (a.url !== '' && !/^data:image\/(png|jpe?g|gif|webp);base64,/i.test(a.url))
      fail(`${path}.url`, 'must be a data:image/...;base64 URL');
  } else if (a.kind === 'table') {
    if (a.format === 'csv') {
      if (typeof a.csv !== 'string') fail(`${path}.csv`, 'must be a string');
    } else if (a.format === 'json') {
      if (!('json' in a)) fail(`${path}.json`, 'is missing');
    } else fail(`${path}.format`, "must be 'csv' or 'json'");
  } else fail(`${path}.kind`, "must be 'image' or 'table'");
}

function checkMessage(m, path) {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) fail(path, 'must be an object');
  if (!ROLES.has(m.role)) fail(`${path}.role`, `must be one of system, user, assistant, tool (got ${JSON.stringify(m.role)})`);
  if (m.content !== undefined && m.content !== null && typeof m.content !== 'string')
    fail(`${path}.content`, 'must be a string');
  if (m.id !== undefined && typeof m.id !== 'string') fail(`${path}.id`, 'must be a string');
  if (m.reasoning !== undefined && m.reasoning !== null && typeof m.reasoning !== 'string')
    fail(`${path}.reasoning`, 'must be a string');
  if (m.attachments !== undefined) {
    if (!Array.isArray(m.attachments)) fail(`${path}.attachments`, 'must be an array');
    m.attachments.forEach((a, k) => checkAttachment(a, `${path}.attachments[${k}]`));
  }
  if (m.agents !== undefined) {
    if (!Array.isArray(m.agents)) fail(`${path}.agents`, 'must be an array');
    m.agents.forEach((a, k) => {
      if (a === null || typeof a !== 'object' || Array.isArray(a)) fail(`${path}.agents[${k}]`, 'must be an object');
      if (a.tool_calls !== undefined && !Array.isArray(a.tool_calls)) fail(`${path}.agents[${k}].tool_calls`, 'must be an array');
    });
  }
  if (m.contemplation !== undefined && m.contemplation !== null && (typeof m.contemplation !== 'object' || Array.isArray(m.contemplation)))
    fail(`${path}.contemplation`, 'must be an object');
  if (m.tree !== undefined && m.tree !== null && (typeof m.tree !== 'object' || Array.isArray(m.tree)))
    fail(`${path}.tree`, 'must be an object');
  if (m.tool_calls !== undefined) {
    if (!Array.isArray(m.tool_calls)) fail(`${path}.tool_calls`, 'must be an array');
    m.tool_calls.forEach((t, k) => {
      if (t === null || typeof t !== 'object' || typeof t.function !== 'object' || t.function === null)
        fail(`${path}.tool_calls[${k}]`, "must be an object with 'function'");
    });
  }
}

function checkConversation(c, path) {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) fail(path, 'must be an object');
  if (c.title !== undefined && typeof c.title !== 'string') fail(`${path}.title`, 'must be a string');
  if (!Array.isArray(c.messages)) fail(`${path}.messages`, 'must be an array');
  c.messages.forEach((m, k) => checkMessage(m, `${path}.messages[${k}]`));
}

// Parses an export file's text. Accepts the export document or a bare array of conversations. Returns the
// normalized conversations; throws Error naming the first problem ("conversations[2].messages[0].role: ...").
export function parseExport(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`not a JSON file (${e.message})`);
  }
  let list;
  if (Array.isArray(doc)) list = doc;
  else if (doc && typeof doc === 'object') {
    if (doc.format !== undefined && doc.format !== FORMAT)
      throw new Error(`not a Muse conversations file (format ${JSON.stringify(doc.format)})`);
    if (typeof doc.version === 'number' && doc.version > VERSION)
      throw new Error(`made by a newer app (version ${doc.version}; this app reads ${VERSION})`);
    if (!Array.isArray(doc.conversations)) throw new Error("not a Muse conversations file (no 'conversations' array)");
    list = doc.conversations;
  } else throw new Error('not a Muse conversations file');
  list.forEach((c, k) => checkConversation(c, `conversations[${k}]`));
  return list.map(normalizeConversation);
}

function normalizeConversation(c) {
  const now = Date.now();
  return {
    id: typeof c.id === 'string' && c.id ? c.id : newId('c'),
    title: typeof c.title === 'string' && c.title.trim() ? c.title : titleFrom(c.messages.find((m) => m.role === 'user')?.content),
    created: typeof c.created === 'number' ? c.created : now,
    updated: typeof c.updated === 'number' ? c.updated : now,
    messages: c.messages.map((m) => ({ ...m, id: typeof m.id === 'string' && m.id ? m.id : newId('m'), content: m.content ?? '' })),
  };
}

// ---------------------------------------------------------------- the store

export function createStore(storage, key = 'muse.conversations') {
  let conversations = [];
  let lastSaveError = null;

  function load() {
    conversations = [];
    const text = storage.getItem(key);
    if (!text) return conversations;
    try {
      conversations = parseExport(text);
    } catch (e) {
      // A damaged document is kept aside (not overwritten) and reported.
      storage.setItem(`${key}.damaged`, text);
      lastSaveError = new Error(`the saved conversations could not be read (${e.message}); kept as ${key}.damaged`);
    }
    return conversations;
  }

  function serialize(list) {
    return JSON.stringify({ format: FORMAT, version: VERSION, conversations: list });
  }

  // Saves everything. When the browser's quota is exceeded, images are dropped from the oldest conversations
  // first (they are the bulk) and the save retried; the returned note says what was dropped.
  function save() {
    lastSaveError = null;
    try {
      storage.setItem(key, serialize(conversations));
      return { ok: true };
    } catch (e) {
      if (!isQuota(e)) {
        lastSaveError = e;
        return { ok: false, error: e };
      }
    }
    const order = [...conversations].sort((a, b) => a.updated - b.updated);
    let dropped = 0;
    for (const c of order) {
      for (const m of c.messages)
        for (const a of m.attachments ?? [])
          if (a.kind === 'image' && a.url) {
            a.url = '';
            a.dropped = true;
            dropped++;
          }
      try {
        storage.setItem(key, serialize(conversations));
        return { ok: true, note: `browser storage is full: ${dropped} image(s) of older conversations were not kept` };
      } catch (e) {
        if (!isQuota(e)) return { ok: false, error: e };
      }
    }
    lastSaveError = new Error('browser storage is full: export and delete some conversations');
    return { ok: false, error: lastSaveError };
  }

  const find = (id) => conversations.find((c) => c.id === id) ?? null;
  const touch = (c) => {
    c.updated = Date.now();
  };

  return {
    load,
    save,
    get lastError() {
      return lastSaveError;
    },
    // newest first
    list: () => [...conversations].sort((a, b) => b.updated - a.updated),
    get: find,
    create(title = 'New chat') {
      const now = Date.now();
      const c = { id: newId('c'), title, created: now, updated: now, messages: [] };
      conversations.push(c);
      return c;
    },
    rename(id, title) {
      const c = find(id);
      if (!c) return null;
      c.title = String(title).trim() || c.title;
      touch(c);
      return c;
    },
    remove(id) {
      const before = conversations.length;
      conversations = conversations.filter((c) => c.id !== id);
      return conversations.length !== before;
    },
    addMessage(id, message) {
      const c = find(id);
      if (!c) throw new Error(`no conversation ${id}`);
      const m = { id: newId('m'), content: '', ...message };
      c.messages.push(m);
      if (m.role === 'user' && c.title === 'New chat') c.title = titleFrom(m.content || m.attachments?.[0]?.name);
      touch(c);
      return m;
    },
    updateMessage(id, messageId, fields) {
      const c = find(id);
      const m = c?.messages.find((x) => x.id === messageId);
      if (!m) return null;
      Object.assign(m, fields);
      touch(c);
      return m;
    },
    // Edit a user message: new content (and attachments, when given), and every message after it dropped.
    editMessage(id, messageId, content, attachments) {
      const c = find(id);
      const k = c ? c.messages.findIndex((x) => x.id === messageId) : -1;
      if (k < 0) return null;
      const m = c.messages[k];
      if (m.role !== 'user') throw new Error('only user messages can be edited');
      m.content = content;
      if (attachments !== undefined) m.attachments = attachments;
      c.messages.length = k + 1;
      touch(c);
      return m;
    },
    // Regenerate: drop the last answer (the messages after the last user message). Returns that user message.
    dropLastAnswer(id) {
      const c = find(id);
      if (!c) return null;
      let k = c.messages.length - 1;
      while (k >= 0 && c.messages[k].role !== 'user') k--;
      if (k < 0) return null;
      c.messages.length = k + 1;
      touch(c);
      return c.messages[k];
    },
    exportJSON() {
      return JSON.stringify({ format: FORMAT, version: VERSION, exported: new Date().toISOString(), conversations }, null, 2);
    },
    // Adds the file's conversations (validated first: nothing is added from a bad file). A conversation whose id
    // is already here is skipped when identical, else added under a new id. Returns {added, skipped}.
    importJSON(text) {
      const incoming = parseExport(text);
      let added = 0;
      let skipped = 0;
      for (const c of incoming) {
        const existing = find(c.id);
        if (existing) {
          if (JSON.stringify(existing.messages) === JSON.stringify(c.messages)) {
            skipped++;
            continue;
          }
          c.id = newId('c');
        }
        conversations.push(c);
        added++;
      }
      return { added, skipped };
    },
  };
}

function isQuota(e) {
  return (
    e &&
    (e.name === 'QuotaExceededError' || e.name === 'NS_ERROR_DOM_QUOTA_REACHED' || e.code === 22 || e.code === 1014)
  );
}

// Settings: one JSON object under its own key, merged over the defaults.
export const DEFAULT_SETTINGS = {
  apiKey: '',
  model: '',
  system: '',
  mode: 'standard', // "standard" | "contemplating"
  agents: 8, // Contemplating: muse_agents, 1-64
  synthesis: 'confidence', // Contemplating: muse_synthesis, "vote" | "confidence" | "online"
  effort: 'default', // "default" | "low" | "medium" | "high" | "custom"
  budget: 256, // thinking_budget_tokens when effort is "custom"
  temperature: null, // null: the server's default (greedy)
  maxTokens: null,
  tools: 'on', // "on" | "off": Muse's built-in tools, run server-side ("off" sends muse_tools: "off")
  spawn: 'on', // "on" | "off": Standard mode may spawn sub-agents ("on" sends muse_spawn: "on")
  theme: 'auto', // "auto" | "light" | "dark"
};

const SYNTHESES = ['vote', 'confidence', 'online'];

export function loadSettings(storage, key = 'muse.settings') {
  let s;
  try {
    const saved = JSON.parse(storage.getItem(key) || '{}');
    s = { ...DEFAULT_SETTINGS, ...(saved && typeof saved === 'object' ? saved : {}) };
  } catch {
    s = { ...DEFAULT_SETTINGS };
  }
  // values an older app saved (agents 2-8, synthesis best/merge) or a hand edit: back into range
  if (s.mode !== 'standard' && s.mode !== 'contemplating') s.mode = 'standard';
  const n = Math.round(Number(s.agents));
  s.agents = Number.isFinite(n) ? Math.min(64, Math.max(1, n)) : DEFAULT_SETTINGS.agents;
  if (!SYNTHESES.includes(s.synthesis)) s.synthesis = DEFAULT_SETTINGS.synthesis;
  if (s.spawn !== 'on' && s.spawn !== 'off') s.spawn = DEFAULT_SETTINGS.spawn;
  return s;
}

export function saveSettings(storage, settings, key = 'muse.settings') {
  storage.setItem(key, JSON.stringify(settings));
}
