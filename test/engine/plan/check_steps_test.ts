/**
 * Validation of parse, join, udf and window steps (and distinct/topK columns): every problem is
 * reported with file:line:col, the step, and what was expected.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { accessSync, constants, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FileCheck, joinFormatOf, regexGroups } from "../../../engine/plan/check_steps.ts";
import { formatIssue, PipelineError, type PipelineIssue } from "../../../engine/plan/errors.ts";
import { loadPipeline } from "../../../engine/plan/load.ts";
import { buildPlan } from "../../../engine/plan/stages.ts";

let dir = "";
let FILE = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "drizzle-check-"));
  FILE = join(dir, "p.yaml");
  writeFileSync(join(dir, "ads.csv"), "ad_id,campaign_id\na,c\n");
  writeFileSync(join(dir, "fns.ts"), "export const f = (r: unknown) => r;\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What a CLI would pass: readable regular files only. */
const checkFile: FileCheck = (p) => {
  try {
    accessSync(p, constants.R_OK);
    return statSync(p).isFile() ? null : "not a file";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? "unreadable";
  }
};

function at(text: string, needle: string, nth = 0): { file: string; line: number; col: number } {
  let i = -1;
  for (let n = 0; n <= nth; n++) {
    i = text.indexOf(needle, i + 1);
    if (i < 0) throw new Error(`test bug: ${JSON.stringify(needle)} (#${nth}) is not in the YAML`);
  }
  const before = text.slice(0, i).split("\n");
  return { file: FILE, line: before.length, col: before[before.length - 1].length + 1 };
}

/** Issues from loading and planning `steps` (YAML lines after 'steps:'). */
function issuesOf(text: string): PipelineIssue[] {
  try {
    buildPlan(loadPipeline(text, FILE, {}, { checkFile }), { partitions: 1 });
  } catch (e) {
    if (e instanceof PipelineError) {
      expect(e.message.split("\n")).toEqual(e.issues.map(formatIssue));
      return e.issues;
    }
    throw e;
  }
  throw new Error("expected a PipelineError");
}

const pipeline = (...steps: string[]) => `source: { stdin: {} }\nsteps:\n${steps.map((s) => `  ${s}\n`).join("")}`;

describe("parse", () => {
  test("valid forms load", () => {
    const text = pipeline(
      '- parse: { json: "line", fields: [a, b] }',
      '- parse: { csv: "r.text", columns: [a, b] }',
      '- parse: { tsv: "r", columns: [x] }',
      '- parse: { regex: "(?<status>\\\\d+)", from: "r" }',
    );
    expect(loadPipeline(text, FILE, {}).spec.steps).toHaveLength(4);
  });

  test("bad expression, duplicate names, a regex without named groups or that does not compile", () => {
    const text = pipeline(
      '- parse: { json: "line.", fields: [a, a] }',
      '- parse: { regex: "(\\\\d+)", from: line }',
      '- parse: { regex: "(?<x", from: line }',
    );
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.step, i.pos])).toEqual([
      ["step 1 'parse'", at(text, '"line."')],
      ["step 1 'parse'", at(text, "[a, a]")],
      ["step 2 'parse'", at(text, '"(\\\\d+)"')],
      ["step 3 'parse'", at(text, '"(?<x"')],
    ]);
    expect(issues[0].message).toContain('cannot compile expression "line."');
    expect(issues[1].message).toBe("'a' is named twice");
    expect(issues[2].message).toContain("needs named groups");
    expect(issues[3].message).toContain('cannot compile regex "(?<x"');
  });

  test("csv without columns, an unknown format, two formats", () => {
    const text = pipeline("- parse: { csv: line }", "- parse: { xml: line }", "- parse: { json: line, tsv: line }");
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.step, i.pos])).toEqual([
      ["step 1 'parse'", at(text, "{ csv")],
      ["step 2 'parse'", at(text, "{ xml")],
      ["step 3 'parse'", at(text, "{ json")],
    ]);
    expect(issues[0].message).toBe("missing 'columns': expected a list of names such as '[a, b]'");
    expect(issues[1].message).toMatch(/^not a valid parse: expected one of 'json: <expression>'.*'regex: <pattern>'/);
  });
});

