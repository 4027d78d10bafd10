import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { benchPipelines } from "../../bench/ysb.ts";
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
