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
  return (text) => {
    const v: unknown = JSON.parse(needString(text, "json"));
    if (!fields) return v;
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw new TypeError(`parse json: expected an object to take fields from, got ${Array.isArray(v) ? "array" : v}`);
    }
    const out: Record<string, unknown> = {};
    // A field the object lacks is null, so every output record has the same columns.
    for (const f of fields) out[f] = Object.hasOwn(v, f) ? (v as Record<string, unknown>)[f] : null;
    return out;
  };
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
