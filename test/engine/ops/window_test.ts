import { describe, expect, test } from "bun:test";
import { Packr } from "msgpackr";
import { compileExpression } from "../../../engine/ops/expr.ts";
import { fuseSteps } from "../../../engine/ops/narrow.ts";
import { type Key, normalizeKey, partitionOf } from "../../../engine/ops/partition.ts";
import { Rejects } from "../../../engine/ops/reject.ts";
import { eventTime, Watermark, WindowState } from "../../../engine/ops/window.ts";
import { loadPipeline } from "../../../engine/plan/load.ts";
import type { AggregateColumnPlan, WindowPlan } from "../../../engine/plan/plan.ts";
import { buildPlan } from "../../../engine/plan/stages.ts";
import { evaluateReference } from "../../support/reference.ts";
import { prng } from "../../support/prng.ts";

const COUNT: AggregateColumnPlan[] = [{ name: "n", kind: "count" }];

function wplan(over: Omit<Partial<WindowPlan>, "aggregate">, columns = COUNT): WindowPlan {
  return {
    kind: "tumbling",
    sizeMs: 10_000,
    time: { expr: "r.t", as: "r", label: "step 2 'window'" },
    maxDelayMs: 0,
    allowedLatenessMs: 0,
    idleTimeoutMs: null,
    label: "step 2 'window'",
    ...over,
    aggregate: { columns, emit: "final", as: "r", label: "step 3 'aggregate'" },
  };
}

/** Runs `f` with an emit that collects records, and a late callback that collects late ones. */
class Probe {
  readonly out: Record<string, unknown>[] = [];
  readonly late: unknown[] = [];
  readonly emit = (r: unknown) => this.out.push(r as Record<string, unknown>);
  readonly onLate = (r: unknown) => this.late.push(r);
  take(): Record<string, unknown>[] {
    return this.out.splice(0);
  }
}

function add(w: WindowState, p: Probe, key: Key, t: number, extra: Record<string, unknown> = {}): void {
  w.add(key, t, { t, ...extra }, p.onLate);
}

describe("eventTime", () => {
  test("epoch ms numbers pass through; ISO strings become epoch ms (UTC when no offset is given)", () => {
    expect(eventTime(1_700_000_000_123)).toBe(1_700_000_000_123);
    expect(eventTime(-5)).toBe(-5);
    expect(eventTime("2026-11-25T10:00:00Z")).toBe(Date.UTC(2026, 10, 25, 10));
    expect(eventTime("2026-11-25T10:00:00.250Z")).toBe(Date.UTC(2026, 10, 25, 10, 0, 0, 250));
    expect(eventTime("2026-11-25T12:00:00+02:00")).toBe(Date.UTC(2026, 10, 25, 10));
    expect(eventTime("2026-11-25T10:00:00")).toBe(Date.UTC(2026, 10, 25, 10));
    expect(eventTime("2026-11-25T10:00")).toBe(Date.UTC(2026, 10, 25, 10));
    expect(eventTime("2026-11-25")).toBe(Date.UTC(2026, 10, 25));
  });

  test("anything else throws", () => {
    for (
      const bad of ["1700000000000", "yesterday", "2026-13-45T99:00:00Z", "", NaN, Infinity, null, undefined, {}, []]
    ) {
      expect(() => eventTime(bad)).toThrow(TypeError);
    }
    expect(() => eventTime(new Date(0))).toThrow(/epoch ms or an ISO 8601 string/);
  });
});

