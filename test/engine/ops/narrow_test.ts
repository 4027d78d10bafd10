import { describe, expect, test } from "bun:test";
import { fuseSteps } from "../../../engine/ops/narrow.ts";
import { compileExpression, expressionError } from "../../../engine/ops/expr.ts";
import { Rejects } from "../../../engine/ops/reject.ts";
import type { ExprStepPlan, NarrowStepPlan } from "../../../engine/plan/plan.ts";

function step(kind: ExprStepPlan["kind"], expr: string, label: string, as = "r"): NarrowStepPlan {
  return { kind, expr, as, label };
}

function run(steps: NarrowStepPlan[], input: unknown[]): { out: unknown[]; rejects: Rejects } {
  const out: unknown[] = [];
  const rejects = new Rejects();
  const push = fuseSteps(steps, rejects, (r) => out.push(r));
  for (const r of input) push(r);
  return { out, rejects };
}

describe("compileExpression / expressionError", () => {
  test("binds the named input and caches the compiled function", () => {
    const f = compileExpression("line.length * 2", "line");
    expect(f("abc")).toBe(6);
    expect(compileExpression("line.length * 2", "line")).toBe(f);
    expect(compileExpression("line.length * 2", "x")).not.toBe(f);
  });

  test("an expression may end in a // comment", () => {
    expect(compileExpression("r + 1 // add one", "r")(1)).toBe(2);
    expect(expressionError("r + 1 // add one", "r")).toBeNull();
  });

  test("expressionError reports syntax errors", () => {
    expect(expressionError("r +", "r")).toBeString();
    expect(expressionError("r.x)", "r")).toBeString();
    expect(() => compileExpression("(((", "r")).toThrow(SyntaxError);
  });
});

describe("fuseSteps", () => {
  test("no steps pushes straight downstream", () => {
    expect(run([], [1, "a", null]).out).toEqual([1, "a", null]);
  });

  test("map/filter/flatMap chain runs in step order and keeps record order", () => {
    const { out, rejects } = run(
      [
        step("flatMap", "line.split(' ')", "step 1 'flatMap'", "line"),
        step("filter", "w.length > 0", "step 2 'filter'", "w"),
        step("map", "w.toUpperCase()", "step 3 'map'", "w"),
        step("map", "({ w, n: w.length })", "step 4 'map'", "w"),
      ],
      ["the cat", "", "a  b"],
    );
    expect(out).toEqual([
      { w: "THE", n: 3 },
      { w: "CAT", n: 3 },
      { w: "A", n: 1 },
      { w: "B", n: 1 },
    ]);
    expect(rejects.total).toBe(0);
  });

  test("filter keeps records by truthiness and passes the original record", () => {
    const recs = [{ v: 1 }, { v: 0 }, { v: "x" }, { v: "" }, { v: null }, { v: [] }];
    const { out } = run([step("filter", "r.v", "f")], recs);
    expect(out).toEqual([{ v: 1 }, { v: "x" }, { v: [] }]);
    expect(out[0]).toBe(recs[0]);
  });

  test("a throwing map rejects only that record; the rest go through", () => {
    const { out, rejects } = run([step("map", "r.x.toUpperCase()", "step 1 'map'")], [
      { x: "a" },
      {},
      { x: "b" },
      5,
      { x: "c" },
    ]);
    expect(out).toEqual(["A", "B", "C"]);
    expect(rejects.total).toBe(2);
    const r = rejects.byStep["step 1 'map'"];
    expect(r.count).toBe(2);
    // The sample is the first rejected record, with the error message.
    expect(r.sample).toContain("(record: {})");
    expect(r.sample).toMatch(/undefined/);
  });

  test("rejects are counted per step label and later steps never see a rejected record", () => {
    const seen: unknown[] = [];
    const rejects = new Rejects();
    const push = fuseSteps(
      [
        step("filter", "r.ok.yes", "step 1 'filter'"),
        step("map", "JSON.parse(r.text)", "step 2 'map'"),
        step("flatMap", "r.items", "step 3 'flatMap'"),
      ],
      rejects,
      (r) => seen.push(r),
    );
    push({ ok: { yes: true }, text: '{"items":[1,2]}' });
    push({ text: "{}" }); // step 1 throws
    push({ ok: { yes: true }, text: "not json" }); // step 2 throws
    push({ ok: { yes: true }, text: '{"items":[3]}' });
    push({ ok: { yes: true }, text: "{}" }); // step 3: undefined is not an array
    push({ ok: 1 }); // filtered out (undefined), not rejected
    expect(seen).toEqual([1, 2, 3]);
    expect(rejects.total).toBe(3);
    expect(Object.keys(rejects.byStep).sort()).toEqual(["step 1 'filter'", "step 2 'map'", "step 3 'flatMap'"]);
    for (const r of Object.values(rejects.byStep)) expect(r.count).toBe(1);
    expect(rejects.byStep["step 2 'map'"].sample).toContain("not json");
  });

  test("flatMap returning a non-array is rejected", () => {
    const { out, rejects } = run([step("flatMap", "r.v", "fm")], [
      { v: [1] },
      { v: 5 },
      { v: "abc" },
      { v: null },
      { v: undefined },
      { v: { length: 1, 0: "x" } },
      { v: [2, 3] },
    ]);
    expect(out).toEqual([1, 2, 3]);
    expect(rejects.byStep.fm.count).toBe(5);
    expect(rejects.byStep.fm.sample).toContain("flatMap must return an array, got number");
  });

  test("flatMap accepts other iterables and an empty array drops the record", () => {
    const { out, rejects } = run([step("flatMap", "r.kind === 'set' ? new Set(r.v) : r.v", "fm")], [
      { kind: "set", v: [1, 1, 2] },
      { kind: "arr", v: [] },
      { kind: "arr", v: [3] },
    ]);
    expect(out).toEqual([1, 2, 3]);
    expect(rejects.total).toBe(0);
  });
});

