import { describe, expect, test } from "bun:test";
import { fuseSteps } from "../../../engine/ops/narrow.ts";
import { compileParser, parseJsonLines, recordMaker, scansJsonFields, splitCsv } from "../../../engine/ops/parse.ts";
import { splitLines } from "../../../engine/io/decode.ts";
import { StageRunner } from "../../../engine/executor/task.ts";
import { buildPlan, loadPipeline } from "../../../engine/plan/mod.ts";
import { Rejects } from "../../../engine/ops/reject.ts";
import type { NarrowStepPlan, ParseStepPlan } from "../../../engine/plan/plan.ts";

function parseStep(p: Omit<ParseStepPlan, "kind" | "as" | "label" | "from"> & { from?: string }): ParseStepPlan {
  return { kind: "parse", from: "line", as: "line", label: "step 1 'parse'", ...p };
}

/** Pushes `input` through the fused steps; returns what came out and the rejects. */
function run(steps: NarrowStepPlan[], input: unknown[]): { out: unknown[]; rejects: Rejects } {
  const out: unknown[] = [];
  const rejects = new Rejects();
  const push = fuseSteps(steps, rejects, (r) => out.push(r));
  for (const r of input) push(r);
  return { out, rejects };
}

/**
 * Checks `parse: { json, fields }` on `text` against JSON.parse and picking the fields: the same
 * record (numbers to the sign of zero), or a rejection. True when it was a record.
 */
function sameAsJsonParse(
  fields: string[],
  text: string,
  p = compileParser(parseStep({ format: "json", fields })),
): boolean {
  let want: Record<string, unknown>;
  try {
    const v = JSON.parse(text);
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new TypeError("not an object");
    want = Object.fromEntries(fields.map((f) => [f, Object.hasOwn(v, f) ? v[f] : null]));
  } catch {
    expect(() => p(text)).toThrow();
    return false;
  }
  const got = p(text) as Record<string, unknown>;
  expect(Object.keys(got)).toEqual(fields);
  expect([text, got] as unknown[]).toEqual([text, want]);
  for (const f of fields) if (typeof got[f] === "number") expect(Object.is(got[f], want[f])).toBe(true);
  return true;
}

describe("parse json", () => {
  test("the whole value without fields; only the fields (missing ones null) with them", () => {
    const whole = run([parseStep({ format: "json" })], ['{"a":1,"b":[2]}', "3", '"s"']);
    expect(whole.out).toEqual([{ a: 1, b: [2] }, 3, "s"]);
    const picked = run([parseStep({ format: "json", fields: ["b", "z"] })], ['{"a":1,"b":2}']);
    expect(picked.out).toEqual([{ b: 2, z: null }]);
    expect(Object.keys(picked.out[0] as object)).toEqual(["b", "z"]);
  });

  test("bad JSON, a non-string input, or fields of a non-object are rejected against the step", () => {
    const { out, rejects } = run([parseStep({ format: "json", fields: ["a"] })], [
      "{oops",
      42,
      "[1,2]",
      "null",
      '{"a":"ok"}',
    ]);
    expect(out).toEqual([{ a: "ok" }]);
    expect(rejects.byStep["step 1 'parse'"].count).toBe(4);
    expect(rejects.byStep["step 1 'parse'"].sample).toContain("{oops");
  });

  test("with fields, any text gives what JSON.parse and picking the fields give (record or rejection)", () => {
    const texts = [
      '{"a":"x","b":2,"é":true}',
      ' { "b" : -0.5e-3 , "a" : null , "c" : false } ',
      '{"a":1,"a":2}', // the last of a key given twice
      '{"a":"q\\"uote","b":"\\u00e9"}', // escapes
      '{"a":[1,{"b":2}],"b":{"a":3}}', // nested values
      '{"a":"tab\there"}', // a raw control character: not JSON
      '{"a":\t1,\n"b":\r2}', // JSON whitespace other than spaces
      '{"a":01}',
      '{"a":1.}',
      '{"a":-}',
      '{"a":1e}',
      '{"a":tru}',
      '{"a":1,}',
      '{,"a":1}',
      '{"a" 1}',
      '{"a":1} x',
      '{"a":"open}',
      '{"ab":1,"":2,"b":1e400}',
      "{}",
      " {} ",
      "[]",
      '"a"',
      "",
    ];
    for (const text of texts) sameAsJsonParse(["a", "b", "é"], text);
  });

  test("with fields, random objects and their damaged copies give what JSON.parse gives", () => {
    const fields = ["id", "kind", "t", "x"];
    let seed = 11;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const space = () => " ".repeat(rnd(4) === 0 ? rnd(3) : 0);
    const keys = ["id", "kind", "t", "x", "xx", "k", "kin", "tt", "", "é"];
    const values = ['"a"', '""', '"x y"', "0", "-12", "3.25", "1e3", "-0", "true", "false", "null", '"kind"', "[1]"];
    let parsed = 0;
    for (let n = 0; n < 5000; n++) {
      const pairs = Array.from(
        { length: rnd(6) },
        () => `${space()}"${keys[rnd(keys.length)]}"${space()}:${space()}${values[rnd(values.length)]}${space()}`,
      );
      let text = `${space()}{${pairs.join(",")}}${space()}`;
      // Damage a third of them: drop, double or swap in one character.
      if (rnd(3) === 0 && text.length > 0) {
        const at = rnd(text.length);
        const c = '{}":,. -e1'[rnd(10)];
        text = [
          text.slice(0, at) + text.slice(at + 1),
          text.slice(0, at) + c + text.slice(at),
          text.slice(0, at) + c +
          text.slice(at + 1),
        ][rnd(3)];
      }
      if (sameAsJsonParse(fields, text)) parsed++;
    }
    expect(parsed).toBeGreaterThan(2500);
  });

  test("parsers of the same fields build their records with one function", () => {
    // New code per task would be compiled again per task, and its records would each have a
    // shape of their own, which the steps after it would see as many.
    const a = compileParser(parseStep({ format: "json", fields: ["a", "b"] }));
    const b = compileParser(parseStep({ format: "json", fields: ["a", "b"] }));
    expect(recordMaker(["a", "b"])).toBe(recordMaker(["a", "b"]));
    expect(recordMaker(["a", "b"])).not.toBe(recordMaker(["b", "a"]));
    expect([a('{"a":1,"b":2}'), b('{"b":2,"a":1}')]).toEqual([{ a: 1, b: 2 }, { a: 1, b: 2 }]);
  });

  test("the text comes from the `from` expression over the input", () => {
    const step = parseStep({ format: "json", from: "r.payload", fields: ["n"] });
    const { out } = run([{ ...step, as: "r" }], [{ payload: '{"n":5}' }]);
    expect(out).toEqual([{ n: 5 }]);
  });
});

