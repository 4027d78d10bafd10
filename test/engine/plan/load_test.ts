import { describe, expect, test } from "bun:test";
import { formatIssue, PipelineError, type PipelineIssue } from "../../../engine/plan/errors.ts";
import { loadPipeline } from "../../../engine/plan/load.ts";
import { STEP_KINDS } from "../../../engine/plan/spec.ts";

const FILE = "pipes/test.yaml";

/** 1-based line and column of the `nth` occurrence (0-based) of `needle` in `text`. */
function at(text: string, needle: string, nth = 0): { file: string; line: number; col: number } {
  let i = -1;
  for (let n = 0; n <= nth; n++) {
    i = text.indexOf(needle, i + 1);
    if (i < 0) throw new Error(`test bug: ${JSON.stringify(needle)} (#${nth}) is not in the YAML`);
  }
  const before = text.slice(0, i).split("\n");
  return { file: FILE, line: before.length, col: before[before.length - 1].length + 1 };
}

/** The issues loadPipeline reports for `text`; fails the test if it does not throw PipelineError. */
function issuesOf(text: string, env: Record<string, string | undefined> = {}): PipelineIssue[] {
  try {
    loadPipeline(text, FILE, env);
  } catch (e) {
    if (e instanceof PipelineError) {
      // The error message lists every issue, one per line.
      expect(e.message.split("\n")).toEqual(e.issues.map(formatIssue));
      return e.issues;
    }
    throw e;
  }
  throw new Error("expected loadPipeline to throw a PipelineError");
}

const STDIN = "source: { stdin: {} }\n";

describe("loadPipeline: valid pipelines", () => {
  test("loads a pipeline and fills in defaults", () => {
    const text = [
      "name: wc",
      "interval: 250ms",
      "source: { file: { path: [a.txt, b.txt], format: csv, header: true } }",
      "steps:",
      '  - map: "record.word"',
      "    as: record",
      '  - keyBy: "w"',
      "    as: w",
      '  - aggregate: { count: {}, total: { sum: "r.n" }, avg: { of: "r.n" } }',
      "",
    ].join("\n");
    const p = loadPipeline(text, FILE, {});
    expect(p.file).toBe(FILE);
    expect(p.spec.name).toBe("wc");
    expect(p.spec.interval).toBe("250ms");
    expect(p.spec.source).toEqual({ file: { path: ["a.txt", "b.txt"], format: "csv", header: true } });
    expect(p.spec.sink).toEqual({ stdout: { format: "tsv" } });
    expect(p.spec.steps).toHaveLength(3);
    expect(p.spec.steps[1]).toEqual({ keyBy: "w", as: "w" });
    expect(p.aggregates.get(2)).toEqual([
      { name: "count", kind: "count" },
      { name: "total", kind: "sum", of: "r.n" },
      { name: "avg", kind: "avg", of: "r.n" },
    ]);
    expect(p.stepPos.map((s) => [s.line, s.col])).toEqual(
      ["map:", "keyBy:", "aggregate:"].map((k) => [at(text, k).line, at(text, k).col]),
    );
  });

  test("a stdin source defaults to format lines without header", () => {
    expect(loadPipeline(STDIN, FILE, {}).spec.source).toEqual({ stdin: { format: "lines", header: false } });
  });
});

