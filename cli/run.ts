import type { PhysicalPlan } from "../engine/plan/plan.ts";
import { Driver, type Launcher, RunError, type RunSummary } from "../engine/driver/mod.ts";
import { InProcessLauncher, LocalLauncher } from "../engine/launch/mod.ts";
import { EXIT } from "./exit.ts";

export interface RunCommandOptions {
  workers: number;
  mode: "drizzle" | "bsp";
  groupSize: number;
  intervalMs: number;
  batchRecords: number;
  executors: "local" | "in-process";
  quiet: boolean;
}

/** `drizzle run`: runs the plan with stdin/stdout, handles signals, reports; returns the exit code. */
export async function runCommand(plan: PhysicalPlan, o: RunCommandOptions): Promise<number> {
  const launcher: Launcher = o.executors === "in-process" ? new InProcessLauncher() : new LocalLauncher();
  const driver = new Driver({
    plan,
    mode: o.mode,
    workers: o.workers,
    groupSize: o.groupSize,
    intervalMs: o.intervalMs,
    batchRecords: o.batchRecords,
    launcher,
    stdin: process.stdin,
    stdout: process.stdout,
  });
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      if (!o.quiet) process.stderr.write(`drizzle: ${sig}: finishing the current batches (again to abort)\n`);
      driver.stop();
    } else {
      process.exit(130);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // A closed stdout (`| head`) is reported by the sink; never let it crash the process.
  process.stdout.on("error", () => {});
  let summary: RunSummary;
  try {
    summary = await driver.run();
  } catch (e) {
    if (e instanceof RunError) {
      process.stderr.write(`drizzle: error: ${e.message}\n`);
      return EXIT.failure;
    }
    throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (summary.rejectedTotal > 0) {
    process.stderr.write(`drizzle: ${summary.rejectedTotal} record(s) rejected:\n`);
    for (const [step, r] of Object.entries(summary.rejected)) {
      process.stderr.write(`  ${step}: ${r.count} (first: ${r.sample})\n`);
    }
  }
  if (!o.quiet && process.stderr.isTTY) process.stderr.write(describeSummary(summary, o) + "\n");
  return summary.rejectedTotal > 0 ? EXIT.rejected : EXIT.ok;
}

export function describeSummary(s: RunSummary, o: { mode: string; workers: number }): string {
  const secs = s.elapsedMs / 1000;
  const sorted = [...s.latencies].sort((a, b) => a - b);
  const pct = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0);
  return `drizzle: ${s.recordsIn} records in, ${s.recordsOut} out, ${s.batches} batches in ${s.groups || s.batches} ` +
    `${s.groups ? "groups" : "stage rounds"}, ${secs.toFixed(2)}s (${
      Math.round(s.recordsIn / Math.max(secs, 1e-3))
    } records/s), ` +
    `batch latency p50 ${pct(0.5).toFixed(1)}ms p99 ${pct(0.99).toFixed(1)}ms, mode ${o.mode}, ${o.workers} workers`;
}
