import { describe, expect, test } from "bun:test";
import { parseDuration } from "../../../engine/plan/duration.ts";
import { PipelineError } from "../../../engine/plan/errors.ts";
import { loadPipeline } from "../../../engine/plan/load.ts";
import { type AggregatePlan, isStateful, type PhysicalPlan } from "../../../engine/plan/plan.ts";
import { buildPlan, describePlan } from "../../../engine/plan/stages.ts";
import { readFileSync } from "node:fs";

const FILE = "p.yaml";

function plan(text: string, partitions = 4): PhysicalPlan {
  return buildPlan(loadPipeline(text, FILE, {}), { partitions });
}

const WORDCOUNT = `name: wordcount
source: { stdin: { format: lines } }
steps:
  - flatMap: "line.split(/[ \\\\t]+/)"
  - filter: "word.length > 0"
    as: word
  - keyBy: "word.toLowerCase()"
  - aggregate: { count: {} }
    emit: final
sink: { stdout: { format: tsv } }
`;

describe("buildPlan", () => {
  test("wordcount: 2 stages, shuffle keyed by the keyBy expression, map-side combine", () => {
    const p = plan(WORDCOUNT, 3);
    expect(p.name).toBe("wordcount");
    expect(p.stages).toHaveLength(2);
    const [map, reduce] = p.stages;
    expect(map.id).toBe(0);
    expect(reduce.id).toBe(1);
    expect(map.steps.map((s) => [s.kind, "expr" in s && s.expr, s.as, s.label])).toEqual([
      ["flatMap", "line.split(/[ \\t]+/)", "line", "step 1 'flatMap'"],
      ["filter", "word.length > 0", "word", "step 2 'filter'"],
    ]);
    if (map.output.kind !== "shuffle") throw new Error("stage 0 should end in a shuffle");
    expect(map.output.key).toEqual({ expr: "word.toLowerCase()", as: "word", label: "step 3 'keyBy'" });
    const aggregate: AggregatePlan = {
      columns: [{ name: "count", kind: "count" }],
      emit: "final",
      as: "word",
      label: "step 4 'aggregate'",
    };
    expect(map.output.combine).toEqual(aggregate);
    expect(map.head).toBeUndefined();
    expect(isStateful(map)).toBe(false);
    // The reduce side merges the partials and holds the state.
    expect(reduce.head).toEqual(aggregate);
    expect(isStateful(reduce)).toBe(true);
    expect(reduce.steps).toEqual([]);
    expect(reduce.output).toEqual({ kind: "sink" });
    expect(p.source).toEqual({ kind: "stdin", paths: [], format: "lines", header: false, as: "line" });
    expect(p.sink).toEqual({ kind: "stdout", format: "tsv" });
  });

  test("without keyBy: 1 stage whose output is the sink", () => {
    const text = `source: { file: { path: in.jsonl, format: jsonl } }
steps:
  - filter: "record.ok"
  - map: "record.n * 2"
    as: r
sink: { file: { path: out.csv, format: csv } }
`;
    const p = plan(text);
    expect(p.stages).toHaveLength(1);
    expect(p.stages[0].output).toEqual({ kind: "sink" });
    expect(p.stages[0].steps.map((s) => s.kind)).toEqual(["filter", "map"]);
    expect(p.sink).toEqual({ kind: "file", path: "out.csv", format: "csv" });
    expect(p.source.paths).toEqual(["in.jsonl"]);
    expect(p.name).toBe("pipeline");
  });

  test("a pipeline with no steps is one stage from source to sink", () => {
    const p = plan("source: { stdin: {} }\n");
    expect(p.stages).toEqual([{ id: 0, partitions: 4, steps: [], output: { kind: "sink" } }]);
  });

  test("two keyBy+aggregate pairs give 3 stages", () => {
    const text = `source: { stdin: { format: jsonl } }
steps:
  - keyBy: "record.user"
  - aggregate: { hits: { count: {} } }
  - filter: "record.hits > 1"
  - keyBy: "record.hits"
    as: row
  - aggregate: { users: { count: {} } }
    emit: updates
`;
    const p = plan(text, 2);
    expect(p.stages.map((s) => s.id)).toEqual([0, 1, 2]);
    const [a, b, c] = p.stages;
    if (a.output.kind !== "shuffle" || b.output.kind !== "shuffle") throw new Error("expected two shuffles");
    expect(a.output.key.expr).toBe("record.user");
    expect(a.output.combine?.label).toBe("step 2 'aggregate'");
    expect(b.head).toEqual(a.output.combine);
    expect(b.steps.map((s) => [s.label, s.as])).toEqual([["step 3 'filter'", "record"]]);
    expect(b.output.key).toEqual({ expr: "record.hits", as: "row", label: "step 4 'keyBy'" });
    expect(b.output.combine).toEqual({
      columns: [{ name: "users", kind: "count" }],
      emit: "updates",
      as: "row",
      label: "step 5 'aggregate'",
    });
    expect(c.head).toEqual(b.output.combine);
    expect(c.output).toEqual({ kind: "sink" });
  });

  test("keyBy without an aggregate shuffles without combine and keeps no state", () => {
    const p = plan("source: { stdin: {} }\nsteps:\n  - keyBy: line\n  - map: line.length\n");
    expect(p.stages).toHaveLength(2);
    expect(p.stages[0].output).toEqual({
      kind: "shuffle",
      key: { expr: "line", as: "line", label: "step 1 'keyBy'" },
      combine: undefined,
    });
    expect(p.stages[1].head).toBeUndefined();
    expect(p.stages[1].steps[0].as).toBe("line");
  });

  test("an aggregate without a keyBy right before it is an error naming the step", () => {
    const text = "source: { stdin: {} }\nsteps:\n  - map: line\n  - aggregate: { count: {} }\n";
    let error: unknown;
    try {
      plan(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PipelineError);
    const issues = (error as PipelineError).issues;
    expect(issues).toHaveLength(1);
    expect(issues[0].step).toBe("step 2 'aggregate'");
    const offset = text.indexOf("aggregate:");
    const line = text.slice(0, offset).split("\n").length;
    expect(issues[0].pos).toEqual({ file: FILE, line, col: offset - text.lastIndexOf("\n", offset) });
    expect(issues[0].message).toMatch(/keyBy/);
  });

  test("an aggregate after another aggregate is an error too, and all such errors are reported", () => {
    const text = "source: { stdin: {} }\nsteps:\n  - aggregate: { count: {} }\n  - keyBy: line\n" +
      "  - aggregate: { count: {} }\n  - aggregate: { n: { count: {} } }\n";
    let error: unknown;
    try {
      plan(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).issues.map((i) => i.step)).toEqual(["step 1 'aggregate'", "step 4 'aggregate'"]);
  });

  test("'as' is inherited from the previous step; the source default is line for lines, else record", () => {
    const steps =
      "steps:\n  - map: A\n  - filter: B\n    as: w\n  - map: C\n  - keyBy: D\n  - map: E\n    as: v\n  - map: F\n";
    for (const [format, first] of [["lines", "line"], ["csv", "record"], ["tsv", "record"], ["jsonl", "record"]]) {
      const p = plan(`source: { stdin: { format: ${format} } }\n${steps}`);
      expect(p.source.as).toBe(first);
      const [s0, s1] = p.stages;
      expect(s0.steps.map((s) => s.as)).toEqual([first, "w", "w"]);
      expect(s0.output.kind === "shuffle" && s0.output.key.as).toBe("w");
      expect(s1.steps.map((s) => s.as)).toEqual(["v", "v"]);
    }
  });

  test("the partitions option is applied to every stage", () => {
    for (const n of [1, 7]) {
      const text = `source: { stdin: {} }\nsteps:\n  - keyBy: line\n  - aggregate: { count: {} }\n` +
        `  - keyBy: record.count\n  - aggregate: { count: {} }\n`;
      expect(plan(text, n).stages.map((s) => s.partitions)).toEqual([n, n, n]);
    }
  });

  test("interval is converted to milliseconds", () => {
    expect(plan("interval: 1.5s\nsource: { stdin: {} }\n").intervalMs).toBe(1500);
    expect(plan("interval: 200\nsource: { stdin: {} }\n").intervalMs).toBe(200);
    expect(plan("source: { stdin: {} }\n").intervalMs).toBeUndefined();
  });
});

describe("describePlan", () => {
  test("mentions each stage, its partitions, inputs, steps and outputs", () => {
    const text = `name: two-shuffles
source: { file: { path: [a.log, b.log] } }
steps:
  - keyBy: "line.slice(0, 3)"
  - aggregate: { count: {} }
  - keyBy: "record.count"
  - aggregate: { total: { sum: "r.count" } }
    as: r
sink: { file: { path: out.tsv } }
`;
    const out = describePlan(plan(text, 5));
    expect(out).toContain("pipeline two-shuffles: 3 stage(s), source file a.log, b.log (lines)");
    for (const id of [0, 1, 2]) expect(out).toContain(`stage ${id}: 5 partition(s)`);
    expect(out).toContain("stage 0: 5 partition(s), input: source");
    expect(out).toContain("stage 1: 5 partition(s), input: shuffle from stage 0");
    expect(out).toContain("stage 2: 5 partition(s), input: shuffle from stage 1");
    expect(out).toContain("line.slice(0, 3)");
    expect(out).toContain("total=sum(r.count)");
    expect(out).toContain("output: sink file out.tsv (tsv)");
    expect(out.split("\n").filter((l) => l.includes("output: shuffle"))).toHaveLength(2);
  });
});

describe("parseDuration", () => {
  test("parses units and bare numbers into milliseconds", () => {
    expect(parseDuration("100ms")).toBe(100);
    expect(parseDuration("1s")).toBe(1000);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("250")).toBe(250);
    expect(parseDuration(" 3 s ")).toBe(3000);
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(42)).toBe(42);
    expect(parseDuration(2.5)).toBe(2.5);
  });

  test("returns null for what is not a duration", () => {
    for (const bad of ["", "fast", "1x", "s", "-1s", "1.s", ".5s", "1e3", "1s2", "1 ms s", "10sec"]) {
      expect(parseDuration(bad)).toBeNull();
    }
    for (const bad of [-1, Number.NaN, Infinity]) expect(parseDuration(bad)).toBeNull();
  });
});

