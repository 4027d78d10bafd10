import { describe, expect, test } from "bun:test";
import { Packr } from "msgpackr";
import { AggregateFns, AggregateState, Combiner, type PartialBlock, topOf } from "../../../engine/ops/aggregate.ts";
import { type Key, partitionOf } from "../../../engine/ops/partition.ts";
import type { AggregateColumnPlan, AggregatePlan } from "../../../engine/plan/plan.ts";
import { prng } from "../../support/prng.ts";

function plan(columns: AggregateColumnPlan[], emit: AggregatePlan["emit"] = "final"): AggregatePlan {
  return { columns, emit, as: "r", label: "step 2 'aggregate'" };
}

const ALL: AggregateColumnPlan[] = [
  { name: "n", kind: "count" },
  { name: "present", kind: "count", of: "r.v" },
  { name: "total", kind: "sum", of: "r.v" },
  { name: "lo", kind: "min", of: "r.v" },
  { name: "hi", kind: "max", of: "r.v" },
  { name: "mean", kind: "avg", of: "r.v" },
  { name: "first", kind: "min", of: "r.name" },
  { name: "last", kind: "max", of: "r.name" },
];

function collect(f: (emit: (r: unknown) => void) => void): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  f((r) => out.push(r as Record<string, unknown>));
  return out;
}

function byKey(rows: Record<string, unknown>[]): Map<unknown, Record<string, unknown>> {
  return new Map(rows.map((r) => [r.key, r]));
}

describe("AggregateFns", () => {
  test("plain counts take the count-only path and count records", () => {
    const fns = new AggregateFns(plan([{ name: "n", kind: "count" }, { name: "m", kind: "count" }]));
    expect(fns.countOnly).toBe(true);
    const acc = fns.init();
    for (let i = 0; i < 3; i++) fns.add(acc, { anything: i });
    expect(fns.output("w", acc)).toEqual({ key: "w", n: 3, m: 3 });
  });

  test("sum/min/max/avg evaluate their `of` expression and output in column order", () => {
    const fns = new AggregateFns(plan(ALL.slice(0, 6)));
    expect(fns.countOnly).toBe(false);
    expect(fns.slots).toBe(7); // avg takes two slots
    const acc = fns.init();
    for (const v of [3, -1, 10, 4]) fns.add(acc, { v });
    const out = fns.output("k", acc);
    expect(out).toEqual({ key: "k", n: 4, present: 4, total: 16, lo: -1, hi: 10, mean: 4 });
    expect(Object.keys(out)).toEqual(["key", "n", "present", "total", "lo", "hi", "mean"]);
  });

  test("count with `of` counts only records whose value is present", () => {
    const fns = new AggregateFns(plan([{ name: "c", kind: "count", of: "r.v" }, { name: "n", kind: "count" }]));
    const acc = fns.init();
    for (const r of [{ v: 1 }, { v: null }, {}, { v: 0 }, { v: "" }]) fns.add(acc, r);
    expect(fns.output(null, acc)).toEqual({ key: null, c: 3, n: 5 });
  });

  test("min/max compare strings as strings", () => {
    const fns = new AggregateFns(plan([{ name: "lo", kind: "min", of: "r" }, { name: "hi", kind: "max", of: "r" }]));
    const acc = fns.init();
    for (const w of ["pear", "apple", "zebra", "banana", "Zulu"]) fns.add(acc, w);
    expect(fns.output("x", acc)).toEqual({ key: "x", lo: "Zulu", hi: "zebra" });
    // "10" < "9" as strings: no numeric coercion
    const acc2 = fns.init();
    fns.add(acc2, "9");
    fns.add(acc2, "10");
    expect(fns.output("y", acc2)).toEqual({ key: "y", lo: "10", hi: "9" });
  });

  test("an empty accumulator outputs null min/max/avg and zero count/sum", () => {
    const fns = new AggregateFns(plan(ALL.slice(0, 6)));
    expect(fns.output("e", fns.init())).toEqual({
      key: "e",
      n: 0,
      present: 0,
      total: 0,
      lo: null,
      hi: null,
      mean: null,
    });
  });

  test("sum accepts numeric strings", () => {
    const fns = new AggregateFns(plan([{ name: "s", kind: "sum", of: "r.v" }]));
    const acc = fns.init();
    fns.add(acc, { v: "2.5" });
    fns.add(acc, { v: 1 });
    expect(fns.output("k", acc).s).toBe(3.5);
  });

  test("a non-numeric sum value throws and leaves every slot of the accumulator unchanged", () => {
    const fns = new AggregateFns(plan(ALL));
    const acc = fns.init();
    fns.add(acc, { v: 5, name: "m" });
    const before = acc.slice();
    for (const bad of [{ v: "abc", name: "a" }, { v: null, name: "a" }, { v: "", name: "a" }, { name: "a" }]) {
      expect(() => fns.add(acc, bad)).toThrow(TypeError);
      expect(acc).toEqual(before);
    }
    expect(() => fns.add(acc, { v: "abc" })).toThrow(/sum 'total': expected a number, got "abc"/);
  });

  test("min/max of a non-number, non-string value throws", () => {
    const fns = new AggregateFns(plan([{ name: "n", kind: "count" }, { name: "lo", kind: "min", of: "r.v" }]));
    const acc = fns.init();
    expect(() => fns.add(acc, { v: { nested: 1 } })).toThrow(/min 'lo'/);
    expect(() => fns.add(acc, { v: null })).toThrow(TypeError);
    expect(fns.output("k", acc)).toEqual({ key: "k", n: 0, lo: null });
  });
});