describe("join", () => {
  test("a table next to the pipeline file loads; the path becomes absolute; the format comes from the name", () => {
    const text = pipeline("- join: { file: ads.csv, key: ad_id, on: r.ad }");
    const p = loadPipeline(text, FILE, {}, { checkFile });
    expect(p.files.get(0)).toBe(join(dir, "ads.csv"));
    expect(p.spec.steps[0]).toEqual({
      join: { file: "ads.csv", format: "csv", key: "ad_id", on: "r.ad", unmatched: "drop" },
    });
  });

  test("a missing or unreadable table is an error at its 'file' with file:line:col", () => {
    const text = pipeline(
      "- join: { file: nope.csv, key: ad_id, on: r.ad }",
      "- join: { file: ., format: csv, key: k, on: r }",
    );
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.step, i.pos])).toEqual([
      ["step 1 'join'", at(text, "nope.csv")],
      ["step 2 'join'", at(text, ".,")],
    ]);
    expect(issues[0].message).toBe(`cannot read table "nope.csv" (${join(dir, "nope.csv")}): ENOENT`);
    expect(issues[1].message).toContain("not a file");
  });

  test("no format and no known extension, a bad `on`, a bad `unmatched`, a missing key", () => {
    const text = pipeline(
      "- join: { file: ads.txt, key: k, on: r }",
      '- join: { file: ads.csv, key: ad_id, on: "r." }',
      "- join: { file: ads.csv, key: ad_id, on: r, unmatched: maybe }",
      "- join: { file: ads.csv, on: r }",
    );
    const issues = issuesOf(text).filter((i) => !i.message.startsWith("cannot read"));
    expect(issues.map((i) => [i.step, i.pos])).toEqual([
      ["step 1 'join'", at(text, "ads.txt")],
      ["step 2 'join'", at(text, '"r."')],
      ["step 3 'join'", at(text, "maybe")],
      ["step 4 'join'", at(text, "{ file: ads.csv, on")],
    ]);
    expect(issues[0].message).toContain("cannot tell the format");
    expect(issues[2].message).toContain('"drop"|"keep"');
    expect(issues[3].message).toBe("missing 'key' (a string)");
  });

  test("without a checkFile (plan/ does no I/O) files are not checked at load time", () => {
    const p = loadPipeline(pipeline("- join: { file: nope.csv, key: k, on: r }"), FILE, {});
    expect(p.files.get(0)).toBe(join(dir, "nope.csv"));
  });

  test("joinFormatOf", () => {
    expect(["a.csv", "b.TSV", "c.jsonl", "d.ndjson", "e.json"].map(joinFormatOf)).toEqual([
      "csv",
      "tsv",
      "jsonl",
      "jsonl",
      null,
    ]);
  });
});

describe("udf", () => {
  test("a module next to the pipeline file loads with an absolute path; kind defaults to map", () => {
    const p = loadPipeline(pipeline("- udf: { module: ./fns.ts, export: f }"), FILE, {}, { checkFile });
    expect(p.files.get(0)).toBe(join(dir, "fns.ts"));
    expect(p.spec.steps[0]).toEqual({ udf: { module: "./fns.ts", export: "f", kind: "map" } });
  });

  test("a missing module, a non-module file, a bad export name, a bad kind", () => {
    const text = pipeline(
      "- udf: { module: ./gone.ts, export: f }",
      "- udf: { module: ./x.py, export: f }",
      '- udf: { module: ./fns.ts, export: "1f", kind: reduce }',
    );
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.step, i.pos])).toEqual([
      ["step 1 'udf'", at(text, "./gone.ts")],
      ["step 2 'udf'", at(text, "./x.py")],
      ["step 3 'udf'", at(text, '"1f"')],
      ["step 3 'udf'", at(text, "reduce")],
    ]);
    expect(issues[0].message).toBe(`cannot read module "./gone.ts" (${join(dir, "gone.ts")}): ENOENT`);
    expect(issues[1].message).toContain("expected a .ts or .js module");
    expect(issues[2].message).toContain("identifier");
  });
});

