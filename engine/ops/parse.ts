import type { ParseStepPlan } from "../plan/plan.ts";

/**
 * The `parse` step: text to a record. Each parser throws on input it cannot read (not a string,
 * bad JSON, the wrong number of fields, no regex match), so the fused step rejects that record.
 */

export type Parser = (text: unknown) => unknown;

function needString(v: unknown, format: string): string {
  if (typeof v !== "string") {
    throw new TypeError(`parse ${format}: expected a string, got ${v === null ? "null" : typeof v}`);
  }
  return v;
}

/** Builds the parser of a parse step. Throws if the plan is malformed (validation prevents it). */
export function compileParser(step: ParseStepPlan): Parser {
  switch (step.format) {
    case "json":
      return jsonParser(step.fields);
    case "csv":
    case "tsv":
      return fieldsParser(step.format, step.fields ?? []);
    case "regex":
      return regexParser(step.pattern ?? "");
  }
}

function jsonParser(fields: string[] | undefined): Parser {
  if (!fields) return (text) => JSON.parse(needString(text, "json"));
  const pick = (v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw new TypeError(`parse json: expected an object to take fields from, got ${Array.isArray(v) ? "array" : v}`);
    }
    const out: Record<string, unknown> = {};
    // A field the object lacks is null, so every output record has the same columns.
    for (const f of fields) out[f] = Object.hasOwn(v, f) ? (v as Record<string, unknown>)[f] : null;
    return out;
  };
  // "__proto__" as a name, or a name twice, keeps the plain path: building the record by
  // assignment treats those specially.
  if (!scansJsonFields(fields)) return (text) => pick(JSON.parse(needString(text, "json")));
  const values: unknown[] = new Array(fields.length);
  const record = recordMaker(fields);
  const scan = flatObjectScanner(fields);
  return (text) => {
    const s = needString(text, "json");
    // Most objects are flat: take the named fields in one scan, without building the others.
    // Anything the scan does not vouch for (escapes, nested values, bad JSON) goes to JSON.parse,
    // which gives the same record or the same error.
    return scan(s, values) ? record(values) : pick(JSON.parse(s));
  };
}

type RecordMaker = (values: unknown[]) => Record<string, unknown>;

const makers = new Map<string, RecordMaker>();

/**
 * A function building `{ [fields[0]]: values[0], ... }` with one object literal (one shape).
 * One per list of names in a process: steps are fused anew for every task, and a function made
 * by `new Function` is new code, which the runtime would compile again, tier by tier, each time.
 */
export function recordMaker(fields: string[]): RecordMaker {
  const id = JSON.stringify(fields);
  let make = makers.get(id);
  if (!make) {
    const props = fields.map((f, i) => `${JSON.stringify(f)}: v[${i}]`).join(", ");
    make = new Function("v", `"use strict"; return { ${props} };`) as RecordMaker;
    makers.set(id, make);
  }
  return make;
}

/**
 * A backslash or a control character (U+0000-U+001F) anywhere. Without them, a JSON string has no
 * escapes, so its quotes are its only quotes, and a raw tab or newline (legal only outside
 * strings) sends the line to JSON.parse too. Searching for them runs natively and allocates nothing.
 */
// deno-lint-ignore no-control-regex -- control characters are exactly what it looks for
const ESCAPE_OR_CONTROL = /[\\\x00-\x1f]/;

const QUOTE = 34, BACKSLASH = 92, COMMA = 44, COLON = 58, OPEN = 123, CLOSE = 125, MINUS = 45, DOT = 46, SPACE = 32;

const isDigit = (c: number) => c >= 48 && c <= 57;

/** Index of the first character at or after i that is not a space (the only JSON whitespace left). */
function skipSpace(s: string, i: number): number {
  while (s.charCodeAt(i) === SPACE) i++;
  return i;
}

