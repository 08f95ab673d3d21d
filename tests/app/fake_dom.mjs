// A small fake DOM, enough to run app/app.js under node (tests/app/app_dom.test.mjs): elements parsed from
// app/index.html (and from innerHTML), attributes, classList, dataset, style, events with bubbling, simple
// selectors (tag, #id, .class, [attr], [attr="v"], descendant combinator, comma lists). No layout.

const VOID = new Set(['br', 'hr', 'img', 'input', 'meta', 'link', 'source', 'wbr']);
const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: '\u00a0' };
const decode = (s) => s.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (m, e) => {
  if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  return ENTITIES[e] ?? m;
});

class Event {
  constructor(type, init = {}) {
    this.type = type;
    this.bubbles = !!init.bubbles;
    this.defaultPrevented = false;
    this.propagationStopped = false;
    Object.assign(this, init);
  }
  preventDefault() {
    this.defaultPrevented = true;
  }
  stopPropagation() {
    this.propagationStopped = true;
  }
}

class Node {
  constructor(doc) {
    this.ownerDocument = doc;
    this.parentNode = null;
    this.childNodes = [];
    this.listeners = {};
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  removeEventListener(type, fn) {
    this.listeners[type] = (this.listeners[type] ?? []).filter((f) => f !== fn);
  }
  dispatchEvent(event) {
    if (!event.target) event.target = this;
    event.currentTarget = this;
    for (const fn of [...(this.listeners[event.type] ?? [])]) fn.call(this, event);
    return !event.defaultPrevented;
  }
  get textContent() {
    return this.childNodes.map((c) => c.textContent).join('');
  }
  set textContent(v) {
    this.replaceChildren(...(v === '' || v === null || v === undefined ? [] : [String(v)]));
  }
  toNode(c) {
    return c instanceof Node ? c : new Text(this.ownerDocument, String(c));
  }
  append(...cs) {
    for (const c of cs) {
      const n = this.toNode(c);
      n.remove();
      n.parentNode = this;
      this.childNodes.push(n);
    }
  }
  prepend(...cs) {
    const nodes = cs.map((c) => this.toNode(c));
    for (const n of nodes) {
      n.remove();
      n.parentNode = this;
    }
    this.childNodes.unshift(...nodes);
  }
  replaceChildren(...cs) {
    for (const c of this.childNodes) c.parentNode = null;
    this.childNodes = [];
    this.append(...cs);
  }
  remove() {
    if (!this.parentNode) return;
    const p = this.parentNode;
    p.childNodes = p.childNodes.filter((c) => c !== this);
    this.parentNode = null;
  }
  replaceWith(n) {
    const p = this.parentNode;
    if (!p) return;
    const k = p.childNodes.indexOf(this);
    n.remove();
    p.childNodes[k] = n;
    n.parentNode = p;
    this.parentNode = null;
  }
  get isConnected() {
    let n = this;
    while (n.parentNode) n = n.parentNode;
    return n === this.ownerDocument?.documentElement || n === this.ownerDocument;
  }
}

class Text extends Node {
  constructor(doc, text) {
    super(doc);
    this.data = text;
  }
  get textContent() {
    return this.data;
  }
  set textContent(v) {
    this.data = String(v);
  }
}

const BOOL_PROPS = ['hidden', 'disabled', 'checked', 'open', 'multiple', 'selected'];

class Element extends Node {
  constructor(doc, tag) {
    super(doc);
    this.tagName = tag.toUpperCase();
    this.localName = tag.toLowerCase();
    this.attributes = new Map();
    this.style = {};
    this._value = null;
    this.scrollTop = 0;
    this.scrollHeight = 0;
    this.clientHeight = 0;
    const el = this;
    this.classList = {
      get list() {
        return (el.getAttribute('class') ?? '').split(/\s+/).filter(Boolean);
      },
      contains: (c) => el.classList.list.includes(c),
      add: (...cs) => el.setAttribute('class', [...new Set([...el.classList.list, ...cs])].join(' ')),
      remove: (...cs) => el.setAttribute('class', el.classList.list.filter((x) => !cs.includes(x)).join(' ')),
      toggle: (c, force) => {
        const on = force ?? !el.classList.contains(c);
        if (on) el.classList.add(c);
        else el.classList.remove(c);
        return on;
      },
    };
    this.dataset = new Proxy({}, {
      get: (_, k) => el.getAttribute(`data-${String(k).replace(/[A-Z]/g, (m) => '-' + m.toLowerCase())}`) ?? undefined,
      set: (_, k, v) => (el.setAttribute(`data-${String(k)}`, v), true),
      deleteProperty: (_, k) => (el.removeAttribute(`data-${String(k)}`), true),
    });
    for (const p of BOOL_PROPS)
      Object.defineProperty(this, p, {
        get: () => this.attributes.has(p),
        set: (v) => {
          const was = this.attributes.has(p);
          if (v) this.attributes.set(p, '');
          else this.attributes.delete(p);
          if (p === 'open' && was !== !!v && this.localName === 'details')
            queueMicrotask(() => this.dispatchEvent(new Event('toggle')));
        },
        configurable: true,
      });
  }
  getAttribute(k) {
    return this.attributes.has(k) ? this.attributes.get(k) : null;
  }
  setAttribute(k, v) {
    this.attributes.set(k, String(v));
  }
  removeAttribute(k) {
    this.attributes.delete(k);
  }
  hasAttribute(k) {
    return this.attributes.has(k);
  }
  get id() {
    return this.getAttribute('id') ?? '';
  }
  get className() {
    return this.getAttribute('class') ?? '';
  }
  set className(v) {
    this.setAttribute('class', v);
  }
  get children() {
    return this.childNodes.filter((c) => c instanceof Element);
  }
  get value() {
    if (this._value !== null) return this._value;
    if (this.localName === 'select') {
      const opts = this.querySelectorAll('option');
      const sel = opts.find((o) => o.selected) ?? opts[0];
      return sel ? sel.value : '';
    }
    if (this.localName === 'option') return this.getAttribute('value') ?? this.textContent;
    if (this.localName === 'textarea') return this.textContent;
    return this.getAttribute('value') ?? '';
  }
  set value(v) {
    if (this.localName === 'select') {
      for (const o of this.querySelectorAll('option')) o.selected = o.value === String(v);
      return;
    }
    this._value = String(v);
  }
  get options() {
    return this.querySelectorAll('option');
  }
  get files() {
    return this._files ?? [];
  }
  get innerHTML() {
    return serialize(this.childNodes);
  }
  set innerHTML(html) {
    this.replaceChildren(...parseHTML(this.ownerDocument, html));
  }
  get selectionStart() {
    return this.value.length;
  }
  get selectionEnd() {
    return this.value.length;
  }
  setRangeText(text) {
    this.value = this.value + text;
  }
  focus() {
    this.ownerDocument.activeElement = this;
  }
  blur() {}
  select() {}
  click() {
    if (this.disabled) return;
    this.dispatchEvent(new Event('click', { bubbles: true }));
    if (this.localName === 'input' && this.getAttribute('type') === 'radio') {
      const name = this.getAttribute('name');
      for (const r of this.ownerDocument.querySelectorAll(`input[name="${name}"]`)) r.checked = r === this;
      this.dispatchEvent(new Event('change', { bubbles: true }));
    }
    if (this.getAttribute('type') === 'submit') {
      const form = this.closest('form');
      if (form) form.dispatchEvent(new Event('submit', { bubbles: true }));
    }
  }
  showModal() {
    this.open = true;
  }
  close() {
    this.open = false;
    this.dispatchEvent(new Event('close'));
  }
  getBoundingClientRect() {
    return { left: 0, top: 0, right: 0, bottom: 0, width: 0, height: 0 };
  }
  matches(selector) {
    return selector.split(',').some((s) => matchComplex(this, s.trim()));
  }
  closest(selector) {
    for (let n = this; n instanceof Element; n = n.parentNode) if (n.matches(selector)) return n;
    return null;
  }
  querySelectorAll(selector) {
    const out = [];
    const walk = (n) => {
      for (const c of n.childNodes)
        if (c instanceof Element) {
          if (c.matches(selector)) out.push(c);
          walk(c);
        }
    };
    walk(this);
    return out;
  }
  querySelector(selector) {
    return this.querySelectorAll(selector)[0] ?? null;
  }
}

// ---- selectors: compound = tag? (#id | .class | [attr] | [attr="v"] | :last-child)*; complex = compounds by spaces

function parseCompound(s) {
  const parts = { tag: null, id: null, classes: [], attrs: [], lastChild: false };
  const re = /^([a-zA-Z][\w-]*|\*)|#([\w-]+)|\.([\w-]+)|\[([\w-]+)(?:=(?:"([^"]*)"|'([^']*)'|([^\]]*)))?\]|:last-child/g;
  let m;
  while ((m = re.exec(s))) {
    if (m[0] === ':last-child') parts.lastChild = true;
    else if (m[1]) parts.tag = m[1] === '*' ? null : m[1].toLowerCase();
    else if (m[2]) parts.id = m[2];
    else if (m[3]) parts.classes.push(m[3]);
    else if (m[4]) parts.attrs.push([m[4], m[5] ?? m[6] ?? m[7] ?? null]);
    if (m[0] === '') re.lastIndex++;
  }
  return parts;
}
function matchCompound(el, c) {
  if (c.tag && el.localName !== c.tag) return false;
  if (c.id && el.id !== c.id) return false;
  for (const k of c.classes) if (!el.classList.contains(k)) return false;
  for (const [k, v] of c.attrs) {
    if (!el.hasAttribute(k)) return false;
    if (v !== null && el.getAttribute(k) !== v) return false;
  }
  if (c.lastChild && el.parentNode && el.parentNode.children.at(-1) !== el) return false;
  return true;
}
function matchComplex(el, selector) {
  const compounds = selector.split(/\s+/).filter(Boolean).map(parseCompound);
  if (!matchCompound(el, compounds.at(-1))) return false;
  let n = el.parentNode;
  for (let k = compounds.length - 2; k >= 0; k--) {
    while (n instanceof Element && !matchCompound(n, compounds[k])) n = n.parentNode;
    if (!(n instanceof Element)) return false;
    n = n.parentNode;
  }
  return true;
}

// ---- HTML: enough for index.html and the renderer's output

export function parseHTML(doc, html) {
  const root = new Element(doc, 'fragment');
  let cur = root;
  const re = /<!--[\s\S]*?-->|<!doctype[^>]*>|<\/([a-zA-Z0-9]+)\s*>|<([a-zA-Z0-9]+)((?:\s+[^\s=>/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*(\/?)>|([^<]+|<)/gi;
  let m;
  let rawUntil = null;
  while ((m = re.exec(html))) {
    if (rawUntil) {
      // script/style content: skip to the closing tag
      const end = html.toLowerCase().indexOf(`</${rawUntil}`, m.index);
      re.lastIndex = end < 0 ? html.length : html.indexOf('>', end) + 1;
      cur = cur.parentNode;
      rawUntil = null;
      continue;
    }
    if (m[1]) {
      const tag = m[1].toLowerCase();
      for (let n = cur; n && n !== root; n = n.parentNode)
        if (n.localName === tag) {
          cur = n.parentNode;
          break;
        }
    } else if (m[2]) {
      const el = new Element(doc, m[2].toLowerCase());
      const attrRe = /([^\s=>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
      let a;
      while ((a = attrRe.exec(m[3] ?? ''))) el.setAttribute(a[1].toLowerCase(), decode(a[2] ?? a[3] ?? a[4] ?? ''));
      cur.append(el);
      if (el.localName === 'script' || el.localName === 'style') {
        cur = el;
        rawUntil = el.localName;
      } else if (!VOID.has(el.localName) && !m[4]) cur = el;
    } else if (m[5] !== undefined && !/^<!/.test(m[0])) {
      cur.append(new Text(doc, decode(m[5])));
    }
  }
  return [...root.childNodes];
}

function serialize(nodes) {
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return nodes
    .map((n) => {
      if (n instanceof Text) return esc(n.data);
      const attrs = [...n.attributes].map(([k, v]) => ` ${k}="${esc(v).replace(/"/g, '&quot;')}"`).join('');
      return VOID.has(n.localName) ? `<${n.localName}${attrs}>` : `<${n.localName}${attrs}>${serialize(n.childNodes)}</${n.localName}>`;
    })
    .join('');
}

export class Document extends Node {
  constructor(html) {
    super(null);
    this.ownerDocument = this;
    this.activeElement = null;
    this.title = '';
    const nodes = parseHTML(this, html);
    this.documentElement = nodes.find((n) => n instanceof Element && n.localName === 'html');
    this.body = this.documentElement.querySelector('body');
    this.head = this.documentElement.querySelector('head');
    this.documentElement.parentNode = null;
  }
  createElement(tag) {
    return new Element(this, tag);
  }
  getElementById(id) {
    return this.documentElement.querySelector(`#${id}`);
  }
  querySelector(s) {
    return this.documentElement.matches(s) ? this.documentElement : this.documentElement.querySelector(s);
  }
  querySelectorAll(s) {
    return this.documentElement.querySelectorAll(s);
  }
  execCommand() {
    return false;
  }
  dispatchEvent(event) {
    if (!event.target) event.target = this;
    event.currentTarget = this;
    for (const fn of [...(this.listeners[event.type] ?? [])]) fn.call(this, event);
    return !event.defaultPrevented;
  }
}

// Element events bubble up through their ancestors, then to the document when connected.
Element.prototype.dispatchEvent = function (event) {
  if (!event.target) event.target = this;
  for (let n = this; n; n = n.parentNode) {
    event.currentTarget = n;
    for (const fn of [...(n.listeners[event.type] ?? [])]) fn.call(n, event);
    if (!event.bubbles || event.propagationStopped) return !event.defaultPrevented;
  }
  if (this.isConnected) Document.prototype.dispatchEvent.call(this.ownerDocument, event);
  return !event.defaultPrevented;
};

export { Event, Element, Text };

export function memoryStorage() {
  const map = new Map();
  return {
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => map.set(k, String(v)),
    removeItem: (k) => map.delete(k),
    clear: () => map.clear(),
  };
}
