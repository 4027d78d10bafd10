/**
 * Many fault trials in a row (not part of `npm test`): each runs wordcount or YSB with local
 * executor processes, SIGKILLs a random executor after a random number of committed batches,
 * and checks the output is byte-identical (sorted) to the fault-free reference.
 *
 *   bun test/stress/kill_trials.ts [trials=20]
 */
import { readFileSync } from "node:fs";
import { LocalLauncher, runPipeline } from "../../mod.ts";
import { evaluateReference } from "../support/reference.ts";
import { prng } from "../support/prng.ts";

const root = new URL("../../", import.meta.url).pathname;
const cases = [
  { file: `${root}pipelines/wordcount.yaml`, input: readFileSync(`${root}test/golden/wordcount.in`, "utf8").repeat(4) },
  { file: `${root}pipelines/ysb.yaml`, input: readFileSync(`${root}test/golden/ysb.in`, "utf8") },
  { file: `${root}pipelines/status_counts.yaml`, input: readFileSync(`${root}test/golden/status_counts.in`, "utf8") },
];
const trials = Number(process.argv[2] ?? 20);
const rnd = prng(Number(process.env.SEED ?? 7));
let failed = 0;
for (let t = 0; t < trials; t++) {
  const c = cases[t % cases.length];
  const yaml = readFileSync(c.file, "utf8");
  const mode = rnd() < 0.5 ? "drizzle" : "bsp";
  const recovery = rnd() < 0.5 ? "partial" : "global";
  const after = 1 + Math.floor(rnd() * 20);
  const victim = Math.floor(rnd() * 3);
  const launcher = new LocalLauncher();
  let committed = 0;
  const { output, summary } = await runPipeline(yaml, {
    input: c.input,
    file: c.file,
    workers: 3,
    mode,
    recovery,
    batchRecords: 50,
    groupSize: "auto",
    intervalMs: 3_600_000,
    launcher,
    observer: { batch: () => ++committed === after && void launcher.kill(victim) },
  });
  const ref = evaluateReference(yaml, c.input, 50, { file: c.file });
  const ok = JSON.stringify(output.split("\n").filter(Boolean).sort()) === JSON.stringify([...ref.lines].sort());
  if (!ok) failed++;
  const name = c.file.split("/").pop();
  console.log(
    `${ok ? "ok  " : "FAIL"} ${name} ${mode}/${recovery} kill executor ${victim} after ${after} batches: ` +
      `${summary.recoveries.length} recovery(ies), ${summary.batches} batches`,
  );
}
console.log(`${trials - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