/** Index after the JSON number starting at i; -1 if it is not one. */
function numberEnd(s: string, i: number): number {
  if (s.charCodeAt(i) === MINUS) i++;
  if (!isDigit(s.charCodeAt(i))) return -1;
  // No leading zeros: "0" is the whole integer part, or it does not start with one.
  if (s.charCodeAt(i) === 48) i++;
  else while (isDigit(s.charCodeAt(i))) i++;
  if (s.charCodeAt(i) === DOT) {
    if (!isDigit(s.charCodeAt(++i))) return -1;
    while (isDigit(s.charCodeAt(i))) i++;
  }
  const e = s.charCodeAt(i);
  if (e === 101 || e === 69) {
    const sign = s.charCodeAt(++i);
    if (sign === 43 || sign === MINUS) i++;
    if (!isDigit(s.charCodeAt(i))) return -1;
    while (isDigit(s.charCodeAt(i))) i++;
  }
  return i;
}

/** Index after the number, true, false or null starting at i (c is its first character); -1 if none. */
function bareEnd(s: string, i: number, c: number): number {
  if (c === MINUS || isDigit(c)) return numberEnd(s, i);
  if (s.startsWith("true", i) || s.startsWith("null", i)) return i + 4;
  if (s.startsWith("false", i)) return i + 5;
  return -1; // a nested object or array, or not JSON
}

/** The value s[from, to) that bareEnd has vouched for. */
function bareAt(s: string, from: number, to: number): unknown {
  switch (s.charCodeAt(from)) {
    case 116: // t
      return true;
    case 102: // f
      return false;
    case 110: // n
      return null;
    default:
      return Number(s.slice(from, to));
  }
}

/** Which of `fields` the key text s[from, to) is (-1 for none): only names of its length are compared. */
function fieldMatcher(fields: string[]): (s: string, from: number, to: number) => number {
  const byLength: number[][] = [];
  fields.forEach((f, k) => (byLength[f.length] ??= []).push(k));
  return (s, from, to) => {
    const same = byLength[to - from];
    if (same === undefined) return -1;
    for (let j = 0; j < same.length; j++) if (s.startsWith(fields[same[j]], from)) return same[j];
    return -1;
  };
}

/**
 * A scanner of JSON objects whose values are all scalars and whose strings have no escapes: it
 * puts the value of each of `fields` in `values` (null when absent; of a key given twice, the
 * last, as JSON.parse does) and says true; false when `s` is anything else, valid JSON or not.
 * Spaces are looked for only where one is (a character test, no call), and a key is compared
 * only with the names of its length.
 */
export function flatObjectScanner(fields: string[]): (s: string, values: unknown[]) => boolean {
  const fieldAt = fieldMatcher(fields);
  const n = fields.length;
  return (s, values) => {
    if (ESCAPE_OR_CONTROL.test(s)) return false;
    for (let k = 0; k < n; k++) values[k] = null;
    let i = 0;
    let c = s.charCodeAt(0);
    if (c === SPACE) c = s.charCodeAt(i = skipSpace(s, 0));
    if (c !== OPEN) return false;
    c = s.charCodeAt(++i);
    if (c === SPACE) c = s.charCodeAt(i = skipSpace(s, i));
    if (c === CLOSE) return skipSpace(s, i + 1) === s.length;
    for (;;) {
      if (c !== QUOTE) return false;
      const keyStart = i + 1;
      const keyEnd = s.indexOf('"', keyStart);
      if (keyEnd < 0) return false;
      c = s.charCodeAt(i = keyEnd + 1);
      if (c === SPACE) c = s.charCodeAt(i = skipSpace(s, i));
      if (c !== COLON) return false;
      c = s.charCodeAt(++i);
      if (c === SPACE) c = s.charCodeAt(i = skipSpace(s, i));
      const from = i;
      if (c === QUOTE) {
        i = s.indexOf('"', i + 1) + 1;
        if (i === 0) return false;
      } else {
        i = bareEnd(s, i, c);
        if (i < 0) return false;
      }
      const field = fieldAt(s, keyStart, keyEnd);
      if (field >= 0) values[field] = c === QUOTE ? s.slice(from + 1, i - 1) : bareAt(s, from, i);
      c = s.charCodeAt(i);
      if (c === SPACE) c = s.charCodeAt(i = skipSpace(s, i));
      if (c === CLOSE) return skipSpace(s, i + 1) === s.length;
      if (c !== COMMA) return false;
      c = s.charCodeAt(++i);
      if (c === SPACE) c = s.charCodeAt(i = skipSpace(s, i));
    }
  };
}

