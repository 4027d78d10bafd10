import type { Format } from "../plan/spec.ts";
import type { Rejects } from "../ops/reject.ts";

/**
 * Turns a chunk of raw input (whole lines) into records: strings for `lines`, parsed values for
 * `jsonl`, arrays (or objects, with a header) for `csv`/`tsv`. A line that does not parse is
 * rejected, never fatal. Blank lines are skipped in every format but `lines`.
 */

const SOURCE_STEP = "source";
const decoder = new TextDecoder();

/** The text of raw input (UTF-8; invalid bytes become U+FFFD, as in every format). */
export function decodeText(data: Uint8Array): string {
  return decoder.decode(data);
}

/** The lines of raw input; `text` is its decoded text when the caller already has it. */
export function splitLines(data: Uint8Array, text?: string): string[] {
  if (data.length === 0) return [];
  text ??= decodeText(data);
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  // One search of the chunk instead of a look at the end of every line: most input has no CR.
  if (text.indexOf("\r") < 0) return lines;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.length > 0 && l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
  }
  return lines;
}

export function decodeRecords(
  data: Uint8Array,
  format: Format,
  header: string[] | undefined,
  rejects: Rejects,
  emit: (record: unknown) => void,
  text?: string,
): void {
  const lines = splitLines(data, text);
  switch (format) {
    case "lines":
      for (let i = 0; i < lines.length; i++) emit(lines[i]);
      return;
    case "jsonl":
      for (const line of lines) {
        if (line.trim() === "") continue;
        let v: unknown;
        try {
          v = JSON.parse(line);
        } catch (e) {
          rejects.add(SOURCE_STEP, line, e);
          continue;
        }
        emit(v);
      }
      return;
    case "csv":
    case "tsv": {
      const sep = format === "csv" ? "," : "\t";
      for (const line of lines) {
        if (line === "") continue;
        const fields = format === "csv" ? parseCsvLine(line) : line.split(sep);
        if (fields === null) {
          rejects.add(SOURCE_STEP, line, new Error("unterminated quoted field"));
          continue;
        }
        if (!header) {
          emit(fields);
          continue;
        }
        if (fields.length !== header.length) {
          rejects.add(SOURCE_STEP, line, new Error(`expected ${header.length} fields, got ${fields.length}`));
          continue;
        }
        const rec: Record<string, string> = {};
        for (let i = 0; i < header.length; i++) rec[header[i]] = fields[i];
        emit(rec);
      }
      return;
    }
  }
}

/** Splits one CSV line (RFC 4180 quoting, no embedded newlines); null if a quote is unterminated. */
export function parseCsvLine(line: string): string[] | null {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null;
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(v);
      if (i >= line.length) return out;
      if (line[i] !== ",") return null;
      i++;
    } else {
      const c = line.indexOf(",", i);
      if (c < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
}

/** Column names from a header line. */
export function parseHeader(line: string, format: Format): string[] {
  const l = line.endsWith("\r") ? line.slice(0, -1) : line;
  return (format === "csv" ? parseCsvLine(l) ?? l.split(",") : l.split("\t")).map((s) => s.trim());
}
