/**
 * The reference: a plain single-process evaluation of a pipeline, written independently of the
 * engine (no scheduler, no partitions, no shuffle, its own parsing, joining, windowing,
 * aggregation and formatting) so golden tests compare the engine against something that cannot
 * share its bugs.
 *
 * Batches are cut every `batchRecords` records (the engine does the same when its interval is
 * longer than the run), so `emit: updates` output and window closing are comparable batch for
 * batch. Event-time windows: the watermark is the highest event time of every record that got
 * a key and a time so far, minus maxDelay, raised after each batch; a window closes when the
 * watermark reaches its end + allowedLateness; a record whose windows have all closed is late
 * (counted in `late`, not in `rejected`); at end of input every open window is output.
 * Aggregates and windows live in reference_aggregate.ts, the text formats in reference_text.ts.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse } from "yaml";
import { columnsOf, fn, type Obj, type Rec, RefWindows, summarize, valuesOf } from "./reference_aggregate.ts";
import { formatLine, parseText, splitFields, strictCsv } from "./reference_text.ts";

export interface ReferenceResult {
  /** Output lines, in batch order (order within a batch is arbitrary in the engine). */
  lines: string[];
  rejected: number;
  /** Records that arrived after all their windows had closed. */
  late: number;
}

export interface ReferenceOptions {
  /** Path of the pipeline file: relative join tables and udf modules are resolved against it. */
  file?: string;
  /** For ${VAR} / ${VAR:-default} (default: process.env). */
  env?: Record<string, string | undefined>;
}

export function evaluateReference(
  yamlText: string,
  input: string,
  batchRecords: number,
  opts: ReferenceOptions = {},
): ReferenceResult {
  const spec = substitute(parse(yamlText), opts.env ?? process.env) as {
    source: Record<string, { format?: string; header?: boolean }>;
    sink?: Record<string, { format?: string }>;
    steps?: Obj[];
  };
  const baseDir = dirname(opts.file ?? "./pipeline.yaml");
  const srcKind = Object.keys(spec.source)[0];
  const src = spec.source[srcKind];
  const format: string = src.format ?? "lines";
  const sinkFormat: string = spec.sink ? spec.sink[Object.keys(spec.sink)[0]].format ?? "tsv" : "tsv";
  let rejected = 0;
  let late = 0;

  let rawLines = input.split("\n");
  if (rawLines[rawLines.length - 1] === "") rawLines.pop();
  rawLines = rawLines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  let header: string[] | null = null;
  if (src.header && rawLines.length) header = splitFields(rawLines.shift()!, format).map((s) => s.trim());

  // Batches of raw lines, exactly as the engine's batcher cuts them; the last one is final
  // (possibly empty when the input is a multiple of batchRecords, or empty).
  const batches: string[][] = [];
  for (let i = 0; i < rawLines.length; i += batchRecords) batches.push(rawLines.slice(i, i + batchRecords));
  if (batches.length === 0 || batches[batches.length - 1].length === batchRecords) batches.push([]);

  // Steps with names resolved the way the language defines them.
  const steps: Obj[] = spec.steps ?? [];
  const states = new Map<number, Map<string, { key: unknown; vals: Record<string, unknown[]> }>>();
  const windows = new Map<number, RefWindows>();
  const tables = new Map<number, Map<string, Obj>>();
  const udfs = new Map<number, (r: Rec) => unknown>();
  const out: string[] = [];

  batches.forEach((lines, bi) => {
    const final = bi === batches.length - 1;
    let recs: Rec[] = [];
    for (const l of lines) {
      if (format === "lines") recs.push(l);
      else if (l.trim() === "") continue;
      else if (format === "jsonl") {
        try {
          recs.push(JSON.parse(l));
        } catch {
          rejected++;
        }
      } else {
        const f = splitFields(l, format);
        if (!header) recs.push(f);
        else if (f.length !== header.length) rejected++;
        else recs.push(Object.fromEntries(header.map((h, i) => [h, f[i]])));
      }
    }
    let name = format === "lines" ? "line" : "record";
    // Applies f to each record: a value, SKIP (dropped, not an error), or a throw (rejected).
    const each = (f: (r: Rec) => Rec[]) => {
      const next: Rec[] = [];
      for (const r of recs) {
        try {
          next.push(...f(r));
        } catch {
          rejected++;
        }
      }
      recs = next;
    };
    for (let si = 0; si < steps.length; si++) {
      const s = steps[si];
      const as = (s.as as string | undefined) ?? name;
      if ("map" in s || "filter" in s || "flatMap" in s) {
        const kind = "map" in s ? "map" : "filter" in s ? "filter" : "flatMap";
        const f = fn(s[kind] as string, as);
        each((r) => {
          const v = f(r);
          if (kind === "map") return [v];
          if (kind === "filter") return v ? [r] : [];
          if (Array.isArray(v)) return v;
          throw new Error("flatMap needs an array");
        });
        name = as;
      } else if ("split" in s) {
        const text = fn(s.split as string, as);
        // Pieces between runs of the separators, none empty: the same as the engine's scan.
        const on = ((s.on as string | undefined) ?? " \t").split("");
        const sep = new RegExp(`[${on.map((c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")).join("")}]+`);
        each((r) => {
          const t = text(r);
          if (typeof t !== "string") throw new Error("split needs a string");
          return t.split(sep).filter((w) => w.length > 0);
        });
        name = as;
      } else if ("parse" in s) {
        const p = s.parse as Obj;
        const fmt = ["json", "csv", "tsv", "regex"].find((k) => k in p)!;
        const from = fn((fmt === "regex" ? p.from : p[fmt]) as string, as);
        each((r) => [parseText(fmt, from(r), p)]);
        name = as;
      } else if ("join" in s) {
        const j = s.join as Obj;
        if (!tables.has(si)) tables.set(si, readTable(j, baseDir));
        const table = tables.get(si)!;
        const on = fn(j.on as string, as);
        each((r) => {
          const id = textKey(on(r));
          const row = id === undefined ? undefined : table.get(id);
          if (row) {
            return [r !== null && typeof r === "object" && !Array.isArray(r) ? { ...r, ...row } : { value: r, ...row }];
          }
          return j.unmatched === "keep" ? [r] : [];
        });
        name = as;
      } else if ("udf" in s) {
        const u = s.udf as Obj;
        if (!udfs.has(si)) {
          const path = isAbsolute(u.module as string) ? u.module as string : resolve(baseDir, u.module as string);
          udfs.set(si, createRequire(import.meta.url)(path)[u.export as string]);
        }
        const f = udfs.get(si)!;
        const kind = (u.kind as string | undefined) ?? "map";
        each((r) => {
          const v = f(r);
          if (kind === "map") return [v];
          if (kind === "filter") return v ? [r] : [];
          if (Array.isArray(v)) return v;
          throw new Error("flatMap needs an array");
        });
        name = as;
      } else if ("keyBy" in s) {
        const keyFn = fn(s.keyBy as string, as);
        name = as;
        const win = steps[si + 1];
        if (win && "window" in win) {
          const agg = steps[si + 2];
          const winAs = (win.as as string | undefined) ?? name;
          const cols = columnsOf(agg.aggregate as Record<string, Obj>, (agg.as as string | undefined) ?? winAs);
          if (!windows.has(si + 1)) windows.set(si + 1, new RefWindows(win.window as Obj, winAs, cols));
          const w = windows.get(si + 1)!;
          const emitted: Rec[] = [];
          for (const r of recs) {
            const res = w.add(keyFn, r);
            if (res === "rejected") rejected++;
            else if (res === "late") late++;
          }
          w.closeUpTo(emitted);
          if (final) w.closeAll(emitted);
          recs = emitted;
          name = "record";
          si += 2;
          continue;
        }
        const agg = win;
        if (!agg || !("aggregate" in agg)) {
          each((r) => {
            keyFn(r);
            return [r];
          });
          continue;
        }
        si++;
        const cols = columnsOf(agg.aggregate as Record<string, Obj>, (agg.as as string | undefined) ?? name);
        let state = states.get(si);
        if (!state) states.set(si, state = new Map());
        const changed = new Set<string>();
        for (const r of recs) {
          let key: unknown;
          let vals: unknown[];
          try {
            key = keyFn(r);
            vals = valuesOf(cols, r);
          } catch {
            rejected++;
            continue;
          }
          const id = JSON.stringify(key);
          let entry = state.get(id);
          if (!entry) state.set(id, entry = { key, vals: Object.fromEntries(cols.map((c) => [c.name, []])) });
          cols.forEach((c, i) => entry!.vals[c.name].push(vals[i]));
          changed.add(id);
        }
        const emitKeys = agg.emit === "updates" ? [...changed] : final ? [...state.keys()] : [];
        recs = emitKeys.map((id) => {
          const e = state!.get(id)!;
          const row: Obj = { key: e.key };
          for (const c of cols) row[c.name] = summarize(c, e.vals[c.name]);
          return row;
        });
        name = "record";
      }
    }
    for (const r of recs) out.push(formatLine(r, sinkFormat));
  });
  return { lines: out, rejected, late };
}

