/**
 * The reference's own text formats (see reference.ts): parsing a record's text, splitting and
 * writing lines, independently of engine/io.
 * @module
 */
import type { Obj, Rec } from "./reference_aggregate.ts";

export function parseText(fmt: string, text: unknown, p: Obj): Rec {
  if (typeof text !== "string") throw new Error("not a string");
  if (fmt === "json") {
    const v = JSON.parse(text);
    const fields = p.fields as string[] | undefined;
    if (!fields) return v;
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not an object");
    return Object.fromEntries(
      fields.map((f) => [f, f in v && Object.prototype.hasOwnProperty.call(v, f) ? v[f] : null]),
    );
  }
  if (fmt === "regex") {
    const m = new RegExp(p.regex as string).exec(text);
    if (!m) throw new Error("no match");
    return Object.fromEntries(Object.entries(m.groups!).map(([k, v]) => [k, v === undefined ? null : v]));
  }
  const cols = p.columns as string[];
  const fields = fmt === "tsv" ? text.split("\t") : strictCsv(text);
  if (fields === null || fields.length !== cols.length) throw new Error("wrong fields");
  return Object.fromEntries(cols.map((c, i) => [c, fields[i]]));
}

/** A CSV line with quotes; null when a quoted field is unterminated or followed by text. */
export function strictCsv(line: string): string[] | null {
  const fields: string[] = [];
  let field = "";
  let state: "start" | "plain" | "quoted" | "closed" = "start";
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (state === "quoted") {
      if (ch !== '"') field += ch;
      else if (line[i + 1] === '"') {
        field += '"';
        i++;
      } else state = "closed";
    } else if (ch === ",") {
      fields.push(field);
      field = "";
      state = "start";
    } else if (state === "closed") return null;
    else if (ch === '"' && state === "start") state = "quoted";
    else {
      field += ch;
      state = "plain";
    }
  }
  if (state === "quoted") return null;
  fields.push(field);
  return fields;
}

export function splitFields(line: string, format: string): string[] {
  if (format === "tsv") return line.split("\t");
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function formatLine(r: unknown, format: string): string {
  if (format === "jsonl") return JSON.stringify(r);
  const vals = Array.isArray(r) ? r : r !== null && typeof r === "object" ? Object.values(r) : [r];
  const str = (
    v: unknown,
  ) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
  if (format === "lines") return typeof r === "string" ? r : str(r);
  if (format === "csv") {
    return vals.map((v) => {
      const s = str(v);
      return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    }).join(",");
  }
  return vals.map((v) => str(v).replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n")).join("\t");
}
