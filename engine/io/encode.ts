import type { Format } from "../plan/spec.ts";

/**
 * Formats output records as text lines. Objects become their values in key order (tsv/csv) or
 * JSON (jsonl); arrays become their elements; anything nested is written as JSON.
 */

const encoder = new TextEncoder();

function fields(r: unknown): unknown[] {
  if (Array.isArray(r)) return r;
  if (r !== null && typeof r === "object") return Object.values(r);
  return [r];
}

function text(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function tsvField(v: unknown): string {
  const s = text(v);
  return /[\t\n\r\\]/.test(s)
    ? s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r")
    : s;
}

function csvField(v: unknown): string {
  const s = text(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatRecord(r: unknown, format: Format): string {
  switch (format) {
    case "tsv":
      return fields(r).map(tsvField).join("\t");
    case "csv":
      return fields(r).map(csvField).join(",");
    case "jsonl":
      return JSON.stringify(r) ?? "null";
    case "lines":
      return typeof r === "string" ? r : text(r);
  }
}

export function encodeRecords(records: unknown[], format: Format): Uint8Array {
  if (records.length === 0) return new Uint8Array(0);
  let s = "";
  for (let i = 0; i < records.length; i++) s += formatRecord(records[i], format) + "\n";
  return encoder.encode(s);
}