describe("Rejects", () => {
  test("keeps the first sample, truncates long records, and counts", () => {
    const rj = new Rejects();
    rj.add("s", "x".repeat(500), new Error("boom"));
    rj.add("s", "second", new Error("other"));
    rj.add("t", { a: 1 }, "plain reason");
    const s = rj.byStep.s;
    expect(s.count).toBe(2);
    expect(s.sample.startsWith("boom (record: xxx")).toBe(true);
    expect(s.sample.endsWith("...)")).toBe(true);
    expect(s.sample.length).toBe("boom (record: ".length + 120 + 1);
    expect(rj.byStep.t.sample).toBe('plain reason (record: {"a":1})');
    expect(rj.total).toBe(3);
  });

  test("a record that cannot be JSON-encoded still gets a sample", () => {
    const rj = new Rejects();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    rj.add("s", cyclic, new Error("e"));
    rj.add("b", 10n, new Error("e"));
    expect(rj.byStep.s.sample).toBe("e (record: [object Object])");
    expect(rj.byStep.b.sample).toBe("e (record: 10)");
  });

  test("merge adds counts and take returns them and starts afresh", () => {
    const rj = new Rejects();
    rj.add("s", 1, new Error("mine"));
    rj.merge({ s: { count: 4, sample: "theirs" }, u: { count: 2, sample: "u" } });
    expect(rj.total).toBe(7);
    expect(rj.byStep.s).toEqual({ count: 5, sample: "mine (record: 1)" });
    const taken = rj.take();
    expect(taken.u).toEqual({ count: 2, sample: "u" });
    expect(rj.total).toBe(0);
    expect(rj.byStep).toEqual({});
    // A merged entry is copied, not aliased.
    const other = { v: { count: 1, sample: "v" } };
    rj.merge(other);
    rj.merge(other);
    expect(other.v.count).toBe(1);
    expect(rj.byStep.v.count).toBe(2);
  });
});