/** Merges a combiner's partials into a state, as the reduce side gets them: one block per partition. */
function feed(state: AggregateState, c: Combiner, partitions = 2): void {
  for (const b of c.blocks(partitions)) state.mergeBlock(b);
}

describe("Combiner", () => {
  test("folds records into one partial per key", () => {
    const fns = new AggregateFns(plan([{ name: "n", kind: "count" }, { name: "s", kind: "sum", of: "r.v" }]));
    const c = new Combiner(fns);
    c.add("a", { v: 1 });
    c.add("b", { v: 10 });
    c.add("a", { v: 2 });
    c.add(7, { v: 100 });
    expect(c.blocks(1)).toEqual([[["a", "b", 7], [2, 3, 1, 10, 1, 100]]]);
  });

  test("blocks put each key's partial in its key's partition, as columns, in first-seen order", () => {
    const fns = new AggregateFns(plan([{ name: "n", kind: "count" }, { name: "s", kind: "sum", of: "r.v" }]));
    const c = new Combiner(fns);
    const keys: Key[] = ["a", "b", 7, null, true, "c", "d", "e", NaN, 0];
    keys.forEach((k, i) => c.add(k, { v: i }));
    c.add("a", { v: 5 });
    c.add(NaN, { v: 1 });
    const blocks = c.blocks(3);
    expect(blocks.length).toBe(3);
    const seen: Key[] = [];
    blocks.forEach((b, p) => {
      if (b.length === 0) return;
      const [ks, slots] = b;
      expect(slots.length).toBe(ks.length * 2);
      for (const k of ks) expect(partitionOf(k, 3)).toBe(p);
      seen.push(...ks);
    });
    expect(seen.length).toBe(keys.length);
    const state = new AggregateState(fns, "final");
    for (const b of blocks) state.mergeBlock(b);
    const rows = collect((e) => state.emitAll(e)) as Array<{ key: Key; n: number; s: number }>;
    expect(rows.find((r) => r.key === "a")).toEqual({ key: "a", n: 2, s: 5 });
    expect(rows.find((r) => Number.isNaN(r.key))).toEqual({ key: NaN, n: 2, s: 9 });
  });

  test("a count-only combiner's blocks are key and count columns; a partition with nothing is []", () => {
    const fns = new AggregateFns(plan([{ name: "n", kind: "count" }]));
    const c = new Combiner(fns);
    for (const w of ["x", "y", "x"]) c.add(w, w);
    const blocks = c.blocks(1);
    // String keys travel joined, with their lengths.
    expect(blocks).toEqual([["xy", [1, 1], [2, 1]]]);
    expect(new Combiner(fns).blocks(2)).toEqual([[], []]);
  });

  test("joined string keys merge into the same state as key columns, through msgpack too", () => {
    const fns = new AggregateFns(plan([{ name: "n", kind: "count" }, { name: "s", kind: "sum", of: "r.v" }]));
    const c = new Combiner(fns);
    const words = ["", "a", "ab", "é", "日本", "😀", "a😀b", "x".repeat(300), "ab"];
    words.forEach((w, i) => c.add(w, { v: i }));
    const blocks = c.blocks(3);
    expect(blocks.every((b) => b.length === 0 || (b.length === 3 && typeof b[0] === "string"))).toBe(true);
    const joined = new AggregateState(fns, "final");
    const wire = new Packr({ useRecords: false, moreTypes: false, int64AsType: "number" });
    for (const b of blocks) joined.mergeBlock(wire.unpack(wire.pack(b)) as PartialBlock);
    joined.mergeBlock(c.blocks(1)[0]); // a key already held is found in the joined text
    const columns = new AggregateState(fns, "final");
    const keys = [...new Set(words)];
    const totals = keys.map((k) => words.reduce((n, w, i) => (w === k ? n + i : n), 0));
    const counts = keys.map((k) => words.filter((w) => w === k).length);
    columns.mergeBlock([keys, keys.flatMap((_, i) => [counts[i], totals[i]])]);
    columns.mergeBlock([keys, keys.flatMap((_, i) => [counts[i], totals[i]])]);
    const rows = (s: AggregateState) =>
      (collect((e) => s.emitAll(e)) as Array<{ key: string }>).sort((x, y) => (x.key < y.key ? -1 : 1));
    expect(rows(joined)).toEqual(rows(columns));
    expect(rows(joined).length).toBe(keys.length);
  });

  test("a joined block whose lengths do not add up is refused", () => {
    const state = new AggregateState(new AggregateFns(plan([{ name: "n", kind: "count" }])), "final");
    expect(() => state.mergeBlock(["abc", [1, 1], [1, 1]])).toThrow("do not add up");
  });

  test("a record that throws on a new key creates no partial", () => {
    const fns = new AggregateFns(plan([{ name: "s", kind: "sum", of: "r.v" }]));
    const c = new Combiner(fns);
    expect(() => c.add("a", { v: "x" })).toThrow(TypeError);
    expect(c.size).toBe(0);
  });
});

