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
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse } from "yaml";

type Rec = unknown;
type Agg = { name: string; kind: string; of?: (r: Rec) => unknown; k?: number };
type Obj = Record<string, unknown>;

const fn = (expr: string, as: string) => new Function(as, `return (${expr}\n);`) as (r: Rec) => unknown;

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

function columnsOf(spec: Record<string, Obj>, as: string): Agg[] {
  const kinds = ["count", "sum", "min", "max", "avg", "distinct", "topK"];
  return Object.entries(spec).map(([n, v]) => {
    const k = Object.keys(v).find((x) => kinds.includes(x));
    if (k) {
      const e = v[k];
      if (k === "topK" && e !== null && typeof e === "object") {
        const o = e as Obj;
        return { name: n, kind: k, of: fn(o.of as string, as), k: (o.k as number | undefined) ?? 10 };
      }
      return { name: n, kind: k, of: typeof e === "string" ? fn(e, as) : undefined, k: 10 };
    }
    return { name: n, kind: n, of: typeof v.of === "string" ? fn(v.of, as) : undefined, k: (v.k as number) ?? 10 };
  });
}

/** The values a record contributes to each column; throws when the record must be rejected. */
function valuesOf(cols: Agg[], r: Rec): unknown[] {
  const vals = cols.map((c) => (c.of ? c.of(r) : 1));
  cols.forEach((c, i) => {
    const v = vals[i];
    if ((c.kind === "sum" || c.kind === "avg") && (v === null || v === undefined || v === "" || isNaN(Number(v)))) {
      throw new Error("not a number");
    }
    if ((c.kind === "distinct" || c.kind === "topK") && v !== null && v !== undefined) {
      if (typeof v === "number" && !isFinite(v)) throw new Error("not finite");
      if (typeof v === "function" || typeof v === "symbol" || typeof v === "bigint") throw new Error("not JSON");
    }
  });
  return vals;
}

function summarize(c: Agg, vs: unknown[]): unknown {
  const present = vs.filter((v) => v !== null && v !== undefined);
  switch (c.kind) {
    case "count":
      return c.of ? present.length : vs.length;
    case "sum":
      return vs.reduce((a: number, v) => a + Number(v), 0);
    case "avg":
      return vs.length ? (vs.reduce((a: number, v) => a + Number(v), 0) as number) / vs.length : null;
    case "min":
      return vs.reduce((a, v) => (a === undefined || (v as number) < (a as number) ? v : a), undefined) ?? null;
    case "max":
      return vs.reduce((a, v) => (a === undefined || (v as number) > (a as number) ? v : a), undefined) ?? null;
    case "distinct":
      return new Set(present.map((v) => JSON.stringify(v))).size;
    case "topK": {
      const counts = new Map<string, number>();
      for (const v of present) counts.set(JSON.stringify(v), (counts.get(JSON.stringify(v)) ?? 0) + 1);
      return [...counts].map(([t, n]) => [JSON.parse(t), n] as [unknown, number])
        .sort((a, b) => (b[1] !== a[1] ? b[1] - a[1] : order(a[0], b[0])))
        .slice(0, c.k);
    }
  }
  throw new Error(`unknown aggregate ${c.kind}`);
}

/** null < booleans < numbers < strings (code units) < anything else (by JSON text). */
function order(a: unknown, b: unknown): number {
  const cls = (v: unknown) =>
    v === null || v === undefined ? 0 : ({ boolean: 1, number: 2, string: 3 } as Obj)[typeof v] as number ?? 4;
  if (cls(a) !== cls(b)) return cls(a) - cls(b);
  const [x, y] = cls(a) === 4 ? [JSON.stringify(a), JSON.stringify(b)] : [a as number, b as number];
  return x < y ? -1 : x > y ? 1 : 0;
}

