import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { benchPipelines } from "../../bench/ysb.ts";
import { eventLatencies } from "../../bench/ysb_report.ts";
import { buildPlan, loadPipeline } from "../../engine/plan/mod.ts";

const ROOT = join(import.meta.dir, "../..");
const shipped = readFileSync(join(ROOT, "pipelines/ysb.yaml"), "utf8");

/** The window plan and source of a pipeline text, as `drizzle run` would plan it. */
function planned(text: string) {
  const plan = buildPlan(loadPipeline(text, join(ROOT, "pipelines/ysb.yaml"), {}), { partitions: 4 });
  return { window: plan.stages.find((s) => s.window)!.window!, source: plan.source };
}

test("the benchmark runs pipelines/ysb.yaml with its window resized and no lateness allowance", () => {
  const shippedWindow = planned(shipped).window;
  expect(shippedWindow.maxDelayMs).toBe(100);
  const texts = benchPipelines(shipped, 2000, 1_700_000_000_000);
  if (typeof texts === "string") throw new Error(texts);
  const { window, source } = planned(texts.stdin);
  expect(window.sizeMs).toBe(2000);
  expect(window.maxDelayMs).toBe(0);
  // Everything else about the window is as shipped.
  expect({ ...window, sizeMs: 0, maxDelayMs: 0 }).toEqual({ ...shippedWindow, sizeMs: 0, maxDelayMs: 0 });
  expect(source.kind).toBe("stdin");
  const generated = planned(texts.generated.replace("EVENTS", "1000").replace("RATE", "100"));
  expect(generated.window).toEqual(window);
  expect(generated.source.generate).toBeDefined();
});

test("a pipelines/ysb.yaml without what the benchmark rewrites is reported, not run", () => {
  expect(benchPipelines(shipped.replace("maxDelay: 100ms", "maxDelay: 50ms"), 2000, 0)).toContain("maxDelay");
  expect(benchPipelines(shipped.replace("tumbling: 10s", "tumbling: 5s"), 2000, 0)).toContain("tumbling");
});

test("per-event latency: each event from when it was written to the commit of the batch that held it", () => {
  // 1000 events/s from t0 = 0: event i is written at i ms. Batch b holds events 10b..10b+9 and
  // commits at 10(b+1) + 5 ms, so its events wait 15 down to 6 ms: each of 6..15 ten times.
  const batches = Array.from({ length: 10 }, (_, b) => ({ recordsIn: 10, committedAt: 10 * (b + 1) + 5 }));
  const all = eventLatencies(batches, 1000, 0, 0, 100)!;
  expect(all.events).toBe(100);
  expect([all.p50, all.p99, all.max]).toEqual([10, 15, 15]);
  expect(all.cdf.length).toBe(100);
  expect(all.cdf.slice(0, 11)).toEqual([6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7]);
  expect(all.cdf[99]).toBe(15);
  // Only the events asked for: 25..44, of batches 2 (25..29: 10 down to 6 ms), 3 (15..6) and 4
  // (40..44: 15 down to 11): each of 6..15 twice.
  const some = eventLatencies(batches, 1000, 0, 25, 45)!;
  expect(some.events).toBe(20);
  expect([some.cdf[0], some.p50, some.max]).toEqual([6, 10, 15]);
  expect([some.cdf[9], some.cdf[10]]).toEqual([6, 7]);
  expect(eventLatencies(batches, 1000, 0, 200, 300)).toBeUndefined();
});
