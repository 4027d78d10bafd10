/**
 * Golden tests: every example pipeline, on fixed inputs, in both modes and on both in-process
 * and local-process executors, must produce what the single-process reference produces.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { runPipeline } from "../../mod.ts";
import { evaluateReference } from "../support/reference.ts";

const root = new URL("../../", import.meta.url).pathname;
const pipelines = readdirSync(`${root}pipelines`).filter((f) => f.endsWith(".yaml")).map((f) =>
  f.replace(/\.yaml$/, "")
);
const fixtures = new Set(readdirSync(`${root}test/golden`).map((f) => f.replace(/\.in$/, "")));

const sorted = (lines: string[]) => [...lines].sort();
const linesOf = (s: string) => (s === "" ? [] : s.replace(/\n$/, "").split("\n"));

test("every example pipeline has a golden input", () => {
  expect(pipelines.length).toBeGreaterThanOrEqual(3);
  for (const p of pipelines) expect(fixtures.has(p)).toBe(true);
});

const configs = [
  { mode: "drizzle", executors: "in-process", workers: 2, groupSize: 3, batchRecords: 97 },
  { mode: "drizzle", executors: "in-process", workers: 3, groupSize: 1, batchRecords: 1000 },
  { mode: "bsp", executors: "in-process", workers: 2, groupSize: 1, batchRecords: 97 },
  { mode: "drizzle", executors: "local", workers: 2, groupSize: 4, batchRecords: 250 },
  { mode: "bsp", executors: "local", workers: 2, groupSize: 1, batchRecords: 250 },
] as const;

for (const name of pipelines) {
  describe(name, () => {
    const yaml = readFileSync(`${root}pipelines/${name}.yaml`, "utf8");
    const input = readFileSync(`${root}test/golden/${name}.in`, "utf8");
    for (const c of configs) {
      test(
        `${c.mode}, ${c.executors}, ${c.workers} workers, G=${c.groupSize}, ${c.batchRecords} records/batch`,
        async () => {
          const ref = evaluateReference(yaml, input, c.batchRecords, { file: `${root}pipelines/${name}.yaml` });
          const { output, summary } = await runPipeline(yaml, {
            input,
            mode: c.mode,
            executors: c.executors,
            workers: c.workers,
            groupSize: c.groupSize,
            batchRecords: c.batchRecords,
            // Longer than any run: batches are cut by record count only, as in the reference.
            intervalMs: 3_600_000,
            file: `${root}pipelines/${name}.yaml`,
          });
          expect(ref.lines.length).toBeGreaterThan(0);
          expect(sorted(linesOf(output))).toEqual(sorted(ref.lines));
          // Late records are rejected from their windows and counted with the rest.
          expect(summary.rejectedTotal).toBe(ref.rejected + ref.late);
        },
        30_000,
      );
    }
  });
}
