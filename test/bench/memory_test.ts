import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MemoryRun, renderMemory } from "../../bench/memory.ts";
import { machine } from "../../bench/report.ts";

const dir = mkdtempSync(join(tmpdir(), "drizzle-memory-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(bytes: number, rep: number, peakMB: number, purgeDelay?: string): MemoryRun {
  return {
    bytes,
    rep,
    purgeDelay,
    ok: true,
    exit: 0,
    bytesOut: bytes,
    seconds: bytes / 20e6,
    mbPerSec: 20,
    peakMB,
    peakPssMB: peakMB - 90,
    peakFirstHalfMB: peakMB,
    peakSecondHalfMB: peakMB - 5,
    peakDriverMB: 150,
    peakExecutorMB: (peakMB - 150) / 2,
    cpu: [],
    samples: [{ t: 0, total: peakMB, driver: 150, executors: peakMB - 150 }],
  };
}

test("repeated runs of a setting make one row, median (min–max); each target is on its worst run", async () => {
  // Interleaved as the benchmark runs them: the default and the small footprint, three times, then 5 GB.
  const runs = [
    run(1e9, 0, 500),
    run(1e9, 0, 290, "10"),
    run(1e9, 1, 700),
    run(1e9, 1, 310, "10"),
    run(1e9, 2, 600),
    run(1e9, 2, 280, "10"),
    run(5e9, 0, 630),
  ];
  await renderMemory({ machine: machine(), quick: false, workers: 2, rate: "20m", limitMB: 300, runs }, dir);
  const md = readFileSync(join(dir, "memory.md"), "utf8");
  const rows = md.split("\n").filter((l) => /^\| +\d/.test(l)).map((l) => l.split("|").map((c) => c.trim()));
  expect(rows.map((r) => [r[1], r[3], r[6]])).toEqual([
    ["1.00GB", "3", "600 MB (500–700)"],
    ["5.00GB", "1", "630 MB (1 run)"],
    ["1.00GB", "3", "290 MB (280–310)"],
  ]);
  const flat = md.replace(/\s+/g, " ");
  expect(flat).toContain("peak RSS, driver + executors (worst run)**: MISSED: 700 MB");
  expect(flat).toContain("MIMALLOC_ALLOW_THP=0 (worst run)**: MISSED: 310 MB");
  // Growth: the 5 GB peak against the median of the 1 GB runs.
  expect(flat).toContain("= 1.05x (bounded");
});

test("--footprint small runs are a setting of their own, not counted as the default's", async () => {
  const small = (rep: number, peakMB: number, bytes = 1e9): MemoryRun => ({
    ...run(bytes, rep, peakMB),
    footprint: "small",
  });
  const runs = [run(1e9, 0, 600), small(0, 270), run(1e9, 1, 620), small(1, 290), small(0, 296, 5e9)];
  await renderMemory({ machine: machine(), quick: false, workers: 2, rate: "20m", limitMB: 300, runs }, dir);
  const md = readFileSync(join(dir, "memory.md"), "utf8");
  const rows = md.split("\n").filter((l) => /^\| +\d/.test(l)).map((l) => l.split("|").map((c) => c.trim()));
  expect(rows.map((r) => [r[1], r[2].startsWith("--footprint small"), r[6]])).toEqual([
    ["1.00GB", false, "610 MB (600–620)"],
    ["1.00GB", true, "280 MB (270–290)"],
    ["5.00GB", true, "296 MB (1 run)"],
  ]);
  const flat = md.replace(/\s+/g, " ");
  expect(flat).toContain("peak RSS, driver + executors (worst run)**: MISSED: 620 MB");
  // One target per setting, on its worst run at any size.
  expect(flat.split("--footprint small (worst run)").length).toBe(2);
  expect(flat).toContain("peak RSS, driver + executors, --footprint small (worst run)**: met (296 MB");
  expect(flat).toContain("growth with input, --footprint small**: peak at 5.00GB / at 1.00GB = 1.06x (bounded");
});
