import { test } from 'node:test';
import assert from 'node:assert/strict';
import { looksLikeTable, parseCSV, tableAttachment, tableFromJSON, tablePart, tableProblems, toCSV } from '../../app/table.js';

test('CSV: quotes, CRLF, a missing final newline', () => {
  assert.deepEqual(parseCSV('name,note\r\n"Smith, J","said ""hi"""\r\nLee,"two\nlines"'), {
    columns: ['name', 'note'],
    rows: [['Smith, J', 'said "hi"'], ['Lee', 'two\nlines']],
  });
});

test('CSV errors name the line, as the server does', () => {
  assert.throws(() => parseCSV('a,b\n1,2,3\n'), /line 2: 3 fields, the header has 2/);
  assert.throws(() => parseCSV('a,b\n"1,2\n'), /unterminated quote/);
  assert.throws(() => parseCSV('a,a\n1,2'), /appears twice/);
  assert.throws(() => parseCSV('a,\n1,2'), /blank column name/);
  assert.throws(() => parseCSV('  \n'), /empty/);
  assert.throws(() => parseCSV('a,b\n1,x"y"\n'), /quote inside an unquoted field/);
});

test('JSON tables: records, columns+rows, any object as key/value', () => {
  assert.deepEqual(tableFromJSON([{ a: 1, b: 'x' }, { b: 'y', c: null }]), {
    columns: ['a', 'b', 'c'],
    rows: [['1', 'x', ''], ['', 'y', '']],
  });
  assert.deepEqual(tableFromJSON({ columns: ['k'], rows: [[1], [2]] }), { columns: ['k'], rows: [['1'], ['2']] });
  assert.deepEqual(tableFromJSON({ total: 5, items: [1, 2] }), { columns: ['key', 'value'], rows: [['total', '5'], ['items', '[1,2]']] });
  assert.throws(() => tableFromJSON([1, 2]), /record 0: must be an object/);
  assert.throws(() => tableFromJSON('x'), /array of records or an object/);
});

test('attachments and their content parts', () => {
  const csv = tableAttachment('item,price\napple,3\n', 'p.csv');
  assert.deepEqual(tablePart(csv), { type: 'table', table: { csv: 'item,price\napple,3\n' } });
  assert.deepEqual(csv.problems, []);
  const tsv = tableAttachment('item\tprice\napple, red\t3', 'pasted.csv');
  assert.deepEqual(tablePart(tsv), { type: 'table', table: { csv: 'item,price\n"apple, red",3\n' } });
  const json = tableAttachment('{"columns":["a"],"rows":[[1]]}', 'x.json');
  assert.deepEqual(tablePart(json), { type: 'table', table: { json: { columns: ['a'], rows: [[1]] } } });
  assert.throws(() => tableAttachment('{bad', 'x.json'), /x\.json: not valid JSON/);
});

test('the server limits are reported before sending', () => {
  const big = { columns: Array.from({ length: 17 }, (_, i) => `c${i}`), rows: Array.from({ length: 65 }, () => Array(17).fill('v')) };
  const p = tableProblems(big);
  assert.equal(p.length, 2);
  assert.match(p[0], /65 rows: the server accepts at most 64/);
  assert.match(p[1], /17 columns/);
  assert.match(tableProblems({ columns: ['a'], rows: [['x'.repeat(65)]] })[0], /over 64 bytes/);
});

test('pasted text that looks like a table', () => {
  assert.equal(looksLikeTable('a,b\n1,2\n3,4'), ',');
  assert.equal(looksLikeTable('a,b\n1,2'), null, 'two comma lines are too little to tell');
  assert.equal(looksLikeTable('f(a, b)\ng(c, d)\nh(e, f)'), null, 'code is not a table');
  assert.equal(looksLikeTable('a\tb\n1\t2\n'), '\t');
  assert.equal(looksLikeTable('What is 47+85?'), null);
  assert.equal(looksLikeTable('Hello, world.\nHow are you, today, friend?'), null);
  assert.equal(toCSV({ columns: ['a', 'b'], rows: [['1', 'x,y']] }), 'a,b\n1,"x,y"\n');
});
