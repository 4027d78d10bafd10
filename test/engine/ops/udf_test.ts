import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fuseSteps } from "../../../engine/ops/narrow.ts";
import { Rejects } from "../../../engine/ops/reject.ts";
import { clearUdfs, loadUdfs, registerUdf, udfFor } from "../../../engine/ops/udf.ts";
import { loadPipeline } from "../../../engine/plan/load.ts";
import type { PhysicalPlan, UdfStepPlan } from "../../../engine/plan/plan.ts";
import { buildPlan } from "../../../engine/plan/stages.ts";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "drizzle-udf-"));
  writeFileSync(
    join(dir, "fns.ts"),
    `export function double(r: { n: number }): { n: number } { return { n: r.n * 2 }; }
export const isEven = (r: { n: number }) => r.n % 2 === 0;
export function explode(r: { n: number }): number[] { return Array.from({ length: r.n }, (_, i) => i); }
export function fails(): never { throw new Error("udf says no"); }
export async function later(r: unknown) { return r; }
export const notAFunction = 42;
`,
  );
  writeFileSync(join(dir, "broken.ts"), "export const x = ;\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(clearUdfs);

function udf(exp: string, udfKind: UdfStepPlan["udfKind"] = "map", module = join(dir, "fns.ts")): UdfStepPlan {
  return { kind: "udf", module, export: exp, udfKind, as: "r", label: "step 1 'udf'" };
}

function planWith(...steps: UdfStepPlan[]): PhysicalPlan {
  return {
    name: "t",
    source: { kind: "stdin", paths: [], format: "jsonl", header: false, as: "record" },
    stages: [{ id: 0, partitions: 1, steps, output: { kind: "sink" } }],
    sink: { kind: "stdout", format: "tsv" },
  };
}

function run(steps: UdfStepPlan[], input: unknown[]) {
  const out: unknown[] = [];
  const rejects = new Rejects();
  const push = fuseSteps(steps, rejects, (r) => out.push(r));
  for (const r of input) push(r);
  return { out, rejects };
}

describe("udf steps", () => {
  test("loadUdfs imports the module; map, filter and flatMap use its exports", async () => {
    const steps = [udf("double"), udf("isEven", "filter"), udf("explode", "flatMap")];
    await loadUdfs(planWith(...steps));
    const { out, rejects } = run(steps, [{ n: 1 }, { n: 2 }]);
    expect(out).toEqual([0, 1, 0, 1, 2, 3]);
    expect(rejects.total).toBe(0);
  });

  test("a module path resolved against the pipeline file's folder", async () => {
    const text =
      "source: { stdin: { format: jsonl } }\nsteps:\n  - udf: { module: ./fns.ts, export: double }\n    as: r\n";
    const plan = buildPlan(loadPipeline(text, join(dir, "p.yaml"), {}), { partitions: 1 });
    const step = plan.stages[0].steps[0] as UdfStepPlan;
    expect(step).toEqual({ ...udf("double"), label: "step 1 'udf'" });
    await loadUdfs(plan);
    expect(run([step], [{ n: 21 }]).out).toEqual([{ n: 42 }]);
  });

  test("a udf that throws or returns a Promise rejects only that record", async () => {
    await loadUdfs(planWith(udf("fails"), udf("later")));
    const thrown = run([udf("fails")], [1, 2]);
    expect(thrown.out).toEqual([]);
    expect(thrown.rejects.byStep["step 1 'udf'"]).toEqual({ count: 2, sample: "udf says no (record: 1)" });
    const promised = run([udf("later")], [1]);
    expect(promised.rejects.byStep["step 1 'udf'"].sample).toMatch(/returned a Promise/);
  });

  test("fusing a udf that was not loaded throws a clear error", () => {
    expect(() => run([udf("double")], [])).toThrow(/step 1 'udf': 'double' from .*fns\.ts is not loaded.*loadUdfs/);
    expect(() => udfFor(udf("double"))).toThrow(/not loaded/);
    registerUdf(udf("double"), () => "registered");
    expect(run([udf("double")], [1]).out).toEqual(["registered"]);
  });

  test("a missing export, a non-function, or a module that does not compile fails loading", async () => {
    await expect(loadUdfs(planWith(udf("nope")))).rejects.toThrow(
      /step 1 'udf': .*fns\.ts has no exported function 'nope' \(it exports double, .*explode/,
    );
    await expect(loadUdfs(planWith(udf("notAFunction")))).rejects.toThrow(/no exported function 'notAFunction'/);
    await expect(loadUdfs(planWith(udf("x", "map", join(dir, "broken.ts"))))).rejects.toThrow(
      /step 1 'udf': cannot import .*broken\.ts/,
    );
  });
});