describe("AggregateState", () => {
  const fns = new AggregateFns(plan(ALL));
  const names = ["kiwi", "fig", "apple", "plum", "date"];

  function randomRecord(rnd: () => number): { key: Key; rec: Record<string, unknown> } {
    const keys: Key[] = ["a", "b", "c", 1, 2, true, null];
    return {
      key: keys[Math.floor(rnd() * keys.length)],
      rec: { v: Math.floor(rnd() * 2001) - 1000, name: names[Math.floor(rnd() * names.length)] },
    };
  }

  test("merging partials of several combiners equals folding every record in one (random inputs)", () => {
    const rnd = prng(20240607);
    for (let trial = 0; trial < 60; trial++) {
      const n = Math.floor(rnd() * 300);
      const records = Array.from({ length: n }, () => randomRecord(rnd));
      const k = 1 + Math.floor(rnd() * 6);
      const combiners = Array.from({ length: k }, () => new Combiner(fns));
      const single = new Combiner(fns);
      for (const { key, rec } of records) {
        single.add(key, rec);
        combiners[Math.floor(rnd() * k)].add(key, rec);
      }
      const merged = new AggregateState(fns, "final");
      for (const c of combiners) feed(merged, c);
      const reference = new AggregateState(fns, "final");
      feed(reference, single);

      const got = byKey(collect((e) => merged.emitAll(e)));
      const want = byKey(collect((e) => reference.emitAll(e)));
      expect(got).toEqual(want);

      // And against a direct computation.
      for (const [key, row] of want) {
        const vs = records.filter((r) => r.key === key).map((r) => r.rec.v as number);
        expect(row.n).toBe(vs.length);
        expect(row.total).toBe(vs.reduce((a, b) => a + b, 0));
        expect(row.lo).toBe(Math.min(...vs));
        expect(row.hi).toBe(Math.max(...vs));
      }
      expect(got.size).toBe(new Set(records.map((r) => r.key)).size);
    }
  });

  test("merging copies a new key's partial instead of aliasing it", () => {
    const state = new AggregateState(fns, "final");
    const c = new Combiner(fns);
    c.add("a", { v: 1, name: "x" });
    feed(state, c);
    c.add("a", { v: 50, name: "y" });
    state.mergeBlock([["b"], fns.init()]);
    expect(collect((e) => state.emitAll(e))[0]).toMatchObject({ key: "a", n: 1, total: 1 });
  });

  test("takeUpdates emits only keys changed since the last call, then nothing", () => {
    const cfns = new AggregateFns(plan([{ name: "n", kind: "count" }]));
    const state = new AggregateState(cfns, "updates");
    state.mergeBlock([["a", "b", "a"], [1, 2, 3]]);
    expect(collect((e) => state.takeUpdates(e))).toEqual([{ key: "a", n: 4 }, { key: "b", n: 2 }]);
    expect(collect((e) => state.takeUpdates(e))).toEqual([]);
    state.mergeBlock([["b"], [5]]);
    expect(collect((e) => state.takeUpdates(e))).toEqual([{ key: "b", n: 7 }]);
    expect(collect((e) => state.takeUpdates(e))).toEqual([]);
  });

  test("takeUpdates emits nothing when emit is final; emitAll emits every key", () => {
    const cfns = new AggregateFns(plan([{ name: "n", kind: "count" }]));
    const state = new AggregateState(cfns, "final");
    state.mergeBlock([["a", "b"], [1, 2]]);
    expect(collect((e) => state.takeUpdates(e))).toEqual([]);
    state.mergeBlock([["c", "a"], [4, 1]]);
    expect(collect((e) => state.emitAll(e))).toEqual([{ key: "a", n: 2 }, { key: "b", n: 2 }, { key: "c", n: 4 }]);

    const upd = new AggregateState(cfns, "updates");
    upd.mergeBlock([["x", "y"], [1, 1]]);
    collect((e) => upd.takeUpdates(e));
    expect(collect((e) => upd.emitAll(e))).toEqual([{ key: "x", n: 1 }, { key: "y", n: 1 }]);
  });

  test("snapshot/restore round trip is a deep copy and replaces existing state", () => {
    const rnd = prng(7);
    const c = new Combiner(fns);
    for (let i = 0; i < 100; i++) {
      const { key, rec } = randomRecord(rnd);
      c.add(key, rec);
    }
    const state = new AggregateState(fns, "final");
    feed(state, c);
    const snap: PartialBlock = state.snapshot();
    const before = collect((e) => state.emitAll(e));

    feed(state, c); // mutates the live state after the snapshot
    const restored = new AggregateState(fns, "final");
    restored.mergeBlock([["stale"], fns.init()]);
    restored.restore(snap);
    expect(collect((e) => restored.emitAll(e))).toEqual(before);

    // Mutating the restored state must not leak back into the snapshot.
    feed(restored, c);
    const again = new AggregateState(fns, "final");
    again.restore(snap);
    expect(collect((e) => again.emitAll(e))).toEqual(before);
  });
});

