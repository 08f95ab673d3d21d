// A small, safe Markdown renderer for model answers, and a TeX subset for math. Returns an HTML string in which
// every piece of the source text is escaped: the only tags are the ones written here, and link targets are
// limited to http(s) and mailto. Nothing is ever passed through as HTML.
//
// Blocks: paragraphs (a single newline is a line break), ATX headings, fenced code (``` or ~~~, with a copy
// button), indented lists (-, *, +, 1. 1)) nested by indentation, task-free GFM tables, blockquotes, rules,
// display math ($$...$$ or \[...\], on one line or many). Inline: `code`, **bold**, *italic*, _italic_, ~~del~~,
// [text](url), <url>, bare http(s) URLs, $math$, \(math\), backslash escapes.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]);
}

// ---------------------------------------------------------------- math

const SYMBOLS = {
  alpha: 'α', beta: 'β', gamma: 'γ', delta: 'δ', epsilon: 'ϵ', varepsilon: 'ε', zeta: 'ζ', eta: 'η', theta: 'θ',
  vartheta: 'ϑ', iota: 'ι', kappa: 'κ', lambda: 'λ', mu: 'μ', nu: 'ν', xi: 'ξ', omicron: 'ο', pi: 'π', varpi: 'ϖ',
  rho: 'ρ', varrho: 'ϱ', sigma: 'σ', varsigma: 'ς', tau: 'τ', upsilon: 'υ', phi: 'ϕ', varphi: 'φ', chi: 'χ',
  psi: 'ψ', omega: 'ω', Gamma: 'Γ', Delta: 'Δ', Theta: 'Θ', Lambda: 'Λ', Xi: 'Ξ', Pi: 'Π', Sigma: 'Σ',
  Upsilon: 'Υ', Phi: 'Φ', Psi: 'Ψ', Omega: 'Ω',
  times: '×', cdot: '·', div: '÷', pm: '±', mp: '∓', ast: '∗', star: '⋆', circ: '∘', bullet: '•',
  le: '≤', leq: '≤', ge: '≥', geq: '≥', ne: '≠', neq: '≠', approx: '≈', equiv: '≡', sim: '∼', simeq: '≃',
  cong: '≅', propto: '∝', ll: '≪', gg: '≫', lt: '<', gt: '>',
  infty: '∞', partial: '∂', nabla: '∇', sum: '∑', prod: '∏', int: '∫', oint: '∮', sqrt: '√',
  to: '→', rightarrow: '→', leftarrow: '←', leftrightarrow: '↔', Rightarrow: '⇒', Leftarrow: '⇐',
  Leftrightarrow: '⇔', implies: '⇒', iff: '⇔', mapsto: '↦', gets: '←', uparrow: '↑', downarrow: '↓',
  in: '∈', notin: '∉', ni: '∋', subset: '⊂', subseteq: '⊆', supset: '⊃', supseteq: '⊇', cup: '∪', cap: '∩',
  emptyset: '∅', varnothing: '∅', forall: '∀', exists: '∃', neg: '¬', lnot: '¬', land: '∧', wedge: '∧', lor: '∨',
  vee: '∨', oplus: '⊕', otimes: '⊗', perp: '⊥', parallel: '∥', mid: '∣', angle: '∠', triangle: '△',
  ldots: '…', cdots: '⋯', dots: '…', vdots: '⋮', ddots: '⋱', prime: '′', degree: '°', hbar: 'ℏ', ell: 'ℓ',
  Re: 'ℜ', Im: 'ℑ', aleph: 'ℵ', mathbb: null, langle: '⟨', rangle: '⟩', lceil: '⌈', rceil: '⌉', lfloor: '⌊',
  rfloor: '⌋', vert: '|', Vert: '‖', lbrace: '{', rbrace: '}', backslash: '\\', percent: '%',
};
const FUNCTIONS = new Set(['sin', 'cos', 'tan', 'cot', 'sec', 'csc', 'arcsin', 'arccos', 'arctan', 'sinh', 'cosh',
  'tanh', 'log', 'ln', 'lg', 'exp', 'lim', 'max', 'min', 'sup', 'inf', 'det', 'gcd', 'mod', 'arg', 'deg', 'dim']);