describe("WindowState: tumbling", () => {
  test("a record goes to [floor(t/size)*size, +size); windows close in order of end, then key", () => {
    const w = new WindowState(wplan({}));
    const p = new Probe();
    for (const [k, t] of [["b", 12_000], ["a", 9_999], ["b", 0], ["a", 10_000], ["c", 25_000], ["a", -1]] as const) {
      add(w, p, k, t);
    }
    expect(w.openWindows).toBe(6); // [-10s,0) a; [0,10s) a b; [10s,20s) a b; [20s,30s) c
    w.advance(9_999, p.emit);
    expect(p.take()).toEqual([{ key: "a", start: -10_000, end: 0, n: 1 }]);
    w.advance(20_000, p.emit);
    expect(p.take()).toEqual([
      { key: "a", start: 0, end: 10_000, n: 1 },
      { key: "b", start: 0, end: 10_000, n: 1 },
      { key: "a", start: 10_000, end: 20_000, n: 1 },
      { key: "b", start: 10_000, end: 20_000, n: 1 },
    ]);
    // Emitted windows are forgotten: advancing again emits nothing new.
    w.advance(20_001, p.emit);
    expect(p.take()).toEqual([]);
    expect(w.openWindows).toBe(1);
    w.flush(p.emit);
    expect(p.take()).toEqual([{ key: "c", start: 20_000, end: 30_000, n: 1 }]);
    expect(w.openWindows).toBe(0);
    expect(p.late).toEqual([]);
  });

  test("keys of different types order null < booleans < numbers < strings", () => {
    const w = new WindowState(wplan({}));
    const p = new Probe();
    for (const k of ["x", 10, 2, null, true, "10"] as Key[]) add(w, p, k, 5);
    w.flush(p.emit);
    expect(p.out.map((r) => r.key)).toEqual([null, true, 2, 10, "10", "x"]);
  });

  test("the output record is { key, start, end, ...columns } in that order", () => {
    const cols: AggregateColumnPlan[] = [
      { name: "n", kind: "count" },
      { name: "total", kind: "sum", of: "r.v" },
      { name: "users", kind: "distinct", of: "r.u" },
      { name: "top", kind: "topK", of: "r.u", k: 1 },
    ];
    const w = new WindowState(wplan({}, cols));
    const p = new Probe();
    add(w, p, "k", 1, { v: 2, u: "x" });
    add(w, p, "k", 2, { v: 3, u: "y" });
    add(w, p, "k", 3, { v: 4, u: "y" });
    w.flush(p.emit);
    expect(p.out).toEqual([{ key: "k", start: 0, end: 10_000, n: 3, total: 9, users: 2, top: [["y", 2]] }]);
    expect(Object.keys(p.out[0])).toEqual(["key", "start", "end", "n", "total", "users", "top"]);
  });

  test("the watermark never goes down, and a record of a closed window is late, not dropped", () => {
    const w = new WindowState(wplan({}));
    const p = new Probe();
    expect(w.watermark).toBe(-Infinity);
    w.advance(15_000, p.emit);
    w.advance(3_000, p.emit);
    expect(w.watermark).toBe(15_000);
    add(w, p, "a", 9_999); // [0,10s) closed at 15s
    add(w, p, "a", 10_000); // [10s,20s) still open
    expect(p.late).toEqual([{ t: 9_999 }]);
    expect(w.openWindows).toBe(1);
    w.flush(p.emit);
    expect(p.out).toEqual([{ key: "a", start: 10_000, end: 20_000, n: 1 }]);
  });

  test("allowedLateness keeps a window open past its end", () => {
    const w = new WindowState(wplan({ allowedLatenessMs: 2_000 }));
    const p = new Probe();
    add(w, p, "a", 1_000);
    w.advance(11_999, p.emit);
    expect(p.take()).toEqual([]);
    add(w, p, "a", 5_000); // behind the watermark, yet within the allowed lateness
    w.advance(12_000, p.emit);
    expect(p.take()).toEqual([{ key: "a", start: 0, end: 10_000, n: 2 }]);
    add(w, p, "a", 9_000);
    expect(p.late).toEqual([{ t: 9_000 }]);
  });

  test("a record an aggregate cannot use throws and opens no window", () => {
    const w = new WindowState(wplan({}, [{ name: "s", kind: "sum", of: "r.v" }]));
    const p = new Probe();
    expect(() => add(w, p, "a", 1, { v: "nope" })).toThrow(TypeError);
    expect(w.openWindows).toBe(0);
    add(w, p, "a", 2, { v: 5 });
    expect(() => add(w, p, "a", 3, { v: "nope" })).toThrow(TypeError);
    w.flush(p.emit);
    expect(p.out).toEqual([{ key: "a", start: 0, end: 10_000, s: 5 }]);
    expect(() => w.add("a", NaN, {}, p.onLate)).toThrow(TypeError);
    expect(() => w.advance(NaN, p.emit)).toThrow(TypeError);
  });
});