describe("distinct and topK", () => {
  const DT: AggregateColumnPlan[] = [
    { name: "users", kind: "distinct", of: "r.u" },
    { name: "top", kind: "topK", of: "r.u", k: 3 },
    { name: "n", kind: "count" },
  ];

  test("distinct counts each non-null value once, by JSON identity (1 and '1' differ)", () => {
    const fns = new AggregateFns(plan([{ name: "d", kind: "distinct", of: "r.u" }]));
    const acc = fns.init();
    for (const u of [1, "1", 1, "a", "a", null, undefined, { x: 1 }, { x: 1 }, [1, 2], true, false, true, 0]) {
      fns.add(acc, { u });
    }
    expect(fns.output("k", acc)).toEqual({ key: "k", d: 8 }); // 1 "1" "a" {x:1} [1,2] true false 0
    expect(fns.output("e", fns.init())).toEqual({ key: "e", d: 0 });
  });

  test("topK: most frequent first, ties by value (numbers < strings, ascending), at most k", () => {
    const fns = new AggregateFns(plan([{ name: "top", kind: "topK", of: "r", k: 4 }]));
    const acc = fns.init();
    for (const v of ["b", "a", "b", 10, 9, 10, "a", "c", 9, null, "b"]) fns.add(acc, v);
    // b:3; then a, 9, 10 tie at 2: 9 < 10 < "a"; "c":1 falls off
    expect(fns.output("k", acc).top).toEqual([["b", 3], [9, 2], [10, 2], ["a", 2]]);
    const few = fns.init();
    fns.add(few, { deep: [1] });
    expect(fns.output("k", few).top).toEqual([[{ deep: [1] }, 1]]);
    expect(topOf({ '"z"': 1, "true": 1, "-1": 1, "null": 1 }, 9)).toEqual([[null, 1], [true, 1], [-1, 1], ["z", 1]]);
  });

  test("values JSON cannot hold faithfully are rejected and leave the accumulator unchanged", () => {
    const fns = new AggregateFns(plan(DT));
    const acc = fns.init();
    fns.add(acc, { u: "x" });
    const before = JSON.stringify(acc);
    for (const u of [NaN, Infinity, -Infinity, 10n, () => 1, Symbol("s")]) {
      expect(() => fns.add(acc, { u })).toThrow(TypeError);
      expect(JSON.stringify(acc)).toBe(before);
    }
    expect(() => fns.add(acc, { u: NaN })).toThrow(/distinct 'users'/);
  });

  test("partials merged after a msgpack round trip equal one fold of every record (random inputs)", () => {
    const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: "number" });
    const fns = new AggregateFns(plan(DT));
    const rnd = prng(99);
    const values = ["a", "b", "c", 1, 2, "1", null, true];
    for (let trial = 0; trial < 40; trial++) {
      const records = Array.from({ length: Math.floor(rnd() * 200) }, () => ({
        key: ["x", "y", 3][Math.floor(rnd() * 3)] as Key,
        rec: { u: values[Math.floor(rnd() * values.length)] },
      }));
      const parts = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => new Combiner(fns));
      const single = new AggregateState(fns, "final");
      const whole = new Combiner(fns);
      for (const { key, rec } of records) {
        whole.add(key, rec);
        parts[Math.floor(rnd() * parts.length)].add(key, rec);
      }
      feed(single, whole);
      const merged = new AggregateState(fns, "final");
      for (const c of parts) {
        for (const b of c.blocks(3)) merged.mergeBlock(packr.unpack(packr.pack(b)) as PartialBlock);
      }
      const got = byKey(collect((e) => merged.emitAll(e)));
      expect(got).toEqual(byKey(collect((e) => single.emitAll(e))));
      for (const [key, row] of got) {
        const us = records.filter((r) => r.key === key).map((r) => r.rec.u).filter((u) => u !== null);
        expect(row.users).toBe(new Set(us.map((u) => JSON.stringify(u))).size);
        const best = Math.max(...us.map((u) => us.filter((x) => x === u).length));
        expect((row.top as [unknown, number][])[0][1]).toBe(best);
      }
    }
  });

  test("state never aliases a partial's or snapshot's objects", () => {
    const fns = new AggregateFns(plan(DT));
    const c = new Combiner(fns);
    c.add("a", { u: "p" });
    const state = new AggregateState(fns, "final");
    feed(state, c);
    c.add("a", { u: "q" }); // mutates the partial the state was built from
    expect(collect((e) => state.emitAll(e))).toEqual([{ key: "a", users: 1, top: [["p", 1]], n: 1 }]);

    const snap = state.snapshot();
    feed(state, c);
    expect(collect((e) => state.emitAll(e))[0]).toMatchObject({ users: 2 });
    const restored = new AggregateState(fns, "final");
    restored.restore(snap);
    feed(restored, c);
    const again = new AggregateState(fns, "final");
    again.restore(snap);
    expect(collect((e) => again.emitAll(e))).toEqual([{ key: "a", users: 1, top: [["p", 1]], n: 1 }]);
  });
});