/** Whether `parse: { json, fields }` builds its records by a scan (see jsonParser): the fields allow it. */
export function scansJsonFields(fields: string[] | undefined): fields is string[] {
  return fields !== undefined && new Set(fields).size === fields.length && !fields.includes("__proto__");
}

/**
 * `parse: { json, fields }` of every line of a chunk itself, read from the chunk's bytes: no
 * string per line, and the structure found by loops the compiler makes inline (`indexOf` and
 * `startsWith` on a string are calls). `text` is the chunk decoded; when it has one character
 * per byte (no multi-byte characters), a value is `text.slice` at the byte offsets. A line the
 * byte scan does not vouch for (escapes, other whitespace, nested values, bad JSON, the last
 * line without its newline) goes to `line` as its string, for the parse step itself; the rest
 * go to `parsed` as records. Lines are split as splitLines splits them (a CR before the newline
 * dropped), in order. False, having done nothing, when `text` has more or fewer characters
 * than `data` has bytes.
 */
export function parseJsonLines(
  data: Uint8Array,
  text: string,
  fields: string[],
  parsed: (record: unknown) => void,
  line: (text: string) => void,
): boolean {
  if (text.length !== data.length) return false;
  const scan = flatObjectByteScanner(fields);
  const record = recordMaker(fields);
  const values: unknown[] = new Array(fields.length);
  for (let at = 0; at < data.length;) {
    const nl = data.indexOf(10, at);
    if (nl < 0) {
      const last = text.slice(at);
      line(last.endsWith("\r") ? last.slice(0, -1) : last);
      return true;
    }
    const end = nl > at && data[nl - 1] === 13 ? nl - 1 : nl;
    // The byte after the line (its newline, or the CR before it) stops every loop of the scan.
    if (scan(data, text, at, end, values)) parsed(record(values));
    else line(text.slice(at, end));
    at = nl + 1;
  }
  return true;
}

type ByteScan = (b: Uint8Array, text: string, start: number, end: number, values: unknown[]) => boolean;

const byteScanners = new Map<string, ByteScan>();

/**
 * flatObjectScanner over bytes: the line b[start, end), whose next byte is a control character
 * (a newline or CR), is a JSON object of scalars with only spaces for whitespace and no escapes;
 * its values are taken from `text` at the same offsets. Stricter than the string scan (which
 * the caller falls back to), never more lenient than JSON.
 */
function flatObjectByteScanner(fields: string[]): ByteScan {
  const id = JSON.stringify(fields);
  let scan = byteScanners.get(id);
  if (scan) return scan;
  const fieldAt = fieldMatcher(fields);
  const n = fields.length;
  scan = (b, text, start, end, values) => {
    for (let k = 0; k < n; k++) values[k] = null;
    let i = start;
    while (b[i] === SPACE) i++;
    if (b[i] !== OPEN) return false;
    i++;
    while (b[i] === SPACE) i++;
    if (b[i] !== CLOSE) {
      for (;;) {
        if (b[i] !== QUOTE) return false;
        const keyStart = ++i;
        i = stringEnd(b, i);
        if (i < 0) return false;
        const keyEnd = i++;
        while (b[i] === SPACE) i++;
        if (b[i] !== COLON) return false;
        i++;
        while (b[i] === SPACE) i++;
        const from = i;
        const c = b[i];
        if (c === QUOTE) {
          i = stringEnd(b, i + 1);
          if (i < 0) return false;
          i++;
        } else {
          i = bareBytesEnd(b, i, c);
          if (i < 0) return false;
        }
        const field = fieldAt(text, keyStart, keyEnd);
        if (field >= 0) values[field] = c === QUOTE ? text.slice(from + 1, i - 1) : bareAt(text, from, i);
        while (b[i] === SPACE) i++;
        if (b[i] === CLOSE) break;
        if (b[i] !== COMMA) return false;
        i++;
        while (b[i] === SPACE) i++;
      }
    }
    i++;
    while (b[i] === SPACE) i++;
    return i === end;
  };
  byteScanners.set(id, scan);
  return scan;
}