describe("loadPipeline: errors carry file:line:col", () => {
  test("malformed YAML: duplicate key", () => {
    const text = STDIN + "steps: []\nsource: { stdin: {} }\n";
    const [issue, ...rest] = issuesOf(text);
    expect(rest).toEqual([]);
    expect(issue.pos).toEqual(at(text, "source", 1));
    expect(issue.message).toMatch(/unique/);
  });

  test("malformed YAML: nested mapping in a compact mapping", () => {
    const text = STDIN + "steps:\n  - map: x: y\n";
    const [issue] = issuesOf(text);
    expect(issue.pos).toEqual(at(text, "x: y"));
  });

  test("a document that is not a mapping", () => {
    const [issue] = issuesOf("- map: x\n");
    expect(issue.pos).toEqual({ file: FILE, line: 1, col: 1 });
    expect(issue.message).toMatch(/expected a mapping/);
  });

  test("unknown step kind names the step number and lists the valid kinds", () => {
    const text = STDIN + 'steps:\n  - map: "x + 1"\n  - frobnicate: "x"\n';
    const [issue, ...rest] = issuesOf(text);
    expect(rest).toEqual([]);
    expect(issue.pos).toEqual(at(text, "frobnicate"));
    expect(issue.step).toBe("step 2");
    expect(issue.message).toContain("'frobnicate'");
    for (const kind of STEP_KINDS) expect(issue.message).toContain(kind);
  });

  test("a step with two kinds is an error", () => {
    const text = STDIN + "steps:\n  - map: x\n    filter: y\n";
    const [issue] = issuesOf(text);
    expect(issue.step).toBe("step 1");
    expect(issue.pos).toEqual(at(text, "map:"));
    expect(issue.message).toMatch(/exactly one kind/);
  });

  test("a JavaScript expression that does not compile names the step and kind", () => {
    const text = STDIN + 'steps:\n  - map: "x"\n  - map: "x"\n  - filter: "x.length >"\n';
    const [issue, ...rest] = issuesOf(text);
    expect(rest).toEqual([]);
    expect(issue.step).toBe("step 3 'filter'");
    expect(issue.pos).toEqual(at(text, '"x.length >"'));
    expect(issue.message).toContain('cannot compile expression "x.length >"');
  });

  test("split: its text expression must compile and its separators must not be empty", () => {
    const text = STDIN + 'steps:\n  - split: "line +"\n  - split: line\n    on: ""\n';
    const [bad, empty, ...rest] = issuesOf(text);
    expect(rest).toEqual([]);
    expect(bad.step).toBe("step 1 'split'");
    expect(bad.pos).toEqual(at(text, '"line +"'));
    expect(bad.message).toContain('cannot compile expression "line +"');
    expect(empty.step).toBe("step 2 'split'");
    expect(empty.pos).toEqual(at(text, '""'));
  });

  test("a bad source format value", () => {
    const text = "name: t\nsource:\n  stdin:\n    format: xml\n";
    const [issue, ...rest] = issuesOf(text);
    expect(rest).toEqual([]);
    expect(issue.pos).toEqual(at(text, "xml"));
    expect(issue.step).toBeUndefined();
    expect(issue.message).toContain('"xml"');
    expect(issue.message).toContain("lines");
  });

  test("unknown options in a step and in the source", () => {
    const text = 'source:\n  stdin:\n    format: csv\n    delimiter: ";"\nsteps:\n  - map: x\n    frob: 1\n';
    const issues = issuesOf(text);
    expect(issues).toHaveLength(2);
    const [source, step] = issues[0].step ? [issues[1], issues[0]] : issues;
    expect(source.message).toBe("unknown option 'delimiter'");
    expect(source.pos).toEqual(at(text, "format: csv")); // the mapping that holds the unknown key
    expect(step.message).toBe("unknown option 'frob'");
    expect(step.step).toBe("step 1 'map'");
    expect(step.pos).toEqual(at(text, "map: x"));
  });

  test("aggregate column errors point at each column", () => {
    const text = STDIN + [
      "steps:",
      "  - keyBy: x",
      "  - aggregate:",
      "      key: { count: {} }",
      "      total: { sum: 1 }",
      '      biggest: { max: "x.n +" }',
      '      smallest: { min: "x.n", of: "x.m" }',
      "      sum: {}",
      "      n: { count: {} }",
      "",
    ].join("\n");
    const issues = issuesOf(text);
    expect(issues.map((i) => i.step)).toEqual(Array(5).fill("step 2 'aggregate'"));
    expect(issues.map((i) => i.pos)).toEqual([
      at(text, "{ count: {} }"),
      at(text, "{ sum: 1 }"),
      at(text, "{ max:"),
      at(text, "{ min:"),
      at(text, "{}", 2), // "stdin: {}", "count: {}", then the value of "sum"
    ]);
    expect(issues[0].message).toMatch(/^column 'key': .*grouping column/);
    expect(issues[1].message).toMatch(/^column 'total': 'sum' needs an expression, got 1/);
    expect(issues[2].message).toMatch(/^column 'biggest': cannot compile expression "x\.n \+"/);
    expect(issues[3].message).toMatch(/^column 'smallest': expected one of count, sum, min, max, avg/);
    expect(issues[4].message).toMatch(/^column 'sum': 'sum' needs 'of: <expression>'/);
  });

  test("an empty aggregate and a bad emit value", () => {
    const text = STDIN +
      "steps:\n  - keyBy: x\n  - aggregate: {}\n  - keyBy: y\n  - aggregate: { count: {} }\n    emit: often\n";
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.step, i.pos])).toEqual([
      ["step 2 'aggregate'", at(text, "{}", 1)],
      ["step 4 'aggregate'", at(text, "often")],
    ]);
  });

  test("an interval that is not a duration", () => {
    const text = "interval: soon\n" + STDIN;
    const [issue] = issuesOf(text);
    expect(issue.pos).toEqual(at(text, "soon"));
    expect(issue.message).toContain("'interval'");
  });

  test("several errors in one file are all reported", () => {
    const text = [
      "source: { stdin: { format: xml } }",
      "steps:",
      '  - flatMap: "line.split("',
      "  - explode: x",
      "  - keyBy: w",
      "  - aggregate: { total: { sum: 2 } }",
      "color: red",
      "",
    ].join("\n");
    const issues = issuesOf(text);
    const found = issues.map((i) => `${i.pos.line}:${i.pos.col} ${i.step ?? "-"}`).sort();
    const expected = [
      `${at(text, '"line.split("').line}:${at(text, '"line.split("').col} step 1 'flatMap'`,
      `${at(text, "explode").line}:${at(text, "explode").col} step 2`,
      `${at(text, "{ sum: 2 }").line}:${at(text, "{ sum: 2 }").col} step 4 'aggregate'`,
      `${at(text, "xml").line}:${at(text, "xml").col} -`,
      // Unknown top-level option 'color': reported at the document mapping.
      `${at(text, "source").line}:${at(text, "source").col} -`,
    ].sort();
    expect(found).toEqual(expected);
    expect(issues.find((i) => i.message.includes("'color'"))).toBeDefined();
  });
});