function parseText(fmt: string, text: unknown, p: Obj): Rec {
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
function strictCsv(line: string): string[] | null {
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

const UNIT: Obj = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
function ms(d: unknown): number {
  if (typeof d === "number") return d;
  const m = /^\s*([\d.]+)\s*(ms|s|m|h)?\s*$/.exec(String(d))!;
  return Number(m[1]) * (UNIT[m[2] ?? "ms"] as number);
}

function timeOf(v: unknown): number {
  if (typeof v === "number" && isFinite(v)) return v;
  if (typeof v === "string" && /^\d{4}-\d\d-\d\d(T[\d:.]+(Z|[+-]\d\d:\d\d)?)?$/i.test(v)) {
    const t = Date.parse(/T[\d:.]+$/.test(v) ? v + "Z" : v);
    if (!isNaN(t)) return t;
  }
  throw new Error("not a time");
}

interface RefWin {
  key: unknown;
  start: number;
  /** Event times and column values of the records in it. */
  times: number[];
  vals: unknown[][];
}

/** Keyed windows of one window step, written from the language's definition, not the engine's. */
class RefWindows {
  readonly kind: string;
  readonly size: number;
  readonly slide: number;
  readonly gap: number;
  readonly delay: number;
  readonly lateness: number;
  readonly time: (r: Rec) => unknown;
  maxTime = -Infinity;
  watermark = -Infinity;
  open: RefWin[] = [];

  constructor(w: Obj, as: string, readonly cols: Agg[]) {
    this.kind = "tumbling" in w ? "tumbling" : "sliding" in w ? "sliding" : "session";
    if (w.time === undefined) throw new Error("reference: processing-time windows are not deterministic");
    this.size = ms(w.tumbling ?? w.sliding ?? 0);
    this.slide = ms(w.slide ?? w.tumbling ?? 0);
    this.gap = ms(w.session ?? 0);
    this.delay = ms(w.maxDelay ?? 0);
    this.lateness = ms(w.allowedLateness ?? 0);
    this.time = fn(w.time as string, as);
  }

  end(w: RefWin): number {
    return this.kind === "session" ? Math.max(...w.times) + this.gap : w.start + this.size;
  }

  isClosed(end: number): boolean {
    return end + this.lateness <= this.watermark;
  }

  add(keyFn: (r: Rec) => unknown, r: Rec): "ok" | "late" | "rejected" {
    let key: unknown;
    let t: number;
    try {
      key = keyFn(r);
      t = timeOf(this.time(r));
    } catch {
      return "rejected";
    }
    if (t > this.maxTime) this.maxTime = t;
    const sameKey = (w: RefWin) => JSON.stringify(w.key) === JSON.stringify(key);
    if (this.kind === "session") {
      const touching = this.open.filter((w) => sameKey(w) && w.start < t + this.gap && t < this.end(w));
      if (touching.length === 0 && this.isClosed(t + this.gap)) return "late";
      let vals: unknown[];
      try {
        vals = valuesOf(this.cols, r);
      } catch {
        return "rejected";
      }
      this.open = this.open.filter((w) => !touching.includes(w));
      const all = [...touching, { key, start: t, times: [t], vals: [vals] }];
      this.open.push({
        key,
        start: Math.min(...all.map((w) => w.start)),
        times: all.flatMap((w) => w.times),
        vals: all.flatMap((w) => w.vals),
      });
      return "ok";
    }
    const starts: number[] = [];
    for (let s = Math.floor(t / this.slide) * this.slide; s > t - this.size; s -= this.slide) starts.push(s);
    const live = starts.filter((s) => !this.isClosed(s + this.size));
    if (live.length === 0) return "late";
    let vals: unknown[];
    try {
      vals = valuesOf(this.cols, r);
    } catch {
      return "rejected";
    }
    for (const s of live) {
      let w = this.open.find((x) => x.start === s && sameKey(x));
      if (!w) this.open.push(w = { key, start: s, times: [], vals: [] });
      w.times.push(t);
      w.vals.push(vals);
    }
    return "ok";
  }

  /** End of a batch: the watermark follows the event times seen; closed windows are output. */
  closeUpTo(out: Rec[]): void {
    this.watermark = Math.max(this.watermark, this.maxTime - this.delay);
    this.output(this.open.filter((w) => this.isClosed(this.end(w))), out);
  }

  closeAll(out: Rec[]): void {
    this.output(this.open, out);
  }

  output(done: RefWin[], out: Rec[]): void {
    this.open = this.open.filter((w) => !done.includes(w));
    const sorted = [...done].sort((a, b) => this.end(a) - this.end(b) || order(a.key, b.key) || a.start - b.start);
    for (const w of sorted) {
      const row: Obj = { key: w.key, start: w.start, end: this.end(w) };
      this.cols.forEach((c, i) => (row[c.name] = summarize(c, w.vals.map((v) => v[i]))));
      out.push(row);
    }
  }
}

function splitFields(line: string, format: string): string[] {
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

function formatLine(r: unknown, format: string): string {
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
