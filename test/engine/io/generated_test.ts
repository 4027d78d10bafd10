/**
 * A generated source makes its events on the executors: the same events, and so the same
 * results, as piping the generator's output into the stdin pipeline.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { partitionRange } from "../../../engine/io/generated.ts";
import { ysbEvents } from "../../../engine/io/ysb.ts";
import { runPipeline } from "../../../mod.ts";

const root = new URL("../../../", import.meta.url).pathname;
const ysb = readFileSync(`${root}pipelines/ysb.yaml`, "utf8");

test("partition ranges cover a batch's events exactly once", () => {
  const r = { start: 100, count: 17, startTimeMs: 0 };
  const parts = [0, 1, 2, 3].map((p) => partitionRange(r, p, 4));
  expect(parts.reduce((n, p) => n + p.count, 0)).toBe(17);
  for (let i = 1; i < 4; i++) expect(parts[i].start).toBe(parts[i - 1].start + parts[i - 1].count);
});

for (const mode of ["drizzle", "bsp"] as const) {
  test(`generate source equals the same events piped in (${mode})`, async () => {
    const startTime = 1_700_000_000_000;
    const generated = ysb.replace(
      "source: { stdin: { format: lines } }",
      `source: { generate: { ysb: { events: 5000, rate: 0, seed: 1, skew: true, startTime: ${startTime} } } }`,
    );
    expect(generated).not.toBe(ysb);
    const input = ysbEvents({ seed: 1, count: 5000, rate: 100_000, startTimeMs: startTime, skew: true }).join("\n") +
      "\n";
    const file = `${root}pipelines/ysb.yaml`;
    const opts = { workers: 2, mode, batchRecords: 700, intervalMs: 3_600_000, file };
    const a = await runPipeline(generated, opts);
    const b = await runPipeline(ysb, { ...opts, input });
    expect(a.summary.recordsIn).toBe(5000);
    expect(a.output.split("\n").sort()).toEqual(b.output.split("\n").sort());
    expect(a.output.trim().split("\n").length).toBeGreaterThan(50);
  }, 30_000);
}