const SPACES = { ',': '\u2009', ':': '\u2005', ';': '\u2004', '!': '', ' ': ' ', quad: '\u2003', qquad: '\u2003\u2003' };
const BLACKBOARD = { R: 'ℝ', N: 'ℕ', Z: 'ℤ', Q: 'ℚ', C: 'ℂ', P: 'ℙ' };

// Renders a TeX subset to HTML: ^ and _ (sup/sub), \frac, \sqrt, \text, \mathrm/\mathbf/\mathit/\mathbb,
// \left/\right (dropped), the symbols above, named functions upright, latin letters italic. An unknown command
// is shown verbatim (marked), never dropped.
export function renderMath(tex, display = false) {
  const p = { s: String(tex), i: 0 };
  const body = mathSeq(p, null);
  return display
    ? `<span class="math math-display" role="math">${body}</span>`
    : `<span class="math" role="math">${body}</span>`;
}

function mathSeq(p, close) {
  if ((p.depth = (p.depth ?? 0) + 1) > 40) {
    // groups nested this deep: the rest as text, no stack overflow
    const rest = escapeHtml(p.s.slice(p.i));
    p.i = p.s.length;
    p.depth--;
    return rest;
  }
  try {
    return mathSeqBody(p, close);
  } finally {
    p.depth--;
  }
}