describe("parse json of whole lines from a chunk's bytes", () => {
  const fields = ["id", "kind", "t"];
  const enc = new TextEncoder();

  /**
   * What each line of the chunk gives, in order: through parseJsonLines (records it built, or
   * the parse step on the lines it handed back), and through splitLines and the parse step
   * alone. A rejection is "rejected: <message>".
   */
  function both(data: Uint8Array): { bytes: unknown[]; lines: unknown[]; handedBack: number } {
    const p = compileParser(parseStep({ format: "json", fields }));
    const viaStep = (line: string) => {
      try {
        return p(line);
      } catch (e) {
        return `rejected: ${(e as Error).message}`;
      }
    };
    const bytes: unknown[] = [];
    let handedBack = 0;
    const done = parseJsonLines(data, new TextDecoder().decode(data), fields, (r) => bytes.push(r), (line) => {
      handedBack++;
      bytes.push(viaStep(line));
    });
    expect(done).toBe(true);
    return { bytes, lines: splitLines(data).map(viaStep), handedBack };
  }

  test("random objects, damaged copies and odd lines give what the parse step gives, line by line", () => {
    let seed = 5;
    // The high bits of the generator: its low bits repeat with short periods.
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 12) % n;
    const space = () => (rnd(5) === 0 ? " ".repeat(1 + rnd(2)) : "");
    const keys = ["id", "kind", "t", "x", "kin", "", "ti"];
    const values = [
      '"a"',
      '""',
      '"x y"',
      "0",
      "-12",
      "3.25e-2",
      "1E+3",
      "true",
      "false",
      "null",
      '"q\\"d"',
      '"a\\nb"',
      '"\\u00e9"',
      "[1]",
      "01",
    ];
    const lines: string[] = [];
    for (let n = 0; n < 3000; n++) {
      const pairs = Array.from(
        { length: rnd(5) },
        () => `${space()}"${keys[rnd(keys.length)]}"${space()}:${space()}${values[rnd(values.length)]}${space()}`,
      );
      let text = `${space()}{${pairs.join(",")}}${space()}`;
      if (rnd(3) === 0) {
        const at = rnd(text.length);
        const c = '{}":,. -e1\ta\r'[rnd(13)];
        text = rnd(2) === 0 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + c + text.slice(at);
      }
      lines.push(text);
    }
    lines.push("", "   ", "{}", '{"id":1}', "[]", '"s"', "tru", '{"id":tru}', '{"id":fals}', '{"id":nul}', '{"id":-}');
    // Newlines, CR-LF, and a last line with and without its newline.
    for (const chunk of [lines.join("\n") + "\n", lines.join("\r\n"), lines.join("\n")]) {
      const { bytes, lines: want, handedBack } = both(enc.encode(chunk));
      expect(bytes).toEqual(want);
      // Both ways are taken many times: lines built from the bytes, and lines handed back.
      expect(want.length - handedBack).toBeGreaterThan(1000);
      expect(handedBack).toBeGreaterThan(1000);
    }
  });

  test("a byte that is not UTF-8 inside a string decodes as it does in the line's text", () => {
    const data = Uint8Array.of(...enc.encode('{"id":"a'), 0x80, ...enc.encode('b","t":2}\n'));
    const { bytes, lines, handedBack } = both(data);
    expect(bytes).toEqual(lines);
    expect(bytes).toEqual([{ id: "a\uFFFDb", kind: null, t: 2 }]);
    expect(handedBack).toBe(0);
  });

  test("a chunk with multi-byte characters is left to the line path; so are names the scan cannot take", () => {
    const data = enc.encode('{"id":"é"}\n');
    expect(parseJsonLines(data, new TextDecoder().decode(data), fields, () => {}, () => {})).toBe(false);
    expect(scansJsonFields(["a", "b"])).toBe(true);
    expect(scansJsonFields(["a", "a"])).toBe(false);
    expect(scansJsonFields(["__proto__"])).toBe(false);
    expect(scansJsonFields(undefined)).toBe(false);
  });
});

