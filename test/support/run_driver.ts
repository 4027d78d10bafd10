/**
 * Runs one pipeline file with the Driver and local executors, options as JSON in argv[2]; used
 * by tests that kill the driver process itself. Prints "committed <batch>" lines on stderr.
 */
import { readFileSync } from "node:fs";
import { buildPlan, Driver, loadPipeline, LocalLauncher } from "../../mod.ts";

const o = JSON.parse(process.argv[2]) as {
  pipeline: string;
  workers: number;
  batchRecords: number;
  groupSize: number;
  checkpointDir: string;
  resume: boolean;
  mode?: "drizzle" | "bsp";
};
const plan = buildPlan(loadPipeline(readFileSync(o.pipeline, "utf8"), o.pipeline), { partitions: 2 * o.workers });
const driver = new Driver({
  plan,
  mode: o.mode ?? "drizzle",
  workers: o.workers,
  groupSize: o.groupSize,
  intervalMs: 3_600_000,
  batchRecords: o.batchRecords,
  launcher: new LocalLauncher(),
  stdin: process.stdin,
  stdout: process.stdout,
  checkpointDir: o.checkpointDir,
  resume: o.resume,
  checkpointEvery: o.groupSize,
  observer: { batch: (m) => process.stderr.write(`committed ${m.batch}\n`) },
});
const summary = await driver.run();
process.stderr.write(`done ${JSON.stringify({ resumed: summary.resumed, checkpoint: summary.checkpoint })}\n`);
process.exit(0);
