/**
 * The driver's scheduling cost, counted in messages: drizzle mode sends one RunGroup per
 * executor per group and nothing else that schedules; bsp sends a LaunchTask per task per stage
 * and answers a map-output lookup per reducing executor, for every batch.
 */
import { describe, expect, test } from "bun:test";
import { runPipeline } from "../../../mod.ts";

const yaml = `
source: { stdin: { format: lines } }
steps:
  - keyBy: "line"
  - aggregate: { count: {} }
sink: { stdout: { format: tsv } }
`;
// 60 records, 3 per batch: 20 full batches and an empty final one.
const input = Array.from({ length: 60 }, (_, i) => `k${i % 7}`).join("\n") + "\n";
const batches = 21;

describe("scheduling messages", () => {
  test("drizzle: one RunGroup per executor per group", async () => {
    const workers = 3;
    const groupSize = 5;
    const { summary, output } = await runPipeline(yaml, {
      input,
      workers,
      partitions: 6,
      groupSize,
      batchRecords: 3,
      intervalMs: 3_600_000,
    });
    expect(summary.batches).toBe(batches);
    expect(summary.groups).toBe(Math.ceil(batches / groupSize));
    expect(summary.scheduleMessages).toBe(summary.groups * workers);
    expect(output.trim().split("\n").length).toBe(7);
  });

  test("bsp: a launch per task and stage, and a lookup per reducing executor, every batch", async () => {
    const workers = 3;
    const partitions = 6;
    const { summary } = await runPipeline(yaml, {
      input,
      workers,
      partitions,
      mode: "bsp",
      batchRecords: 3,
      intervalMs: 3_600_000,
    });
    expect(summary.batches).toBe(batches);
    const perBatch = 2 * partitions + workers;
    // Plus a Checkpoint to every executor after every 10th batch (the state is keyed).
    const checkpoints = Math.floor((batches - 1) / 10);
    expect(summary.scheduleMessages).toBe(batches * perBatch + checkpoints * workers);
  });

  test("drizzle needs far fewer scheduling messages than bsp for the same work", async () => {
    const common = { input, workers: 2, partitions: 8, batchRecords: 3, intervalMs: 3_600_000 };
    const d = await runPipeline(yaml, { ...common, groupSize: 10 });
    const b = await runPipeline(yaml, { ...common, mode: "bsp" });
    expect(d.output.split("\n").sort()).toEqual(b.output.split("\n").sort());
    expect(b.summary.scheduleMessages / d.summary.scheduleMessages).toBeGreaterThan(50);
  });
});

test("auto group size: every group says why it has its size, and the output is unchanged", async () => {
  const reasons: string[] = [];
  const sizes: number[] = [];
  const common = { input, workers: 2, partitions: 4, batchRecords: 3, intervalMs: 3_600_000 };
  const auto = await runPipeline(yaml, {
    ...common,
    groupSize: "auto",
    observer: { group: (g) => (reasons.push(g.reason), sizes.push(g.size)) },
  });
  const fixed = await runPipeline(yaml, { ...common, groupSize: 1 });
  expect(auto.output.split("\n").sort()).toEqual(fixed.output.split("\n").sort());
  expect(reasons.length).toBeGreaterThan(0);
  for (const r of reasons) expect(r).toStartWith("auto:");
  expect(sizes.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(batches - sizes[sizes.length - 1]);
});

test("backpressure: the input the driver holds stays under --max-buffer (plus one batch)", async () => {
  const line = "x".repeat(99) + "\n";
  const big = line.repeat(20_000); // 2 MB
  const maxBufferBytes = 64 * 1024;
  const batchBytes = 100 * line.length;
  let peak = 0;
  const { summary } = await runPipeline(yaml, {
    input: big,
    workers: 2,
    batchRecords: 100,
    intervalMs: 3_600_000,
    maxBufferBytes,
    observer: { batch: (m) => (peak = Math.max(peak, m.bufferedBytes)) },
  });
  expect(summary.recordsIn).toBe(20_000);
  expect(peak).toBeGreaterThan(0);
  expect(peak).toBeLessThanOrEqual(maxBufferBytes + batchBytes);
});

test("backpressure in bsp mode and with keyed state: checkpoints make room, nothing stalls", async () => {
  const words = Array.from({ length: 30_000 }, (_, i) => `w${i % 101} ${"y".repeat(40)}`).join("\n") + "\n";
  for (const mode of ["bsp", "drizzle"] as const) {
    let peak = 0;
    const { output, summary } = await runPipeline(yaml, {
      input: words,
      mode,
      workers: 2,
      groupSize: 8,
      batchRecords: 500,
      intervalMs: 3_600_000,
      maxBufferBytes: 128 * 1024,
      observer: { batch: (m) => (peak = Math.max(peak, m.bufferedBytes)) },
    });
    expect(summary.recordsIn).toBe(30_000);
    const rows = output.trim().split("\n");
    expect(rows.length).toBe(101);
    expect(rows.reduce((n, l) => n + Number(l.split("\t")[1]), 0)).toBe(30_000);
    expect(peak).toBeLessThanOrEqual(128 * 1024 + 500 * 46);
  }
}, 30_000);