describe("buildPlan: windows", () => {
  const windowed = (w: string, extra = "") =>
    `source: { stdin: { format: jsonl } }
steps:
  - keyBy: "e.user"
    as: e
  - window: ${w}
${extra}  - aggregate: { n: { count: {} }, top: { topK: { of: "x.page", k: 2 } } }
  - map: "r.n"
    as: r
`;

  test("keyBy + window + aggregate: the shuffle carries the event time; the next stage a WindowPlan", () => {
    const p = plan(
      windowed('{ tumbling: 10s, time: "e.ts", maxDelay: 100ms, allowedLateness: 1s, idleTimeout: 5s }\n    as: x\n'),
    );
    expect(p.stages).toHaveLength(2);
    const [map, reduce] = p.stages;
    const time = { expr: "e.ts", as: "x", label: "step 2 'window'" };
    expect(map.output).toEqual({
      kind: "shuffle",
      key: { expr: "e.user", as: "e", label: "step 1 'keyBy'" },
      time,
    });
    expect(reduce.head).toBeUndefined();
    expect(reduce.window).toEqual({
      kind: "tumbling",
      sizeMs: 10_000,
      time,
      maxDelayMs: 100,
      allowedLatenessMs: 1_000,
      idleTimeoutMs: 5_000,
      aggregate: {
        columns: [{ name: "n", kind: "count" }, { name: "top", kind: "topK", of: "x.page", k: 2 }],
        emit: "final",
        as: "x",
        label: "step 3 'aggregate'",
      },
      label: "step 2 'window'",
    });
    expect(isStateful(reduce)).toBe(true);
    expect(isStateful(map)).toBe(false);
    expect(reduce.steps.map((s) => [s.label, s.as])).toEqual([["step 4 'map'", "r"]]);
  });

  test("sliding and session windows; processing time when 'time' is left out; defaults 0 and null", () => {
    const sliding = plan(windowed("{ sliding: 1m, slide: 15s }")).stages[1].window!;
    expect(sliding).toMatchObject({ kind: "sliding", sizeMs: 60_000, slideMs: 15_000, time: null });
    expect(sliding).toMatchObject({ maxDelayMs: 0, allowedLatenessMs: 0, idleTimeoutMs: null });
    const session = plan(windowed('{ session: 30s, time: "e.t" }')).stages[1].window!;
    expect(session).toMatchObject({ kind: "session", gapMs: 30_000, time: { expr: "e.t", as: "e" } });
    expect(session.sizeMs).toBeUndefined();
    expect(plan(windowed("{ session: 1s }")).stages[0].output).not.toHaveProperty("time");
  });

  test("the aggregate's expressions see the window's name by default", () => {
    const p = plan(windowed("{ tumbling: 1s }\n    as: ev\n").replace('"x.page"', '"ev.page"'));
    expect(p.stages[1].window!.aggregate.as).toBe("ev");
  });
});

