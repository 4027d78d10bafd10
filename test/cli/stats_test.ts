import { expect, test } from "bun:test";
import type { BatchMetrics } from "../../engine/driver/mod.ts";
import { RunStats } from "../../cli/stats.ts";

// A cast, so that fields the driver adds later need no change here.
const batch = (i: number, o: Partial<BatchMetrics>): BatchMetrics =>
  ({
    batch: i,
    group: 0,
    groupSize: 10,
    recordsIn: 0,
    recordsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    scheduleMs: 0,
    processMs: 0,
    commitMs: 0,
    latencyMs: 1,
    committedAt: 0,
    ...o,
  }) as BatchMetrics;

test("latency percentiles come from the histogram, to 3 significant digits", () => {
  const s = new RunStats(() => 0);
  expect(s.latencyMs(50)).toBe(0);
  for (let i = 1; i <= 1000; i++) s.batch(batch(i, { latencyMs: i / 10 }));
  expect(s.latencyMs(50)).toBeCloseTo(50, 1);
  expect(s.latencyMs(99)).toBeCloseTo(99, 0);
  expect(s.latencyMs(100)).toBe(100);
  expect(s.maxLatencyMs).toBe(100);
  expect(s.batches).toBe(1000);
});

test("rates are records per second over the last window, and fall to 0 when idle", () => {
  let now = 0;
  const s = new RunStats(() => now, 2000);
  now = 500;
  s.batch(batch(0, { recordsIn: 1000, recordsOut: 10, groupSize: 5 }));
  expect(s.rates()).toEqual({ in: 2000, out: 20 });
  now = 2000;
  s.batch(batch(1, { recordsIn: 3000, recordsOut: 30 }));
  expect(s.rates()).toEqual({ in: 2000, out: 20 });
  now = 3000;
  expect(s.rates()).toEqual({ in: 1500, out: 15 });
  now = 4000;
  expect(s.rates()).toEqual({ in: 0, out: 0 });
  expect(s.recordsIn).toBe(4000);
  expect(s.groupSize).toBe(10);
});
