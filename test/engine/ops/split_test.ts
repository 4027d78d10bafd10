import { describe, expect, test } from "bun:test";
import { runPipeline } from "../../../mod.ts";
import { StageRunner } from "../../../engine/executor/task.ts";
import { buildPlan, loadPipeline } from "../../../engine/plan/mod.ts";
import { fuseSteps } from "../../../engine/ops/narrow.ts";
import { hashString, KeyIndex } from "../../../engine/ops/partition.ts";
import { Rejects } from "../../../engine/ops/reject.ts";
import { separatorTest, splitPieces } from "../../../engine/ops/split.ts";
import { prng } from "../../support/prng.ts";

/** Random text over an alphabet rich in separators, multi-byte and astral characters. */
function randomText(rnd: () => number, n: number): string {
  const alphabet = ["a", "b", "é", " ", "\t", "  ", ",", "ü", "😀", "x\ty", "日本", "\u00a0"];
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
  return s;
}

const escape = (on: string) => on.split("").map((c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")).join("");
const byRegex = (text: string, on: string) => text.split(new RegExp(`[${escape(on)}]+`)).filter((w) => w !== "");

function pieces(text: string, on: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  splitPieces(text, separatorTest(on), (t, a, b, h) => out.push([t.slice(a, b), h >>> 0]));
  return out;
}

describe("splitPieces", () => {
  test("gives the non-empty pieces between runs of separators, with each piece's key hash", () => {
    const rnd = prng(7);
    for (const on of [" \t", ",", " ,\u00a0", "😀".charAt(0) + "é"]) {
      for (let i = 0; i < 300; i++) {
        const text = randomText(rnd, Math.floor(rnd() * 30));
        const got = pieces(text, on);
        expect(got.map(([w]) => w)).toEqual(byRegex(text, on));
        for (const [w, h] of got) expect(h).toBe(hashString(w));
      }
    }
  });

  test("edges: empty text, only separators, no separators", () => {
    expect(pieces("", " ")).toEqual([]);
    expect(pieces(" \t \t", " \t")).toEqual([]);
    expect(pieces("abc", " ").map(([w]) => w)).toEqual(["abc"]);
    expect(pieces("  a  b ", " ").map(([w]) => w)).toEqual(["a", "b"]);
  });
});

describe("KeyIndex.addSpan", () => {
  test("numbers keys exactly as add(text.slice(start, end)) does", () => {
    const rnd = prng(11);
    const byAdd = new KeyIndex();
    const bySpan = new KeyIndex();
    const isSep = separatorTest(" \t");
    for (let i = 0; i < 2000; i++) {
      const text = randomText(rnd, 20);
      splitPieces(text, isSep, (t, a, b, h) => {
        expect(bySpan.addSpan(t, a, b, h)).toBe(byAdd.add(t.slice(a, b)));
      });
    }
    expect(bySpan.keys).toEqual(byAdd.keys);
    expect(bySpan.hashes).toEqual(byAdd.hashes);
    expect(bySpan.size).toBeGreaterThan(100); // the table grew several times
  });
});

describe("the split step", () => {
  const step = { kind: "split", from: "line", on: " \t", as: "line", label: "step 1 'split'" } as const;

  test("emits the pieces as strings; anything but a string is rejected", () => {
    const out: unknown[] = [];
    const rejects = new Rejects();
    const push = fuseSteps([step], rejects, (r) => out.push(r));
    for (const r of ["a b\tc", "", 42, null, "  d  "]) push(r);
    expect(out).toEqual(["a", "b", "c", "d"]);
    expect(rejects.total).toBe(2);
  });

  // A count keyed by the piece itself takes pieces as positions (no string per piece); every
  // other shape of stage gets the strings. All must agree with flatMap + filter.
  const text = (() => {
    const rnd = prng(3);
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(randomText(rnd, Math.floor(rnd() * 12)));
    return lines.join("\n") + "\n";
  })();
  const pipeline = (steps: string) => `source: { stdin: { format: lines } }\nsteps:\n${steps}\n`;
  const flatMap = `  - flatMap: 'line.split(/[ \\t]+/)'\n  - filter: 'word.length > 0'\n    as: word\n`;
  const cases: Array<[string, string]> = [
    ["count by the piece (fused)", `  - keyBy: "word"\n    as: word\n  - aggregate: { count: {} }`],
    ["count by a function of the piece", `  - keyBy: "word.length"\n    as: word\n  - aggregate: { count: {} }`],
    [
      "two columns",
      `  - keyBy: "word"\n    as: word\n  - aggregate: { n: { count: {} }, chars: { sum: "word.length" } }`,
    ],
    ["no aggregate", `  - map: "word + '!'"\n    as: word`],
  ];
  test("only a count keyed by the piece itself takes pieces as positions", () => {
    const fused = cases.map(([, rest]) => {
      const plan = buildPlan(loadPipeline(pipeline(`  - split: line\n${rest}`), "<test>", {}), { partitions: 2 });
      return new StageRunner(plan, 0, new Rejects()).countsPieces;
    });
    expect(fused).toEqual([true, false, false, false]);
  });

  test("a stage that only splits each line splits whole chunks; carriage returns still end lines", async () => {
    const plan = buildPlan(loadPipeline(pipeline(`  - split: line\n${cases[0][1]}`), "<test>", {}), { partitions: 2 });
    expect(new StageRunner(plan, 0, new Rejects()).countsPieces).toBe(true);
    const crlf = text.split("\n").join("\r\n") + "a\rb c\r\n";
    const o = { input: crlf, workers: 2, batchRecords: 500 };
    const split = await runPipeline(pipeline(`  - split: line\n${cases[0][1]}`), o);
    const reference = await runPipeline(pipeline(flatMap + cases[0][1]), o);
    const sorted = (s: string) => s.split("\n").sort();
    expect(sorted(split.output)).toEqual(sorted(reference.output));
    // "a\rb" is one word (only a line's last \r is dropped; TSV writes it as \\r), and no word
    // keeps a line's \r.
    expect(split.output).toContain("a\\rb\t1");
    expect(split.output.split("\n").some((l) => l.split("\t")[0].endsWith("\\r"))).toBe(false);
  }, 30_000);

  for (const [name, rest] of cases) {
    test(`${name}: the same output as flatMap + filter`, async () => {
      const o = { input: text, workers: 2, batchRecords: 500 };
      const split = await runPipeline(pipeline(`  - split: line\n${rest}`), o);
      const reference = await runPipeline(pipeline(flatMap + rest), o);
      const sorted = (s: string) => s.split("\n").sort();
      expect(split.output.length).toBeGreaterThan(0);
      expect(sorted(split.output)).toEqual(sorted(reference.output));
    }, 30_000);
  }
});
