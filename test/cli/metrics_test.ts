import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { awkWordCount, drizzle } from "../support/cli.ts";
import { sortedLines, wordsText } from "./helpers.ts";

let dir: string;
let text: string;
const LINES = 6_000;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "drizzle-metrics-"));
  text = wordsText(LINES);
  writeFileSync(join(dir, "words.txt"), text);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// deno-lint-ignore no-explicit-any
type Line = Record<string, any>;
const readLines = (path: string): Line[] =>
  readFileSync(path, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
const sum = (xs: Line[], k: string) => xs.reduce((a, x) => a + x[k], 0);

describe("--metrics FILE", () => {
  for (const mode of ["drizzle", "bsp"]) {
    test(`${mode}: a line per batch and per group, then a summary; the counts add up`, async () => {
      const path = join(dir, `${mode}.jsonl`);
      const r = await drizzle(
        [
          "run",
          "pipelines/wordcount.yaml",
          "--workers",
          "2",
          "--mode",
          mode,
          "--batch-records",
          "1000",
          // A fixed group size, passed through to the driver (auto is the default).
          "--group-size",
          "4",
          "--metrics",
          path,
        ],
        text,
      );
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(sortedLines(r.stdout)).toEqual(await awkWordCount(join(dir, "words.txt")));
      const lines = readLines(path);
      const batches = lines.filter((l) => l.type === "batch");
      const groups = lines.filter((l) => l.type === "group");
      const summary = lines[lines.length - 1];
      expect(lines.filter((l) => l.type === "summary")).toEqual([summary]);
      expect(summary.type).toBe("summary");
      expect(summary.exitCode).toBe(0);
      expect(summary.mode).toBe(mode);
      expect(summary.latencies).toBeUndefined();
      // One line per batch, in commit order; what they counted is what went in and came out.
      expect(batches.length).toBeGreaterThanOrEqual(LINES / 1000);
      expect(batches.length).toBe(summary.batches);
      expect(batches.map((b) => b.batch)).toEqual(batches.map((_, i) => i));
      expect(sum(batches, "recordsIn")).toBe(LINES);
      expect(summary.recordsIn).toBe(LINES);
      expect(sum(batches, "recordsOut")).toBe(sortedLines(r.stdout).length);
      expect(sum(batches, "bytesIn")).toBe(Buffer.byteLength(text));
      for (const b of batches) {
        expect(b.groupSize).toBe(mode === "bsp" ? 1 : 4);
        for (const k of ["scheduleMs", "processMs", "commitMs", "latencyMs", "committedAt"]) {
          expect(b[k]).toBeGreaterThanOrEqual(0);
        }
      }
      const { p50, p99, max } = summary.latencyMs;
      expect(0 < p50 && p50 <= p99 && p99 <= max).toBe(true);
      if (mode === "drizzle") {
        // Every batch belongs to exactly one reported group.
        expect(groups.length).toBe(summary.groups);
        expect(sum(groups, "size")).toBe(summary.batches);
        for (const g of groups) {
          expect(g.executors).toBe(2);
          expect(g.size).toBeLessThanOrEqual(4);
        }
      }
    }, 30_000);
  }
});