describe("WindowState: sliding", () => {
  const sliding = () => new WindowState(wplan({ kind: "sliding", sizeMs: 10_000, slideMs: 5_000 }));

  test("a record is counted in every overlapping window", () => {
    const w = sliding();
    const p = new Probe();
    add(w, p, "a", 7_000); // [0,10s) and [5s,15s)
    add(w, p, "a", 12_000); // [5s,15s) and [10s,20s)
    add(w, p, "a", 5_000); // [0,10s) and [5s,15s) (a window starts at 5s)
    w.flush(p.emit);
    expect(p.out).toEqual([
      { key: "a", start: 0, end: 10_000, n: 2 },
      { key: "a", start: 5_000, end: 15_000, n: 3 },
      { key: "a", start: 10_000, end: 20_000, n: 1 },
    ]);
  });

  test("a record whose earlier window closed still counts in its open ones; late only when all closed", () => {
    const w = sliding();
    const p = new Probe();
    add(w, p, "a", 6_000);
    w.advance(10_000, p.emit);
    expect(p.take()).toEqual([{ key: "a", start: 0, end: 10_000, n: 1 }]);
    add(w, p, "a", 7_000); // [0,10s) closed, [5s,15s) open
    add(w, p, "a", 4_999); // [-5s,5s) and [0,10s) both closed
    expect(p.late).toEqual([{ t: 4_999 }]);
    w.flush(p.emit);
    expect(p.out).toEqual([{ key: "a", start: 5_000, end: 15_000, n: 2 }]);
  });

  test("slide smaller than a third of the size: each record is in size/slide windows", () => {
    const w = new WindowState(wplan({ kind: "sliding", sizeMs: 3_000, slideMs: 1_000 }));
    const p = new Probe();
    add(w, p, "a", 2_500);
    w.flush(p.emit);
    expect(p.out.map((r) => [r.start, r.end])).toEqual([[0, 3_000], [1_000, 4_000], [2_000, 5_000]]);
  });
});

describe("WindowState: session", () => {
  const session = (lateness = 0) =>
    new WindowState(wplan({ kind: "session", gapMs: 30_000, allowedLatenessMs: lateness }));

  test("records within the gap extend a session; a record bridging two sessions merges them", () => {
    const w = session();
    const p = new Probe();
    add(w, p, "a", 0);
    add(w, p, "a", 10_000);
    add(w, p, "a", 50_000); // 50s >= 10s + 30s: a new session
    add(w, p, "b", 20_000);
    expect(w.openWindows).toBe(3);
    add(w, p, "a", 30_000); // within the gap of both: one session 0..50s
    expect(w.openWindows).toBe(2);
    w.flush(p.emit);
    expect(p.out).toEqual([
      { key: "b", start: 20_000, end: 50_000, n: 1 },
      { key: "a", start: 0, end: 80_000, n: 4 },
    ]);
  });

  test("a session ends at its last event + gap, and closes when the watermark reaches that", () => {
    const w = session();
    const p = new Probe();
    add(w, p, "a", 1_000);
    add(w, p, "a", 25_000);
    w.advance(54_999, p.emit);
    expect(p.take()).toEqual([]);
    w.advance(55_000, p.emit);
    expect(p.take()).toEqual([{ key: "a", start: 1_000, end: 55_000, n: 2 }]);
  });

  test("a record joining an open session is on time even behind the watermark; alone it is late", () => {
    const w = session();
    const p = new Probe();
    add(w, p, "a", 90_000);
    w.advance(100_000, p.emit);
    add(w, p, "a", 70_000); // [70s,100s) overlaps the open session [90s,120s)
    add(w, p, "b", 60_000); // [60s,90s) would already be closed
    add(w, p, "a", 40_000); // [40s,70s) touches nothing open
    expect(p.late).toEqual([{ t: 60_000 }, { t: 40_000 }]);
    w.flush(p.emit);
    expect(p.out).toEqual([{ key: "a", start: 70_000, end: 120_000, n: 2 }]);
  });
});

