/**
 * The reference: a plain single-process evaluation of a pipeline, written independently of the
 * engine (no scheduler, no partitions, no shuffle, its own parsing, aggregation and formatting)
 * so golden tests compare the engine against something that cannot share its bugs.
 *
 * Batches are cut every `batchRecords` records (the engine does the same when its interval is
 * longer than the run), so `emit: updates` output is comparable batch for batch.
 */
import { parse } from "yaml";

type Rec = unknown;
type Agg = { name: string; kind: string; of?: (r: Rec) => unknown };

const fn = (expr: string, as: string) => new Function(as, `return (${expr}\n);`) as (r: Rec) => unknown;

export interface ReferenceResult {
  /** Output lines, in batch order (order within a batch is arbitrary in the engine). */
  lines: string[];
  rejected: number;
}

export function evaluateReference(yamlText: string, input: string, batchRecords: number): ReferenceResult {
  const spec = parse(yamlText);
  const srcKind = Object.keys(spec.source)[0];
  const src = spec.source[srcKind];
  const format: string = src.format ?? "lines";
  const sinkFormat: string = spec.sink ? spec.sink[Object.keys(spec.sink)[0]].format ?? "tsv" : "tsv";
  let rejected = 0;

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
  const steps: Array<Record<string, unknown>> = spec.steps ?? [];
  const states = new Map<number, Map<string, { key: unknown; vals: Record<string, unknown[]> }>>();
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
    for (let si = 0; si < steps.length; si++) {
      const s = steps[si];
      const as = (s.as as string | undefined) ?? name;
      if ("map" in s || "filter" in s || "flatMap" in s) {
        const kind = "map" in s ? "map" : "filter" in s ? "filter" : "flatMap";
        const f = fn(s[kind] as string, as);
        const next: Rec[] = [];
        for (const r of recs) {
          let v: unknown;
          try {
            v = f(r);
          } catch {
            rejected++;
            continue;
          }
          if (kind === "map") next.push(v);
          else if (kind === "filter") v && next.push(r);
          else if (Array.isArray(v)) next.push(...v);
          else rejected++;
        }
        recs = next;
        name = as;
      } else if ("keyBy" in s) {
        const keyFn = fn(s.keyBy as string, as);
        name = as;
        const agg = steps[si + 1];
        if (!agg || !("aggregate" in agg)) {
          recs = recs.filter((r) => {
            try {
              keyFn(r);
              return true;
            } catch {
              rejected++;
              return false;
            }
          });
          continue;
        }
        si++;
        const aggAs = (agg.as as string | undefined) ?? name;
        const cols: Agg[] = Object.entries(agg.aggregate as Record<string, Record<string, unknown>>).map(([n, v]) => {
          const kinds = ["count", "sum", "min", "max", "avg"];
          const k = Object.keys(v).find((x) => kinds.includes(x));
          if (k) return { name: n, kind: k, of: typeof v[k] === "string" ? fn(v[k] as string, aggAs) : undefined };
          return { name: n, kind: n, of: typeof v.of === "string" ? fn(v.of, aggAs) : undefined };
        });
        let state = states.get(si);
        if (!state) states.set(si, state = new Map());
        const changed = new Set<string>();
        for (const r of recs) {
          let key: unknown;
          let vals: unknown[];
          try {
            key = keyFn(r);
            vals = cols.map((c) => (c.of ? c.of(r) : 1));
            cols.forEach((c, i) => {
              if ((c.kind === "sum" || c.kind === "avg") && Number.isNaN(Number(vals[i]))) throw new Error("NaN");
            });
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
          const row: Record<string, unknown> = { key: e.key };
          for (const c of cols) row[c.name] = summarize(c, e.vals[c.name]);
          return row;
        });
        name = "record";
      }
    }
    for (const r of recs) out.push(formatLine(r, sinkFormat));
  });
  return { lines: out, rejected };
}

function summarize(c: Agg, vs: unknown[]): unknown {
  switch (c.kind) {
    case "count":
      return c.of ? vs.filter((v) => v !== null && v !== undefined).length : vs.length;
    case "sum":
      return vs.reduce((a: number, v) => a + Number(v), 0);
    case "avg":
      return vs.length ? (vs.reduce((a: number, v) => a + Number(v), 0) as number) / vs.length : null;
    case "min":
      return vs.reduce((a, v) => (a === undefined || (v as number) < (a as number) ? v : a), undefined);
    case "max":
      return vs.reduce((a, v) => (a === undefined || (v as number) > (a as number) ? v : a), undefined);
  }
  throw new Error(`unknown aggregate ${c.kind}`);
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
