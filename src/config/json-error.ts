// Finds where a JSON document first goes wrong. V8's JSON.parse messages only
// sometimes include a position, and may quote the input across several lines,
// so on failure we rescan the text and describe the error ourselves.

export interface JsonSyntaxError {
  /** Character offset of the offending input. */
  offset: number;
  line: number;
  column: number;
  message: string;
}

class Fail { constructor(readonly offset: number, readonly message: string) {} }

/** Returns the first syntax error in `text`, or undefined if it is valid JSON. */
export function findJsonError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const n = text.length;
  const ws = () => { while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++; };
  const unexpected = (): never => {
    if (i >= n) throw new Fail(i, 'unexpected end of input');
    const c = text[i];
    const shown = c >= ' ' && c <= '~' ? `'${c}'` : `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    throw new Fail(i, `unexpected character ${shown}`);
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++, i++) if (text[i] !== word[k]) unexpected();
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= n) unexpected();
      const c = text.charCodeAt(i);
      if (c === 0x22) { i++; return; }
      if (c < 0x20) unexpected();
      if (c === 0x5c) {
        i++;
        if (i >= n) unexpected();
        if (text[i] === 'u') {
          for (let k = 1; k <= 4; k++) { i++; if (!/[0-9A-Fa-f]/.test(text[i] ?? '')) unexpected(); }
        } else if (!'"\\/bfnrt'.includes(text[i])) unexpected();
      }
      i++;
    }
  };
  const digits = () => { const s = i; while (i < n && text[i] >= '0' && text[i] <= '9') i++; if (i === s) unexpected(); };
  const number = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++; else digits();
    if (text[i] === '.') { i++; digits(); }
    if (text[i] === 'e' || text[i] === 'E') { i++; if (text[i] === '+' || text[i] === '-') i++; digits(); }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') unexpected();
        string(); ws();
        if (text[i] !== ':') unexpected();
        i++; value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        unexpected();
      }
    }
    if (c === '[') {
      i++; ws();
      if (text[i] === ']') { i++; return; }
      for (;;) {
        value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        unexpected();
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    unexpected();
  };
  try {
    value(); ws();
    if (i < n) unexpected();
    return undefined;
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    const before = text.slice(0, e.offset);
    const line = before.split('\n').length;
    const column = e.offset - (before.lastIndexOf('\n') + 1) + 1;
    return { offset: e.offset, line, column, message: e.message };
  }
}