const MATH_OPERATOR = /^\s*([(\[{=+−±×·÷,∓<>≤≥≠≈≡→←⇒⇔∈∉⊂⊆∼≃≅∝]|&lt;|&gt;)\s*$/;

function mathSeqBody(p, close) {
  let out = '';
  let afterOperand = false; // for telling a binary minus from a unary one
  const emit = (piece) => {
    out += piece;
    if (piece.trim() !== '') afterOperand = !MATH_OPERATOR.test(piece);
  };
  while (p.i < p.s.length) {
    const c = p.s[p.i];
    if (close && c === close) {
      p.i++;
      return out;
    }
    if (c === '-' || c === '+') {
      // binary (spaced) after an operand, unary (tight) at the start or after an operator or an opening
      p.i++;
      const sign = c === '-' ? '−' : '+';
      emit(afterOperand ? ` ${sign} ` : sign);
      continue;
    }
    if (c === '^' || c === '_') {
      p.i++;
      const arg = mathAtom(p);
      emit(c === '^' ? `<sup>${arg}</sup>` : `<sub>${arg}</sub>`);
      afterOperand = true;
      continue;
    }
    emit(mathAtom(p));
  }
  return out;
}

// A group's content (after "{"), or one atom.
function mathGroup(p) {
  skipSpaces(p);
  if (p.s[p.i] === '{') {
    p.i++;
    return mathSeq(p, '}');
  }
  return mathAtom(p);
}

function skipSpaces(p) {
  while (p.i < p.s.length && /\s/.test(p.s[p.i])) p.i++;
}

function rawGroup(p) {
  skipSpaces(p);
  if (p.s[p.i] !== '{') return p.i < p.s.length ? p.s[p.i++] : '';
  let depth = 0;
  const start = ++p.i;
  while (p.i < p.s.length) {
    const c = p.s[p.i];
    if (c === '\\') {
      p.i += 2;
      continue;
    }
    if (c === '{') depth++;
    if (c === '}') {
      if (depth === 0) break;
      depth--;
    }
    p.i++;
  }
  const text = p.s.slice(start, p.i);
  p.i++;
  return text;
}

function mathAtom(p) {
  if (p.i >= p.s.length) return '';
  const c = p.s[p.i];
  if (c === '{') {
    p.i++;
    return mathSeq(p, '}');
  }
  if (c === '}') {
    p.i++;
    return '';
  }
  if (c === '\\') return mathCommand(p);
  if (/[A-Za-z]/.test(c)) {
    p.i++;
    return `<i>${c}</i>`;
  }
  if (/\s/.test(c)) {
    skipSpaces(p); // TeX ignores spaces in math; operators get their own
    return '';
  }
  if (/[0-9.]/.test(c)) {
    const m = /^[0-9]*\.?[0-9]+|^[0-9]+/.exec(p.s.slice(p.i));
    const num = m ? m[0] : c;
    p.i += num.length;
    return escapeHtml(num);
  }
  p.i++;
  if (c === '-') return '−'; // as a group's first atom: unary
  if (c === '*') return '∗';
  if ('=<>'.includes(c)) return ` ${escapeHtml(c)} `;
  if (c === "'") return '′';
  if (c === '~') return '\u00a0';
  return escapeHtml(c);
}

function mathCommand(p) {
  const start = p.i;
  p.i++; // the backslash
  const m = /^[A-Za-z]+/.exec(p.s.slice(p.i));
  if (!m) {
    const c = p.s[p.i] ?? '';
    p.i++;
    if (c in SPACES) return SPACES[c];
    if (c === '\\') return '<br>';
    return escapeHtml(c); // \{ \} \$ \% \_ \& \#
  }
  const name = m[0];
  p.i += name.length;
  if (name === 'frac' || name === 'dfrac' || name === 'tfrac') {
    const num = mathGroup(p);
    const den = mathGroup(p);
    return `<span class="frac"><span class="num">${num}</span><span class="den">${den}</span></span>`;
  }
  if (name === 'sqrt') {
    skipSpaces(p);
    let index = '';
    if (p.s[p.i] === '[') {
      const end = p.s.indexOf(']', p.i);
      if (end > 0) {
        index = `<sup class="root-index">${mathSeq({ s: p.s.slice(p.i + 1, end), i: 0 }, null)}</sup>`;
        p.i = end + 1;
      }
    }
    return `${index}√<span class="sqrt">${mathGroup(p)}</span>`;
  }
  if (name === 'text' || name === 'mathrm' || name === 'operatorname' || name === 'textrm') {
    return `<span class="upright">${escapeHtml(rawGroup(p))}</span>`;
  }
  if (name === 'mathbf' || name === 'textbf' || name === 'boldsymbol') return `<b>${mathGroup(p)}</b>`;
  if (name === 'mathit' || name === 'textit') return `<i>${escapeHtml(rawGroup(p))}</i>`;
  if (name === 'mathbb') {
    const g = rawGroup(p);
    return escapeHtml([...g].map((ch) => BLACKBOARD[ch] ?? ch).join(''));
  }
  if (name === 'overline' || name === 'bar') return `<span class="overline">${mathGroup(p)}</span>`;
  if (name === 'hat') return `${mathGroup(p)}\u0302`;
  if (name === 'vec') return `${mathGroup(p)}\u20d7`;
  if (name === 'left' || name === 'right' || name === 'big' || name === 'Big' || name === 'bigg' || name === 'displaystyle') {
    return '';
  }
  if (name === 'pmod') return ` (mod ${mathGroup(p)})`;
  if (name === 'bmod') return ' mod ';
  if (name in SPACES) return SPACES[name];
  if (FUNCTIONS.has(name)) return `<span class="upright">${name}</span>`;
  if (SYMBOLS[name]) {
    const sym = SYMBOLS[name];
    return /^[=<>≤≥≠≈≡→←⇒⇔∈∉⊂⊆×·÷±∼≃≅∝]$/.test(sym) ? ` ${escapeHtml(sym)} ` : escapeHtml(sym);
  }
  return `<span class="tex-unknown">${escapeHtml(p.s.slice(start, p.i))}</span>`;
}

// ---------------------------------------------------------------- inline

// Nesting deeper than this (lists in lists, emphasis in emphasis) is shown as text: no stack overflow.
const MAX_DEPTH = 12;

const PUNCT = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export function safeUrl(url) {
  const u = String(url).trim();
  if (/^(https?:\/\/|mailto:)/i.test(u)) return u;
  return null;
}

function link(text, href) {
  const url = safeUrl(href);
  if (!url) return `${text} (${escapeHtml(href)})`;
  const shown = text === escapeHtml(url) ? '' : ` <span class="href">(${escapeHtml(url)})</span>`;
  return `<a href="${escapeHtml(url)}" rel="noopener noreferrer" target="_blank">${text}</a>${shown}`;
}

// Inline math with $: the opening $ is not followed by a space, the closing $ is not preceded by one and not
// followed by a digit (so "$5 and $10" stays text).
function findDollarClose(s, from) {
  for (let j = from; j < s.length; j++) {
    if (s[j] === '\\') {
      j++;
      continue;
    }
    if (s[j] === '$') {
      if (j === from || /\s/.test(s[j - 1]) || /[0-9]/.test(s[j + 1] ?? '')) return -1;
      return j;
    }
  }
  return -1;
}

// Where a single * or _ can close emphasis: not doubled, not after a space or a backslash, not before a letter
// or digit. Found once per string (then a binary search per opener), so odd text with many stars stays fast.
function emphasisClosers(s, c) {
  const out = [];
  for (let j = 1; j < s.length; j++) {
    if (s[j] !== c || s[j + 1] === c || s[j - 1] === c || s[j - 1] === '\\' || /\s/.test(s[j - 1])) continue;
    if (/[\p{L}\p{N}_]/u.test(s[j + 1] ?? '')) continue;
    out.push(j);
  }
  return out;
}

export function renderInline(s, depth = 0) {
  if (depth > MAX_DEPTH) return escapeHtml(s);
  const closers = {};
  // indexOf that remembers a delimiter found nowhere after some point (then nowhere after a later one either):
  // a text with thousands of unclosed delimiters stays linear.
  const absent = new Map();
  const find = (d, from) => {
    if (absent.has(d) && absent.get(d) <= from) return -1;
    const k = s.indexOf(d, from);
    if (k < 0) absent.set(d, from);
    return k;
  };
  let out = '';
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s[i];
    const rest = s.slice(i);
    if (c === '\\') {
      if (s[i + 1] === '(' || s[i + 1] === '[') {
        const closer = s[i + 1] === '(' ? '\\)' : '\\]';
        const end = find(closer, i + 2);
        if (end > 0) {
          out += renderMath(s.slice(i + 2, end), s[i + 1] === '[');
          i = end + 2;
          continue;
        }
      }
      if (i + 1 < n && PUNCT.includes(s[i + 1])) {
        out += escapeHtml(s[i + 1]);
        i += 2;
        continue;
      }
      out += '\\';
      i++;
      continue;
    }
    if (c === '`') {
      const run = /^`+/.exec(rest)[0];
      const end = find(run, i + run.length);
      if (end > 0) {
        let code = s.slice(i + run.length, end);
        if (/^ .* $/.test(code) && code.trim() !== '') code = code.slice(1, -1);
        out += `<code>${escapeHtml(code)}</code>`;
        i = end + run.length;
        continue;
      }
      out += escapeHtml(run);
      i += run.length;
      continue;
    }
    if (c === '$') {
      if (s[i + 1] === '$') {
        const end = find('$$', i + 2);
        if (end > i + 2) {
          out += renderMath(s.slice(i + 2, end), true);
          i = end + 2;
          continue;
        }
      } else if (i + 1 < n && !/\s/.test(s[i + 1])) {
        const end = findDollarClose(s, i + 1);
        if (end > 0) {
          out += renderMath(s.slice(i + 1, end), false);
          i = end + 1;
          continue;
        }
      }
      out += '$';
      i++;
      continue;
    }
    if ((c === '*' || c === '_') && s[i + 1] === c) {
      const d = c + c;
      const end = find(d, i + 2);
      const prevWord = i > 0 && /[\p{L}\p{N}_]/u.test(s[i - 1]);
      const nextWord = /[\p{L}\p{N}_]/u.test(s[end + 2] ?? '');
      if (end > i + 2 && !prevWord && !nextWord && !/\s/.test(s[i + 2]) && !/\s/.test(s[end - 1])) {
        out += `<strong>${renderInline(s.slice(i + 2, end), depth + 1)}</strong>`;
        i = end + 2;
        continue;
      }
    }
    if (c === '*' || c === '_') {
      // no emphasis inside a word or number ("snake_case", "2*3*4")
      const prevWord = i > 0 && /[\p{L}\p{N}_]/u.test(s[i - 1]);
      if (!prevWord && i + 1 < n && !/\s/.test(s[i + 1]) && s[i + 1] !== c) {
        const list = (closers[c] ??= emphasisClosers(s, c));
        let lo = 0;
        let hi = list.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (list[mid] <= i + 1) lo = mid + 1;
          else hi = mid;
        }
        const end = lo < list.length ? list[lo] : -1;
        if (end > 0) {
          out += `<em>${renderInline(s.slice(i + 1, end), depth + 1)}</em>`;
          i = end + 1;
          continue;
        }
      }
      out += escapeHtml(c);
      i++;
      continue;
    }
    if (c === '~' && s[i + 1] === '~') {
      const end = find('~~', i + 2);
      if (end > i + 2) {
        out += `<del>${renderInline(s.slice(i + 2, end), depth + 1)}</del>`;
        i = end + 2;
        continue;
      }
    }
    if (c === '[' && find('](', i + 1) >= 0) {
      const m = /^\[([^\]\n]*)\]\( *([^\s()]+(?:\([^\s()]*\)[^\s()]*)?)(?: +"[^"]*")? *\)/.exec(rest);
      if (m) {
        out += link(renderInline(m[1], depth + 1), m[2]);
        i += m[0].length;
        continue;
      }
    }
    if (c === '<') {
      const m = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i.exec(rest);
      if (m) {
        out += link(escapeHtml(m[1]), m[1]);
        i += m[0].length;
        continue;
      }
    }
    if ((c === 'h' || c === 'H') && (i === 0 || !/[\w/]/.test(s[i - 1]))) {
      const m = /^https?:\/\/[^\s<>"]+/i.exec(rest);
      if (m) {
        const url = m[0].replace(/[.,;:!?)\]'"]+$/, '');
        out += link(escapeHtml(url), url);
        i += url.length;
        continue;
      }
    }
    out += escapeHtml(c);
    i++;
  }
  return out;
}

// ---------------------------------------------------------------- blocks

// Block starts, written without nested or overlapping quantifiers: model output can be long and odd, and a
// backtracking regex on a 10,000-character line would freeze the page.
function fenceOf(line) {
  const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
  if (!m) return null;
  const info = m[2].trim();
  if (m[1][0] === '`' && info.includes('`')) return null;
  return { marker: m[1], lang: info.split(/\s/)[0] ?? '' };
}
function headingOf(line) {
  const m = /^ {0,3}(#{1,6})(?:[ \t](.*))?$/.exec(line);
  if (!m) return null;
  let text = (m[2] ?? '').trim();
  let k = text.length;
  while (k > 0 && text[k - 1] === '#') k--;
  if (k === 0 || text[k - 1] === ' ') text = text.slice(0, k).trim(); // a closing run of #
  return { level: m[1].length, text };
}
function isRule(line) {
  const t = line.trim();
  if (!/^ {0,3}[-*_]/.test(line) || t.length < 3) return false;
  let n = 0;
  for (const c of t) {
    if (c === t[0]) n++;
    else if (c !== ' ' && c !== '\t') return false;
  }
  return n >= 3;
}
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^ {0,3}> ?(.*)$/;

function splitRow(line) {
  let t = line.trim();
  if (t.startsWith('|')) t = t.slice(1);
  if (t.endsWith('|') && !t.endsWith('\\|')) t = t.slice(0, -1);
  const cells = [];
  let cur = '';
  let inCode = false;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i];
    if (ch === '\\' && t[i + 1] === '|') {
      cur += '|';
      i++;
      continue;
    }
    if (ch === '`') inCode = !inCode;
    if (ch === '|' && !inCode) {
      cells.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  cells.push(cur.trim());
  return cells;
}

function isTableSeparator(line) {
  if (!line.includes('-')) return false;
  const cells = splitRow(line);
  return cells.length > 0 && cells.every((c) => /^:?-{1,}:?$/.test(c));
}

function codeBlock(lang, code) {
  const label = lang ? escapeHtml(lang) : 'code';
  const cls = lang ? ` class="language-${escapeHtml(lang.replace(/[^\w+-]/g, ''))}"` : '';
  return (
    `<div class="codeblock"><div class="codeblock-head"><span class="codeblock-lang">${label}</span>` +
    `<button type="button" class="copy-code" aria-label="Copy code">Copy</button></div>` +
    `<pre><code${cls}>${escapeHtml(code)}</code></pre></div>`
  );
}

function renderList(lines, start, depth) {
  // lines[start] is a list item; gather the items at its indentation and their continuation lines.
  const first = LIST_ITEM.exec(lines[start]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const startNum = ordered ? parseInt(first[2], 10) : 1;
  const items = [];
  let contentIndent = indent + 2;
  let i = start;
  while (i < lines.length) {
    const line = lines[i];
    const m = LIST_ITEM.exec(line);
    if (m && m[1].length === indent && /\d/.test(m[2]) === ordered) {
      items.push([m[3]]);
      contentIndent = m[0].length - m[3].length; // continuation lines are indented to the item's text
      i++;
      continue;
    }
    if (line.trim() === '') {
      // a blank line continues the list only if the next line is indented or another item
      const next = lines[i + 1];
      if (next !== undefined && (/^\s+/.exec(next)?.[0].length ?? 0) > indent && next.trim() !== '') {
        items[items.length - 1].push('');
        i++;
        continue;
      }
      const nm = next !== undefined ? LIST_ITEM.exec(next) : null;
      if (nm && nm[1].length === indent) {
        i++;
        continue;
      }
      break;
    }
    const lead = /^\s*/.exec(line)[0].length;
    if (lead > indent || (m && m[1].length > indent)) {
      items[items.length - 1].push(line.slice(Math.min(lead, contentIndent)));
      i++;
      continue;
    }
    if (m) break; // another list type at this level
    // a lazy continuation line of the item's paragraph
    if (!fenceOf(line) && !headingOf(line) && !QUOTE.test(line)) {
      items[items.length - 1].push(line.trim());
      i++;
      continue;
    }
    break;
  }
  const tag = ordered ? 'ol' : 'ul';
  const startAttr = ordered && startNum !== 1 ? ` start="${startNum}"` : '';
  const body = items
    .map((item) => {
      const inner = renderBlocks(item, depth + 1);
      // a single paragraph item renders without its <p>
      const tight = /^<p>((?:(?!<p>)[\s\S])*)<\/p>(<ul|<ol|$)/.exec(inner);
      return `<li>${tight ? tight[1] + inner.slice(tight[0].length - tight[2].length) : inner}</li>`;
    })
    .join('');
  return { html: `<${tag}${startAttr}>${body}</${tag}>`, next: i };
}

function renderBlocks(lines, depth = 0) {
  if (depth > MAX_DEPTH) return `<p>${lines.map((l) => escapeHtml(l)).join('<br>')}</p>`;
  let out = '';
  let para = [];
  const flush = () => {
    if (para.length) out += `<p>${para.map(renderInline).join('<br>')}</p>`;
    para = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = fenceOf(line);
    if (fence) {
      flush();
      const marker = fence.marker;
      const body = [];
      i++;
      while (i < lines.length && !new RegExp(`^ {0,3}${marker[0]}{${marker.length},}\\s*$`).test(lines[i])) {
        body.push(lines[i]);
        i++;
      }
      i++; // the closing fence (or the end: an unclosed fence runs to the end, as while streaming)
      out += codeBlock(fence.lang, body.join('\n'));
      continue;
    }
    const t = line.trim();
    if (t.startsWith('$$') || t.startsWith('\\[')) {
      const closer = t.startsWith('$$') ? '$$' : '\\]';
      const rest = t.slice(2);
      const endHere = rest.indexOf(closer);
      if (endHere >= 0 && rest.slice(endHere + 2).trim() === '') {
        flush();
        out += `<div class="math-block">${renderMath(rest.slice(0, endHere), true)}</div>`;
        i++;
        continue;
      }
      if (endHere < 0) {
        let j = i + 1;
        while (j < lines.length && !lines[j].includes(closer)) j++;
        if (j < lines.length && lines[j].trim().endsWith(closer)) {
          flush();
          const last = lines[j].trim();
          const tex = [rest, ...lines.slice(i + 1, j), last.slice(0, -2)].join('\n');
          out += `<div class="math-block">${renderMath(tex, true)}</div>`;
          i = j + 1;
          continue;
        }
      }
    }
    if (t === '') {
      flush();
      i++;
      continue;
    }
    const heading = headingOf(line);
    if (heading) {
      flush();
      out += `<h${heading.level}>${renderInline(heading.text)}</h${heading.level}>`;
      i++;
      continue;
    }
    if (isRule(line)) {
      flush();
      out += '<hr>';
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      flush();
      const quoted = [];
      while (i < lines.length && QUOTE.test(lines[i])) {
        quoted.push(QUOTE.exec(lines[i])[1]);
        i++;
      }
      out += `<blockquote>${renderBlocks(quoted, depth + 1)}</blockquote>`;
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && isTableSeparator(lines[i + 1])) {
      const header = splitRow(line);
      const aligns = splitRow(lines[i + 1]).map((c) =>
        c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : '',
      );
      if (aligns.length === header.length) {
        flush();
        i += 2;
        const rows = [];
        while (i < lines.length && lines[i].trim() !== '' && lines[i].includes('|')) {
          rows.push(splitRow(lines[i]));
          i++;
        }
        const cell = (tag, text, k) =>
          `<${tag}${aligns[k] ? ` style="text-align:${aligns[k]}"` : ''}>${renderInline(text ?? '')}</${tag}>`;
        out +=
          '<div class="table-wrap"><table><thead><tr>' +
          header.map((h, k) => cell('th', h, k)).join('') +
          '</tr></thead><tbody>' +
          rows.map((r) => '<tr>' + header.map((_, k) => cell('td', r[k], k)).join('') + '</tr>').join('') +
          '</tbody></table></div>';
        continue;
      }
    }
    if (LIST_ITEM.exec(line) && (para.length === 0 || /^\s*([-*+]|1[.)])\s/.test(line))) {
      flush();
      const list = renderList(lines, i, depth);
      out += list.html;
      i = list.next;
      continue;
    }
    para.push(line.trim());
    i++;
  }
  flush();
  return out;
}

export function renderMarkdown(src) {
  if (src === null || src === undefined || src === '') return '';
  const lines = String(src).replace(/\r\n?/g, '\n').replace(/\t/g, '    ').split('\n');
  return renderBlocks(lines);
}