describe("WindowState: snapshot and restore", () => {
  for (const kind of ["tumbling", "sliding", "session"] as const) {
    test(`${kind}: restoring a mid-stream snapshot (after msgpack) continues exactly as the original`, () => {
      const columns: AggregateColumnPlan[] = [
        { name: "n", kind: "count" },
        { name: "users", kind: "distinct", of: "r.u" },
        { name: "top", kind: "topK", of: "r.u", k: 2 },
      ];
      const plan = wplan({ kind, sizeMs: 4_000, slideMs: 2_000, gapMs: 1_500, allowedLatenessMs: 500 }, columns);
      const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: "number" });
      const rnd = prng(kind.length);
      const events = Array.from({ length: 400 }, (_, i) => ({
        key: ["a", "b", 7][Math.floor(rnd() * 3)] as Key,
        // Mostly a little out of order, some far behind (late once the watermark has passed).
        t: i * 50 + (rnd() < 0.1 ? -Math.floor(rnd() * 6_000) : Math.floor(rnd() * 300)),
        u: ["x", "y", "z"][Math.floor(rnd() * 3)],
      }));
      const feed = (w: WindowState, p: Probe, from: number, to: number) => {
        for (let i = from; i < to; i++) {
          w.add(events[i].key, events[i].t, events[i], p.onLate);
          if (i % 20 === 19) w.advance(Math.max(...events.slice(0, i + 1).map((e) => e.t)) - 200, p.emit);
        }
      };
      const a = new WindowState(plan);
      const pa = new Probe();
      feed(a, pa, 0, 200);
      const snap = packr.unpack(packr.pack(a.snapshot()));
      const outBefore = pa.out.length;
      const lateBefore = pa.late.length;

      const b = new WindowState(plan);
      const pb = new Probe();
      b.add("stale", 1_000_000, { u: "q" }, pb.onLate); // replaced by restore
      b.restore(snap);
      expect(b.watermark).toBe(a.watermark);
      expect(b.openWindows).toBe(a.openWindows);
      feed(a, pa, 200, 400);
      feed(b, pb, 200, 400);
      a.flush(pa.emit);
      b.flush(pb.emit);
      expect(pb.out).toEqual(pa.out.slice(outBefore));
      expect(pb.late).toEqual(pa.late.slice(lateBefore));
      expect(pa.late.length).toBeGreaterThan(0);
      expect(pb.out.some((r) => r.key === "stale")).toBe(false);

      // The snapshot is a copy: restoring it again gives the same state, whatever b did since.
      const c = new WindowState(plan);
      c.restore(snap);
      expect(c.snapshot()).toEqual(snap as ReturnType<WindowState["snapshot"]>);
    });
  }

  test("restore refuses what is not a window snapshot", () => {
    expect(() => new WindowState(wplan({})).restore({ fixed: 1 })).toThrow(/not a window snapshot/);
  });
});

describe("Watermark", () => {
  test("is the highest event time seen minus maxDelay, and -Infinity before any", () => {
    const m = new Watermark(100);
    expect(m.current()).toBe(-Infinity);
    m.observe(5_000);
    m.observe(4_000);
    expect(m.current()).toBe(4_900);
    const r = new Watermark(100);
    r.restore(m.snapshot());
    expect(r.current()).toBe(4_900);
  });

  test("with idleTimeout, it follows the clock once no event time has come for that long", () => {
    const m = new Watermark(0, 1_000);
    m.observe(10_000, 50);
    expect(m.current(1_050)).toBe(10_000);
    expect(m.current(1_550)).toBe(10_500);
    expect(new Watermark(0).current(9_999_999)).toBe(-Infinity);
  });
});

/**
 * The operators as an executor would drive them: map side (narrow steps, key, event time,
 * partitioning, the batch's highest event time), reduce side per partition (WindowState fed
 * by a Watermark), then the last stage's steps. Compared with the independent reference.
 */
