import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, renderInline, renderMarkdown, renderMath } from '../../app/markdown.js';

// No tag in the output but the renderer's own.
const ALLOWED = new Set(['p', 'br', 'strong', 'em', 'del', 'code', 'pre', 'a', 'span', 'div', 'button', 'h1', 'h2', 'h3',
  'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'blockquote', 'hr', 'sup', 'sub', 'i', 'b']);
function tags(html) {
  return [...html.matchAll(/<\/?([a-zA-Z0-9]+)/g)].map((m) => m[1].toLowerCase());
}
function assertSafe(html) {
  for (const t of tags(html)) assert.ok(ALLOWED.has(t), `unexpected tag <${t}> in ${html}`);
  assert.doesNotMatch(html, /<[^>]*\son\w+=/i, 'an event handler attribute inside a tag');
  assert.doesNotMatch(html, /href="(?!https?:|mailto:)/i, 'a link to something but http(s) or mailto');
}

test('HTML in the source is escaped, everywhere', () => {
  const evil = '<script>alert(1)</script> <img src=x onerror=alert(1)>';
  for (const src of [evil, `# ${evil}`, `- ${evil}`, `| a |\n|---|\n| ${evil} |`, `> ${evil}`, `**${evil}**`, `\`${evil}\``,
    `\`\`\`\n${evil}\n\`\`\``, `$${evil}$`, `$$${evil}$$`, `[${evil}](https://x.y)`]) {
    const html = renderMarkdown(src);
    assert.doesNotMatch(html, /<script|<img/i, src);
    assertSafe(html);
    assert.match(html, /&lt;/, src); // shown as text
  }
});

test('links: http(s) only, rel=noopener, the target shown', () => {
  const html = renderMarkdown('[docs](https://example.com/a?b=1&c="2") and [x](javascript:alert(1))');
  assert.match(html, /<a href="https:\/\/example\.com\/a\?b=1&amp;c=&quot;2&quot;" rel="noopener noreferrer" target="_blank">docs<\/a>/);
  assert.match(html, /<span class="href">\(https:\/\/example\.com/);
  assert.doesNotMatch(html, /href="javascript/);
  assert.match(html, /x \(javascript:alert\(1\)\)/);
  assert.match(renderInline('see https://muse.dev/x.'), /<a href="https:\/\/muse\.dev\/x" [^>]*>https:\/\/muse\.dev\/x<\/a>\.$/);
});

test('paragraphs, headings, emphasis, inline code', () => {
  assert.equal(renderMarkdown('# Title\n\nSome **bold** and *it* and `a<b`'),
    '<h1>Title</h1><p>Some <strong>bold</strong> and <em>it</em> and <code>a&lt;b</code></p>');
  assert.equal(renderMarkdown('one\ntwo\n\nthree'), '<p>one<br>two</p><p>three</p>');
  // no emphasis inside words or products
  assert.equal(renderInline('snake_case_name and 2*3*4'), 'snake_case_name and 2*3*4');
  assert.equal(renderInline('\\*not italic\\*'), '*not italic*');
});

test('fenced code blocks keep their text escaped and get a copy button', () => {
  const html = renderMarkdown('```python\nif a < b:\n    print("**x**")\n```');
  assert.match(html, /<code class="language-python">if a &lt; b:\n    print\(&quot;\*\*x\*\*&quot;\)<\/code>/);
  assert.match(html, /<button type="button" class="copy-code" aria-label="Copy code">Copy<\/button>/);
  // an unclosed fence (still streaming) runs to the end
  assert.match(renderMarkdown('```\npartial'), /<code>partial<\/code>/);
});

test('lists, nested and ordered', () => {
  assert.equal(renderMarkdown('- a\n- b\n  - c\n- d'), '<ul><li>a</li><li>b<ul><li>c</li></ul></li><li>d</li></ul>');
  assert.equal(renderMarkdown('3. x\n4. y'), '<ol start="3"><li>x</li><li>y</li></ol>');
  assert.equal(renderMarkdown('text\n- item'), '<p>text</p><ul><li>item</li></ul>');
});

test('tables with alignment and inline content', () => {
  const html = renderMarkdown('| item | price |\n|:---|---:|\n| apple | **3** |\n| a\\|b | `x|y` |');
  assert.match(html, /<th style="text-align:left">item<\/th><th style="text-align:right">price<\/th>/);
  assert.match(html, /<td style="text-align:right"><strong>3<\/strong><\/td>/);
  assert.match(html, /<td style="text-align:left">a\|b<\/td><td style="text-align:right"><code>x\|y<\/code><\/td>/);
});

test('math: inline and display, a TeX subset', () => {
  assert.equal(renderMath('x^2'), '<span class="math" role="math"><i>x</i><sup>2</sup></span>');
  assert.match(renderMath('\\frac{a}{b}'), /<span class="frac"><span class="num"><i>a<\/i><\/span><span class="den"><i>b<\/i><\/span><\/span>/);
  assert.match(renderMath('\\sqrt{x_1}'), /√<span class="sqrt"><i>x<\/i><sub>1<\/sub><\/span>/);
  assert.match(renderMath('3 \\times 4 \\cdot \\alpha + \\Omega'), /3 × 4 · α \+ Ω/);
  assert.match(renderMath('\\sin x'), /<span class="upright">sin<\/span><i>x<\/i>/);
  assert.match(renderMath('\\foo{x}'), /<span class="tex-unknown">\\foo<\/span>/);
  assert.match(renderMath('a<b'), /<i>a<\/i> &lt; <i>b<\/i>/);
  assert.match(renderMarkdown('so $47+85=132$.'), /<p>so <span class="math" role="math">47 \+ 85 = 132<\/span>\.<\/p>/);
  assert.match(renderMarkdown('$$\n\\sum_{i=1}^{n} i\n$$'), /<div class="math-block"><span class="math math-display" role="math">∑<sub><i>i<\/i> = 1<\/sub><sup><i>n<\/i><\/sup><i>i<\/i><\/span><\/div>/);
  assert.match(renderInline('\\(x\\)'), /<span class="math" role="math"><i>x<\/i><\/span>/);
});

test('dollar amounts are not math', () => {
  assert.equal(renderInline('it costs $5 and $10'), 'it costs $5 and $10');
  assert.equal(renderInline('$ 3 $'), '$ 3 $');
});

test('escapeHtml', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
});

test('odd, long model output renders quickly and never overflows the stack', () => {
  const odd = [
    '- '.repeat(20000) + 'x', // a list nested 20,000 deep
    '> '.repeat(5000) + 'x',
    '$' + '{'.repeat(20000) + '$',
    '*a '.repeat(5000),
    '*a **b '.repeat(3000),
    '\\('.repeat(5000),
    '['.repeat(5000),
    '# ' + 'a '.repeat(20000) + 'x',
    '``` ' + 'a'.repeat(20000) + '`',
    '$$' + 'x^2+'.repeat(5000) + '$$',
  ];
  for (const src of odd) {
    const t = performance.now();
    const html = renderMarkdown(src);
    const ms = performance.now() - t;
    assert.ok(html.length > 0);
    assert.ok(ms < 1000, `${src.slice(0, 12)}…: ${ms.toFixed(0)} ms`);
  }
  // deep nesting is cut off into text, still escaped
  assert.match(renderMarkdown('- '.repeat(50) + '<b>'), /&lt;b&gt;/);
});