describe("window", () => {
  const win = (w: string, agg = "{ count: {} }") => [`- keyBy: x`, `- window: ${w}`, `- aggregate: ${agg}`];

  test("durations that are not durations, not positive, or not whole ms; slide longer than the window", () => {
    const text = pipeline(
      ...win("{ tumbling: 10 parsecs, maxDelay: -1s }"),
      ...win('{ sliding: 10s, slide: 20s, time: "x." }'),
      ...win("{ session: 0s, idleTimeout: 0.5ms }"),
    );
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.step, i.pos])).toEqual([
      ["step 2 'window'", at(text, "10 parsecs")],
      ["step 2 'window'", at(text, "-1s")],
      ["step 5 'window'", at(text, "20s")],
      ["step 5 'window'", at(text, '"x."')],
      ["step 8 'window'", at(text, "0s, idle")],
      ["step 8 'window'", at(text, "0.5ms")],
    ]);
    expect(issues[0].message).toBe(
      `'tumbling' must be a duration of at least 1ms in whole milliseconds, such as "10s", got "10 parsecs"`,
    );
    expect(issues[1].message).toContain("'maxDelay' must be a duration");
    expect(issues[2].message).toBe(`'slide' must be at most the window length ("10s"), got "20s"`);
    expect(issues[3].message).toContain('cannot compile expression "x."');
  });

  test("an unknown window kind, and an option that belongs to no kind", () => {
    const text = pipeline(...win("{ hopping: 10s }"), ...win("{ tumbling: 1s, gap: 2s }"), ...win("{ sliding: 2s }"));
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.step, i.pos, i.message])).toEqual([
      ["step 2 'window'", at(text, "{ hopping"), expect.stringMatching(/^not a valid window: expected one of/)],
      ["step 5 'window'", at(text, "{ tumbling: 1s, gap"), "unknown option 'gap'"],
      ["step 8 'window'", at(text, "{ sliding: 2s }"), "missing 'slide'"],
    ]);
  });

  test("placement: after a keyBy, before an aggregate; no 'emit: updates', no start/end columns", () => {
    const text = pipeline(
      "- window: { tumbling: 1s }",
      "- keyBy: x",
      "- window: { tumbling: 2s }",
      "- map: x",
      "- keyBy: x",
      "- window: { tumbling: 3s }",
      "- aggregate: { start: { count: {} }, n: { count: {} } }",
      "  emit: updates",
    );
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.step, i.pos])).toEqual([
      ["step 1 'window'", at(text, "window: { tumbling: 1s")],
      ["step 3 'window'", at(text, "window: { tumbling: 2s")],
      ["step 7 'aggregate'", at(text, "aggregate:")],
      ["step 7 'aggregate'", at(text, "aggregate:")],
    ]);
    expect(issues[0].message).toContain("needs a keyBy right before it");
    expect(issues[1].message).toContain("must be followed directly by an aggregate");
    expect(issues[2].message).toContain("'emit: updates' does not apply after a window");
    expect(issues[3].message).toContain("column 'start'");
  });
});

test("window: steps after a window without an aggregate are still checked", () => {
  const text = pipeline("- keyBy: x", "- window: { tumbling: 1s }", "- aggregate: { n: { count: {} } }");
  expect(issuesOf(text.replace("- aggregate: { n", "- map: x\n  - aggregate: { n")).map((i) => i.step)).toEqual([
    "step 2 'window'",
    "step 4 'aggregate'",
  ]);
});

describe("distinct and topK columns", () => {
  test("valid forms normalise to columns with k (default 10)", () => {
    const text = pipeline(
      "- keyBy: x",
      '- aggregate: { users: { distinct: "r.u" }, distinct: { of: r.v }, topK: { of: r.u, k: 3 }, top: { topK: { of: r.u } }, t2: { topK: "r.w" } }',
    );
    expect(loadPipeline(text, FILE, {}).aggregates.get(1)).toEqual([
      { name: "users", kind: "distinct", of: "r.u" },
      { name: "distinct", kind: "distinct", of: "r.v" },
      { name: "topK", kind: "topK", of: "r.u", k: 3 },
      { name: "top", kind: "topK", of: "r.u", k: 10 },
      { name: "t2", kind: "topK", of: "r.w", k: 10 },
    ]);
  });

  test("errors point at each column", () => {
    const text = pipeline(
      "- keyBy: x",
      "- aggregate:",
      "    d: { distinct: 1 }",
      "    distinct: {}",
      "    topK: { of: x, k: 0 }",
      "    t: { topK: { of: x, k: 2.5 } }",
      "    u: { topK: { of: x, kk: 2 } }",
      "    count: { of: x, k: 3 }",
    );
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.pos, i.message])).toEqual([
      [at(text, "{ distinct: 1 }"), "column 'd': 'distinct' needs an expression, got 1"],
      [at(text, "{}", 1), "column 'distinct': 'distinct' needs 'of: <expression>'"],
      [at(text, "{ of: x, k: 0 }"), "column 'topK': 'k' must be a whole number of at least 1, got 0"],
      [at(text, "{ topK: { of: x, k: 2.5"), "column 't': 'k' must be a whole number of at least 1, got 2.5"],
      [at(text, "{ topK: { of: x, kk"), "column 'u': unknown option 'kk': expected 'of' or 'k'"],
      [at(text, "{ of: x, k: 3 }"), "column 'count': unknown option 'k': expected 'of'"],
    ]);
  });
});

test("regexGroups lists group names or says what is wrong", () => {
  expect(regexGroups("(?<a>x)(?<b>y)?")).toEqual(["a", "b"]);
  expect(regexGroups("x")).toMatch(/needs named groups/);
  expect(regexGroups("(")).toMatch(/cannot compile regex/);
});