describe("buildPlan: parse, join and udf steps", () => {
  test("each becomes a narrow step plan of its own kind; names flow as with map", () => {
    const text = `source: { stdin: {} }
steps:
  - parse: { json: "line", fields: [a] }
  - parse: { csv: "r.a", columns: [x, y] }
    as: r
  - parse: { tsv: "r", columns: [z] }
  - parse: { regex: "(?<n>\\\\d+)", from: "r.z" }
  - join: { file: /abs/t.jsonl, key: id, on: "r.n", unmatched: keep }
  - udf: { module: /abs/f.js, export: go, kind: flatMap }
    as: q
`;
    const steps = plan(text).stages[0].steps;
    expect(steps).toEqual([
      { kind: "parse", format: "json", from: "line", fields: ["a"], as: "line", label: "step 1 'parse'" },
      { kind: "parse", format: "csv", from: "r.a", fields: ["x", "y"], as: "r", label: "step 2 'parse'" },
      { kind: "parse", format: "tsv", from: "r", fields: ["z"], as: "r", label: "step 3 'parse'" },
      { kind: "parse", format: "regex", from: "r.z", pattern: "(?<n>\\d+)", as: "r", label: "step 4 'parse'" },
      {
        kind: "join",
        file: "/abs/t.jsonl",
        format: "jsonl",
        key: "id",
        on: "r.n",
        unmatched: "keep",
        as: "r",
        label: "step 5 'join'",
      },
      { kind: "udf", module: "/abs/f.js", export: "go", udfKind: "flatMap", as: "q", label: "step 6 'udf'" },
    ]);
    const out = describePlan(plan(text));
    expect(out).toContain("step 1 'parse': parse json [a] (line) => line");
    expect(out).toContain("step 4 'parse': parse regex /(?<n>\\d+)/ (r) => r.z");
    expect(out).toContain("step 5 'join': join /abs/t.jsonl (jsonl) on id (r) => r.n, unmatched keep");
    expect(out).toContain("step 6 'udf': udf flatMap (q) => go from /abs/f.js");
  });

  test("pipelines/ysb.yaml plans into a map stage ending in an event-time shuffle and a windowed stage", () => {
    const root = new URL("../../../", import.meta.url).pathname;
    const file = `${root}pipelines/ysb.yaml`;
    const p = buildPlan(loadPipeline(readFileSync(file, "utf8"), file, {}), { partitions: 2 });
    expect(p.stages[0].steps.map((s) => s.kind)).toEqual(["parse", "filter", "map", "join"]);
    const join = p.stages[0].steps[3];
    expect(join.kind === "join" && join.file).toBe(`${root}pipelines/data/ysb_campaigns.csv`);
    expect(p.stages[0].output).toMatchObject({ kind: "shuffle", time: { expr: "Number(e.event_time)" } });
    expect(p.stages[1].window).toMatchObject({ kind: "tumbling", sizeMs: 10_000, maxDelayMs: 100 });
    const out = describePlan(p);
    expect(out).toContain("reduce step 6 'window': tumbling 10s on event time (e) => Number(e.event_time)");
    expect(out).toContain("max delay 100ms, allowed lateness 0ms; step 7 'aggregate': count=count (keyed windows)");
    expect(out).toContain("event time (e) => Number(e.event_time)");
  });
});