/** Index of the quote that ends the string whose text starts at i; -1 at a backslash or control byte. */
function stringEnd(b: Uint8Array, i: number): number {
  let c = b[i];
  while (c !== QUOTE) {
    if (c < 32 || c === BACKSLASH) return -1;
    c = b[++i];
  }
  return i;
}

/** Index after the number, true, false or null at i (c = b[i]); -1 if none. As bareEnd, on bytes. */
function bareBytesEnd(b: Uint8Array, i: number, c: number): number {
  if (c === MINUS || isDigit(c)) {
    if (c === MINUS) c = b[++i];
    if (!isDigit(c)) return -1;
    if (c === 48) c = b[++i];
    else while (isDigit(c)) c = b[++i];
    if (c === DOT) {
      c = b[++i];
      if (!isDigit(c)) return -1;
      while (isDigit(c)) c = b[++i];
    }
    if (c === 101 || c === 69) {
      c = b[++i];
      if (c === 43 || c === MINUS) c = b[++i];
      if (!isDigit(c)) return -1;
      while (isDigit(c)) c = b[++i];
    }
    return i;
  }
  // true, false, null
  if (c === 116) return b[i + 1] === 114 && b[i + 2] === 117 && b[i + 3] === 101 ? i + 4 : -1;
  if (c === 110) return b[i + 1] === 117 && b[i + 2] === 108 && b[i + 3] === 108 ? i + 4 : -1;
  if (c === 102) {
    return b[i + 1] === 97 && b[i + 2] === 108 && b[i + 3] === 115 && b[i + 4] === 101 ? i + 5 : -1;
  }
  return -1;
}

function fieldsParser(format: "csv" | "tsv", columns: string[]): Parser {
  return (text) => {
    const line = needString(text, format);
    const values = format === "tsv" ? line.split("\t") : splitCsv(line);
    if (values.length !== columns.length) {
      throw new Error(`parse ${format}: expected ${columns.length} fields, got ${values.length}`);
    }
    const out: Record<string, string> = {};
    for (let i = 0; i < columns.length; i++) out[columns[i]] = values[i];
    return out;
  };
}

function regexParser(pattern: string): Parser {
  const re = new RegExp(pattern);
  return (text) => {
    const m = re.exec(needString(text, "regex"));
    if (!m) throw new Error(`parse regex: no match for /${pattern}/`);
    const out: Record<string, string | null> = {};
    // An optional group that did not take part is null (undefined would vanish in JSON output).
    for (const [name, v] of Object.entries(m.groups ?? {})) out[name] = v ?? null;
    return out;
  };
}

/**
 * Splits one CSV line with RFC 4180 quoting, as the csv source format does: a quote inside an
 * unquoted field is kept as it is. Throws on an unterminated quoted field or text after one.
 */
export function splitCsv(line: string): string[] {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] !== '"') {
      const c = line.indexOf(",", i);
      out.push(line.slice(i, c < 0 ? undefined : c));
      if (c < 0) return out;
      i = c + 1;
      continue;
    }
    let v = "";
    i++;
    for (;;) {
      const q = line.indexOf('"', i);
      if (q < 0) throw new Error("parse csv: unterminated quoted field");
      v += line.slice(i, q);
      if (line[q + 1] === '"') {
        v += '"';
        i = q + 2;
      } else {
        i = q + 1;
        break;
      }
    }
    out.push(v);
    if (i >= line.length) return out;
    if (line[i] !== ",") throw new Error("parse csv: text after a closing quote");
    i++;
  }
}
