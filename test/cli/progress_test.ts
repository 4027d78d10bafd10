import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { awkWordCount, drizzle } from "../support/cli.ts";
import { hasScript, inPty, sortedLines, statusDraws, wordsText } from "./helpers.ts";

let dir: string;
let text: string;
let expected: string[];
const input = () => join(dir, "words.txt");
const output = () => join(dir, "out.tsv");
// deno-lint-ignore no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
const STATUS = /^batches (\d+) \| group \d+ \| in \S+\/s \| out \S+\/s \| p50 \S+ p99 \S+ \| executors (\d+)\/2$/;
const SUMMARY =
  /drizzle: done: 8000 records in, (\d+) out, (\d+) batches in \d+ groups?, .*p50 .* p99 .*mode drizzle, 2 workers/;

beforeAll(async () => {
  if (!hasScript()) throw new Error("these tests need util-linux 'script' for a pseudo-terminal (Debian: bsdutils)");
  dir = mkdtempSync(join(tmpdir(), "drizzle-progress-"));
  text = wordsText(8_000);
  writeFileSync(input(), text);
  expected = await awkWordCount(input());
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (flags: string, env: Record<string, string> = {}) =>
  inPty(
    `bin/drizzle run pipelines/wordcount.yaml --workers 2 --batch-records 1000 ${flags} < ${input()} > ${output()}`,
    env,
  );

describe("on a terminal", () => {
  test("a status line redrawn in place, erased for the summary; data untouched", async () => {
    const r = await run("");
    expect(r.code).toBe(0);
    const screen = plain(r.screen);
    const draws = statusDraws(screen);
    expect(draws.length).toBeGreaterThan(0);
    for (const d of draws) expect(d).toMatch(/^batches \d+ \| group (\d+|-) \| in \S+\/s \| out \S+\/s \| p50 /);
    const busy = draws.filter((d) => STATUS.test(d));
    expect(busy.length).toBeGreaterThan(0);
    // The first batch is drawn at once, while the executors are up.
    expect(busy.some((d) => Number(STATUS.exec(d)![1]) > 0 && STATUS.exec(d)![2] === "2")).toBe(true);
    // The last state is drawn before the line goes, and matches the summary's count.
    const summary = SUMMARY.exec(screen);
    expect(summary).not.toBeNull();
    expect(STATUS.exec(busy[busy.length - 1])![1]).toBe(summary![2]);
    expect(Number(summary![1])).toBe(expected.length);
    // Erased with spaces (no escape codes), then the summary on a clean line.
    expect(screen).toMatch(/\r +\rdrizzle: done: /);
    expect(sortedLines(readFileSync(output(), "utf8"))).toEqual(expected);
  }, 30_000);

  test("--quiet: no status line, no summary", async () => {
    const r = await run("--quiet --executors in-process");
    expect(r.code).toBe(0);
    expect(r.screen).toBe("");
    expect(sortedLines(readFileSync(output(), "utf8"))).toEqual(expected);
  }, 30_000);

  test("--no-progress: no status line, the summary still", async () => {
    const r = await run("--no-progress --executors in-process");
    expect(r.code).toBe(0);
    expect(statusDraws(r.screen)).toEqual([]);
    expect(plain(r.screen)).toMatch(SUMMARY);
  }, 30_000);
});

describe("without a terminal", () => {
  test("--progress draws the status line and the summary on stderr; stdout is only data", async () => {
    const r = await drizzle([
      "run",
      "pipelines/wordcount.yaml",
      "--workers",
      "2",
      "--batch-records",
      "1000",
      "--progress",
    ], text);
    expect(r.code).toBe(0);
    expect(statusDraws(r.stderr).some((d) => STATUS.test(d))).toBe(true);
    expect(r.stderr).toMatch(SUMMARY);
    expect(sortedLines(r.stdout)).toEqual(expected);
  }, 30_000);
});