describe("a first stage that parses each input line as json with fields", () => {
  /** The stage's sink output and rejects for one chunk, parsing `from` (the line itself, or not). */
  function stage(from: string, chunk: string): { out: string; rejected: number } {
    const yaml = `source: { stdin: { format: lines } }
steps:
  - parse: { json: "${from}", fields: [id, t] }
    as: line
  - map: "({ id: r.id, t: r.t, n: 1 })"
    as: r
sink: { stdout: { format: jsonl } }
`;
    const plan = buildPlan(loadPipeline(yaml, "<test>", {}), { partitions: 1 });
    const rejects = new Rejects();
    const out = new StageRunner(plan, 0, rejects).run(0, {
      kind: "source",
      data: new TextEncoder().encode(chunk),
      time: 0,
    }, false);
    if (out.kind !== "sink") throw new Error("expected sink output");
    return { out: new TextDecoder().decode(out.data), rejected: rejects.total };
  }

  test("gives what parsing each line's string gives, for chunks with and without multi-byte characters", () => {
    const lines = ['{"id":"a","t":1}', '{"id":"q\\"x","t":2}', "oops", '{"t":3, "id" : "b"}', '{"id":[1]}', ""];
    for (const extra of ['{"id":"plain","t":4}', '{"id":"é","t":4}']) {
      const chunk = [...lines, extra].join("\r\n") + "\n";
      // `line + ""` is not the line itself, so that stage parses each line's string.
      const want = stage('line + \\"\\"', chunk);
      expect(stage("line", chunk)).toEqual(want);
      expect(want.rejected).toBe(2);
      expect(want.out.split("\n").filter(Boolean).length).toBe(5);
    }
  });
});

describe("parse csv / tsv", () => {
  test("csv fields become the named columns, with RFC 4180 quotes", () => {
    const p = compileParser(parseStep({ format: "csv", fields: ["a", "b", "c"] }));
    expect(p('x,"y, z","he said ""hi"""')).toEqual({ a: "x", b: "y, z", c: 'he said "hi"' });
    expect(p(",,")).toEqual({ a: "", b: "", c: "" });
    expect(p('1,a"b,3')).toEqual({ a: "1", b: 'a"b', c: "3" }); // like the csv source format
  });

  test("csv: wrong field count, unterminated or misplaced quotes are rejected", () => {
    const step = parseStep({ format: "csv", fields: ["a", "b"] });
    const { out, rejects } = run([step], ["1,2,3", "1", '"1,2', '"1"x,2', "1,2", 7]);
    expect(out).toEqual([{ a: "1", b: "2" }]);
    expect(rejects.total).toBe(5);
    expect(() => splitCsv('"open')).toThrow(/unterminated/);
    expect(() => splitCsv('"a"b')).toThrow(/after a closing quote/);
  });

  test("tsv splits on tabs only", () => {
    const { out, rejects } = run([parseStep({ format: "tsv", fields: ["k", "v"] })], ["a\tb c", "a,b", "a\tb\tc"]);
    expect(out).toEqual([{ k: "a", v: "b c" }]);
    expect(rejects.total).toBe(2);
  });
});

describe("parse regex", () => {
  const status = parseStep({ format: "regex", pattern: '" (?<status>\\d{3}) (?<bytes>\\d+|-)(?: (?<ms>\\d+))?' });

  test("a match gives its named groups; an optional group that did not take part is null", () => {
    const { out } = run([status], ['"GET / HTTP/1.1" 200 512 17', '"GET /x HTTP/1.1" 404 -']);
    expect(out).toEqual([{ status: "200", bytes: "512", ms: "17" }, { status: "404", bytes: "-", ms: null }]);
  });

  test("no match or a non-string is rejected", () => {
    const { out, rejects } = run([status], ["not a log line", null, { line: "x" }]);
    expect(out).toEqual([]);
    expect(rejects.byStep["step 1 'parse'"].count).toBe(3);
    expect(rejects.byStep["step 1 'parse'"].sample).toContain("no match");
  });
});