describe("loadPipeline: ${VAR} substitution", () => {
  const text = 'source: { file: { path: "${DATA}/in.txt" } }\nsteps:\n  - filter: "x.n > ${MIN:-10}"\n';

  test("a set variable and a default are substituted", () => {
    const p = loadPipeline(text, FILE, { DATA: "/srv/data" });
    expect(p.spec.source).toEqual({ file: { path: "/srv/data/in.txt", format: "lines", header: false } });
    expect(p.spec.steps[0]).toEqual({ filter: "x.n > 10" });
  });

  test("a set variable wins over the default", () => {
    const p = loadPipeline(text, FILE, { DATA: "/d", MIN: "3" });
    expect(p.spec.steps[0]).toEqual({ filter: "x.n > 3" });
  });

  test("only the env parameter is consulted", () => {
    process.env.DRIZZLE_TEST_ONLY_IN_PROCESS_ENV = "/from/process";
    try {
      const issues = issuesOf('source: { file: { path: "${DRIZZLE_TEST_ONLY_IN_PROCESS_ENV}" } }\n', {});
      expect(issues[0].message).toContain("DRIZZLE_TEST_ONLY_IN_PROCESS_ENV is not set");
    } finally {
      delete process.env.DRIZZLE_TEST_ONLY_IN_PROCESS_ENV;
    }
  });

  test("an undefined variable without a default is an error at its scalar", () => {
    const issues = issuesOf(text, {});
    const missing = issues.filter((i) => i.message.startsWith("environment variable"));
    expect(missing).toHaveLength(1);
    expect(missing[0].message).toContain("DATA is not set");
    expect(missing[0].pos).toEqual(at(text, '"${DATA}'));
  });
});
