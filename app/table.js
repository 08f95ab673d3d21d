// Tables attached to a message: CSV text (pasted or a .csv file) or JSON (a .json file), parsed here only to
// show a preview and to warn about the server's limits before sending. What is sent is the user's own text, as
// the server's table content part: {"type":"table","table":{"csv":"..."}} or {"type":"table","table":{"json":...}}
// (src/server/openai.cpp, table_part; JSON shapes as src/data/table.h, table_from_json).

// The server's defaults (src/data/table.h, TableLimits).
export const TABLE_LIMITS = { maxRows: 64, maxColumns: 16, maxCellChars: 64, maxBytes: 1 << 20 };

// RFC 4180 CSV: quoted fields ("" is a quote), CRLF or LF line ends, a final newline optional.
// Returns {columns, rows}; throws Error("line N: ...") for what the server would refuse as malformed.
export function parseCSV(text, delimiter = ',') {
  if (typeof text !== 'string' || text.trim() === '') throw new Error('the table is empty');
  const records = [];
  let row = [];
  let field = '';
  let quoted = false;
  let afterQuote = false;
  let line = 1;
  let i = 0;
  const endField = () => {
    row.push(field);
    field = '';
    afterQuote = false;
  };
  const endRow = () => {
    endField();
    records.push({ cells: row, line });
    row = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        afterQuote = true;
        i++;
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === delimiter) {
      endField();
      i++;
    } else if (c === '\r' || c === '\n') {
      endRow();
      if (c === '\r' && text[i + 1] === '\n') i++;
      i++;
      line++;
    } else if (c === '"') {
      if (field !== '' || afterQuote) throw new Error(`line ${line}: a quote inside an unquoted field`);
      quoted = true;
      i++;
    } else {
      if (afterQuote) throw new Error(`line ${line}: text after a closing quote`);
      field += c;
      i++;
    }
  }
  if (quoted) throw new Error(`line ${line}: an unterminated quote`);
  if (field !== '' || row.length > 0 || afterQuote) endRow();
  const nonEmpty = records.filter((r) => !(r.cells.length === 1 && r.cells[0] === ''));
  if (nonEmpty.length === 0) throw new Error('the table is empty');
  const columns = nonEmpty[0].cells;
  const seen = new Set();
  for (const name of columns) {
    if (name.trim() === '') throw new Error('line 1: a blank column name');
    if (seen.has(name)) throw new Error(`line 1: the column name '${name}' appears twice`);
    seen.add(name);
  }
  const rows = [];
  for (const r of nonEmpty.slice(1)) {
    if (r.cells.length !== columns.length)
      throw new Error(`line ${r.line}: ${r.cells.length} fields, the header has ${columns.length}`);
    rows.push(r.cells);
  }
  return { columns, rows };
}

function cellText(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// The server's JSON table shapes: an array of objects (columns = keys in first-seen order), an object of exactly
// "columns" and "rows", or any other object (columns "key", "value").
export function tableFromJSON(value) {
  if (Array.isArray(value)) {
    if (value.length === 0) throw new Error('the JSON table has no records');
    const columns = [];
    value.forEach((rec, i) => {
      if (rec === null || typeof rec !== 'object' || Array.isArray(rec))
        throw new Error(`record ${i}: must be an object`);
      for (const k of Object.keys(rec)) if (!columns.includes(k)) columns.push(k);
    });
    const rows = value.map((rec) => columns.map((c) => (c in rec ? cellText(rec[c]) : '')));
    return { columns, rows };
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 2 && Array.isArray(value.columns) && Array.isArray(value.rows)) {
      const columns = value.columns.map(cellText);
      const rows = value.rows.map((r, i) => {
        if (!Array.isArray(r) || r.length !== columns.length)
          throw new Error(`rows[${i}]: must be an array of ${columns.length} values`);
        return r.map(cellText);
      });
      return { columns, rows };
    }
    if (keys.length === 0) throw new Error('the JSON object is empty');
    return { columns: ['key', 'value'], rows: keys.map((k) => [k, cellText(value[k])]) };
  }
  throw new Error('a JSON table must be an array of records or an object');
}

// What the server would refuse, as sentences (empty: fine).
export function tableProblems(table, limits = TABLE_LIMITS) {
  const problems = [];
  if (table.rows.length > limits.maxRows)
    problems.push(`${table.rows.length} rows: the server accepts at most ${limits.maxRows}`);
  if (table.columns.length > limits.maxColumns)
    problems.push(`${table.columns.length} columns: the server accepts at most ${limits.maxColumns}`);
  const enc = new TextEncoder();
  const long = [...table.columns, ...table.rows.flat()].find((c) => enc.encode(c).length > limits.maxCellChars);
  if (long !== undefined) problems.push(`a cell is over ${limits.maxCellChars} bytes`);
  return problems;
}

// Heuristic for pasted text: every line split by the same delimiter into the same number (>= 2) of fields — tabs
// (a spreadsheet's clipboard) from two lines on; commas from three lines on, with a header of names. Returns the
// delimiter or null.
export function looksLikeTable(text) {
  if (typeof text !== 'string') return null;
  const lines = text.replace(/\r\n?/g, '\n').split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return null;
  for (const d of ['\t', ',']) {
    try {
      const t = parseCSV(lines.join('\n'), d);
      if (t.columns.length < 2) continue;
      if (d === '\t') return d; // what spreadsheets put on the clipboard
      // Commas: a header of names (not code such as "f(a, b)") and at least two rows.
      const names = t.columns.every((c) => c.trim() !== '' && c.length <= 64 && !/[(){};=<>]/.test(c));
      if (names && t.rows.length >= 2) return d;
    } catch {
      /* not with this delimiter */
    }
  }
  return null;
}

function csvField(s) {
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}
export function toCSV(table) {
  return [table.columns, ...table.rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

// An attachment from text: {kind:'table', name, format, csv|json, columns, rows, problems}. Tab-separated text
// becomes CSV. Throws Error with a readable message for a bad table.
export function tableAttachment(text, name = 'table.csv') {
  text = String(text ?? '').replace(/^\uFEFF/, ''); // a byte-order mark from a spreadsheet export
  const isJSON = /\.json$/i.test(name) || /^\s*[[{]/.test(text);
  if (isJSON) {
    let value;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new Error(`${name}: not valid JSON (${e.message})`);
    }
    let table;
    try {
      table = tableFromJSON(value);
    } catch (e) {
      throw new Error(`${name}: ${e.message}`);
    }
    return { kind: 'table', name, format: 'json', json: value, ...table, problems: tableProblems(table) };
  }
  const delimiter = looksLikeTable(text) === '\t' ? '\t' : ',';
  let table;
  try {
    table = parseCSV(text, delimiter);
  } catch (e) {
    throw new Error(`${name}: ${e.message}`);
  }
  const csv = delimiter === ',' ? text : toCSV(table);
  return { kind: 'table', name, format: 'csv', csv, ...table, problems: tableProblems(table) };
}

// The content part the server reads.
export function tablePart(att) {
  if (att.format === 'json') return { type: 'table', table: { json: att.json } };
  return { type: 'table', table: { csv: att.csv } };
}
