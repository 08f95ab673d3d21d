// Server-Sent Events, parsed by hand (the EventSource API cannot POST): text arrives in arbitrary pieces —
// a line, a field, even a "\r\n" pair may be split between two network chunks — and events are dispatched on
// the blank line that ends them, as the WHATWG "event stream interpretation" says.
//
//   const parser = createSSEParser((event) => console.log(event.event, event.data));
//   parser.push("data: {\"a\"");  parser.push(":1}\n\n");   // -> one event, data '{"a":1}'
//   parser.end();                                           // a last event without its blank line is dropped
//
// Fields: data (several lines join with "\n"), event (default "message"), id, retry; lines starting with ":"
// are comments (keep-alives) and are ignored; unknown fields are ignored.

export function createSSEParser(onEvent) {
  let buffer = '';
  let pendingCR = false; // the last piece ended with "\r": a "\n" starting the next piece belongs to it
  let data = [];
  let eventType = '';
  let lastId = '';
  let hasData = false;

  function dispatch() {
    if (hasData) {
      onEvent({ event: eventType || 'message', data: data.join('\n'), id: lastId });
    }
    data = [];
    eventType = '';
    hasData = false;
  }

  function line(text) {
    if (text === '') return dispatch();
    if (text[0] === ':') return; // a comment
    const colon = text.indexOf(':');
    let field = text;
    let value = '';
    if (colon >= 0) {
      field = text.slice(0, colon);
      value = text.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
    }
    if (field === 'data') {
      data.push(value);
      hasData = true;
    } else if (field === 'event') {
      eventType = value;
    } else if (field === 'id') {
      if (!value.includes('\0')) lastId = value;
    }
    // "retry" and unknown fields: nothing to do for a one-shot stream
  }

  return {
    push(text) {
      if (!text) return;
      if (pendingCR && text[0] === '\n') text = text.slice(1);
      pendingCR = false;
      const from = buffer.length; // the buffer holds no line end: scan only the new text
      buffer += text;
      let start = 0;
      for (let i = from; i < buffer.length; i++) {
        const c = buffer[i];
        if (c !== '\n' && c !== '\r') continue;
        line(buffer.slice(start, i));
        if (c === '\r') {
          if (i + 1 < buffer.length) {
            if (buffer[i + 1] === '\n') i++;
          } else {
            pendingCR = true;
          }
        }
        start = i + 1;
      }
      buffer = buffer.slice(start);
    },
    // The stream ended: an unterminated last line still counts as a line, but an event without its blank line
    // is not dispatched (the spec's rule).
    end() {
      if (buffer !== '') line(buffer);
      buffer = '';
      data = [];
      hasData = false;
    },
  };
}

// Reads a fetch() body (a ReadableStream of bytes) and yields its SSE events. UTF-8 characters split between
// chunks are kept whole by the streaming TextDecoder.
export async function* readSSE(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  const queue = [];
  const parser = createSSEParser((event) => queue.push(event));
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(decoder.decode(value, { stream: true }));
      while (queue.length) yield queue.shift();
    }
    parser.push(decoder.decode());
    parser.end();
    while (queue.length) yield queue.shift();
  } finally {
    try {
      reader.releaseLock();
    } catch {
      /* already released */
    }
  }
}