/** ${VAR} and ${VAR:-default} in every string of the parsed document. */
function substitute(v: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof v === "string") {
    return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_w, n: string, d?: string) => {
      const x = env[n];
      if (x !== undefined && x !== "") return x;
      if (d !== undefined) return d;
      throw new Error(`reference: ${n} is not set`);
    });
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, env));
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, env)]));
  }
  return v;
}

/** A join table by key text; the first row of a key wins; the key column is not part of the row. */
function readTable(j: Obj, baseDir: string): Map<string, Obj> {
  const file = j.file as string;
  const text = readFileSync(isAbsolute(file) ? file : resolve(baseDir, file), "utf8");
  const format = (j.format as string | undefined) ?? file.split(".").pop()!.toLowerCase();
  const key = j.key as string;
  const rows: Obj[] = [];
  const lines = text.split(/\r?\n/).filter((l) => l !== "");
  if (format === "jsonl" || format === "ndjson") {
    for (const l of lines) if (l.trim()) rows.push(JSON.parse(l));
  } else {
    const split = (l: string) => (format === "tsv" ? l.split("\t") : strictCsv(l)!);
    const head = split(lines[0]).map((h) => h.trim());
    for (const l of lines.slice(1)) rows.push(Object.fromEntries(head.map((h, i) => [h, split(l)[i]])));
  }
  const table = new Map<string, Obj>();
  for (const row of rows) {
    const id = textKey(row[key]);
    if (id === undefined || table.has(id)) continue;
    const { [key]: _, ...rest } = row;
    table.set(id, rest);
  }
  return table;
}

function textKey(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "object") return JSON.stringify(v);
  if (typeof v === "function" || typeof v === "symbol") return undefined;
  return String(v);
}
