/**
 * The reference's aggregates and windows (see reference.ts): the columns an aggregate step
 * computes, how a column summarises its values, the value order, and keyed event-time windows,
 * all written from the language's definition rather than the engine's.
 * @module
 */

export type Rec = unknown;
export type Agg = { name: string; kind: string; of?: (r: Rec) => unknown; k?: number };
export type Obj = Record<string, unknown>;

/** An expression of the pipeline language as a function of its record, named `as`. */
export const fn = (expr: string, as: string) => new Function(as, `return (${expr}\n);`) as (r: Rec) => unknown;

export function columnsOf(spec: Record<string, Obj>, as: string): Agg[] {
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
export function valuesOf(cols: Agg[], r: Rec): unknown[] {
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

export function summarize(c: Agg, vs: unknown[]): unknown {
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
export function order(a: unknown, b: unknown): number {
  const cls = (v: unknown) =>
    v === null || v === undefined ? 0 : ({ boolean: 1, number: 2, string: 3 } as Obj)[typeof v] as number ?? 4;
  if (cls(a) !== cls(b)) return cls(a) - cls(b);
  const [x, y] = cls(a) === 4 ? [JSON.stringify(a), JSON.stringify(b)] : [a as number, b as number];
  return x < y ? -1 : x > y ? 1 : 0;
}

export const UNIT: Obj = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
export function ms(d: unknown): number {
  if (typeof d === "number") return d;
  const m = /^\s*([\d.]+)\s*(ms|s|m|h)?\s*$/.exec(String(d))!;
  return Number(m[1]) * (UNIT[m[2] ?? "ms"] as number);
}

export function timeOf(v: unknown): number {
  if (typeof v === "number" && isFinite(v)) return v;
  if (typeof v === "string" && /^\d{4}-\d\d-\d\d(T[\d:.]+(Z|[+-]\d\d:\d\d)?)?$/i.test(v)) {
    const t = Date.parse(/T[\d:.]+$/.test(v) ? v + "Z" : v);
    if (!isNaN(t)) return t;
  }
  throw new Error("not a time");
}

export interface RefWin {
  key: unknown;
  start: number;
  /** Event times and column values of the records in it. */
  times: number[];
  vals: unknown[][];
}

/** Keyed windows of one window step, written from the language's definition, not the engine's. */
export class RefWindows {
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