function runOps(yaml: string, lines: string[], batchRecords: number, partitions: number) {
  const plan = buildPlan(loadPipeline(yaml, "w.yaml", {}), { partitions });
  const [map, reduce] = plan.stages;
  if (map.output.kind !== "shuffle" || !map.output.time || !reduce.window) throw new Error("test bug: not windowed");
  const rejects = new Rejects();
  const key = compileExpression(map.output.key.expr, map.output.key.as);
  const time = compileExpression(map.output.time.expr, map.output.time.as);
  const states = Array.from({ length: partitions }, () => new WindowState(reduce.window!));
  const marks = Array.from({ length: partitions }, () => new Watermark(reduce.window!.maxDelayMs));
  const out: string[] = [];
  let late = 0;
  const sink = fuseSteps(reduce.steps, rejects, (r) => out.push(JSON.stringify(r)));
  const batches: string[][] = [];
  for (let i = 0; i < lines.length; i += batchRecords) batches.push(lines.slice(i, i + batchRecords));
  if (batches.length === 0 || batches[batches.length - 1].length === batchRecords) batches.push([]);
  batches.forEach((batch, b) => {
    const blocks: [Key, number, unknown][][] = Array.from({ length: partitions }, () => []);
    let batchMax = -Infinity;
    const chain = fuseSteps(map.steps, rejects, (r) => {
      let k: Key;
      let t: number;
      try {
        k = normalizeKey(key(r));
      } catch (e) {
        return rejects.add(map.output.kind === "shuffle" ? map.output.key.label : "", r, e);
      }
      try {
        t = eventTime(time(r));
      } catch (e) {
        return rejects.add(reduce.window!.label, r, e);
      }
      batchMax = Math.max(batchMax, t);
      blocks[partitionOf(k, partitions)].push([k, t, r]);
    });
    for (const l of batch) chain(JSON.parse(l));
    for (let p = 0; p < partitions; p++) {
      marks[p].observe(batchMax);
      for (const [k, t, r] of blocks[p]) {
        try {
          states[p].add(k, t, r, () => late++);
        } catch (e) {
          rejects.add(reduce.window!.aggregate.label, r, e);
        }
      }
      states[p].advance(marks[p].current(), sink);
      if (b === batches.length - 1) states[p].flush(sink);
    }
  });
  return { lines: out, rejected: rejects.total, late };
}

describe("windows agree with the reference evaluator (random out-of-order input)", () => {
  const shapes = {
    tumbling: "tumbling: 1s",
    sliding: "sliding: 1s, slide: 250ms",
    session: "session: 40ms",
  };
  for (const [kind, shape] of Object.entries(shapes)) {
    test(kind, () => {
      const yaml = `source: { stdin: { format: jsonl } }
steps:
  - filter: "e.k !== 'skip'"
    as: e
  - keyBy: "e.k"
  - window: { ${shape}, time: "e.t", maxDelay: 200ms, allowedLateness: 100ms }
  - aggregate: { n: { count: {} }, total: { sum: "e.v" }, users: { distinct: "e.u" }, top: { topK: { of: "e.u", k: 2 } } }
  - map: "({ ...w, span: w.end - w.start })"
    as: w
sink: { stdout: { format: jsonl } }
`;
      const rnd = prng(kind.charCodeAt(1));
      const lines = Array.from({ length: 1_500 }, (_, i) => {
        const r = rnd();
        // Mostly on time, some far behind (late), a few with a bad time or a bad value.
        const t = r < 0.05
          ? "never"
          : 1_000_000 + i * 7 - (r < 0.15 ? Math.floor(rnd() * 3_000) : Math.floor(rnd() * 150));
        const v = r > 0.97 ? "NaN!" : Math.floor(rnd() * 10);
        const k = ["a", "b", "c", "d", "skip"][Math.floor(rnd() * 5)];
        return JSON.stringify({ k, t, v, u: `u${Math.floor(rnd() * 6)}` });
      });
      for (const [batchRecords, partitions] of [[50, 3], [333, 1], [2_000, 4]]) {
        const ref = evaluateReference(yaml, lines.join("\n") + "\n", batchRecords);
        const got = runOps(yaml, lines, batchRecords, partitions);
        expect(ref.lines.length).toBeGreaterThan(10);
        // One batch has one watermark, at its end: nothing can be late.
        if (batchRecords < lines.length) expect(ref.late).toBeGreaterThan(0);
        expect(ref.rejected).toBeGreaterThan(0);
        expect([...got.lines].sort()).toEqual([...ref.lines].sort());
        expect(got.late).toBe(ref.late);
        expect(got.rejected).toBe(ref.rejected);
      }
    });
  }
});
