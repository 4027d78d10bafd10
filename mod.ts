/**
 * drizzle as a library: load a pipeline, plan it, run it on executors.
 *
 * @example
 * ```ts
 * import { runPipeline } from "./mod.ts";
 * const yaml = `
 * source: { stdin: { format: lines } }
 * steps:
 *   - flatMap: "line.split(' ')"
 *   - keyBy: "line"
 *   - aggregate: { count: {} }
 * sink: { stdout: { format: tsv } }`;
 * const { output } = await runPipeline(yaml, { input: "a b a\n", workers: 2 });
 * // output: "a\t2\nb\t1\n" (in some order)
 * ```
 * @module
 */
import { PassThrough, Readable } from "node:stream";
import { buildPlan, loadPipeline } from "./engine/plan/mod.ts";
import { Driver, type DriverObserver, type Launcher, type RunSummary } from "./engine/driver/mod.ts";
import { InProcessLauncher, LocalLauncher } from "./engine/launch/mod.ts";

export * from "./engine/plan/mod.ts";
export {
  type BatchMetrics,
  Driver,
  type DriverObserver,
  type DriverOptions,
  type GroupMetrics,
  type Launcher,
  RunError,
  type RunSummary,
} from "./engine/driver/mod.ts";
export { InProcessLauncher, LocalLauncher, SshLauncher, type SshLauncherOptions } from "./engine/launch/mod.ts";

export interface RunPipelineOptions {
  /** The input stream's bytes (for a stdin source). */
  input?: string | Uint8Array | Readable;
  workers?: number;
  partitions?: number;
  mode?: "drizzle" | "bsp";
  groupSize?: number | "auto";
  intervalMs?: number;
  batchRecords?: number;
  /** "in-process" (default here: cheapest) or "local" child processes. */
  executors?: "in-process" | "local";
  launcher?: Launcher;
  recovery?: "partial" | "global";
  heartbeatTimeoutMs?: number;
  checkpointEvery?: number;
  maxBufferBytes?: number;
  observer?: DriverObserver;
  /** Name used in error messages for the pipeline text. */
  file?: string;
  env?: Record<string, string | undefined>;
}

/** Runs a pipeline given as YAML text; resolves with everything it wrote to its stdout sink. */
export async function runPipeline(
  yaml: string,
  o: RunPipelineOptions = {},
): Promise<{ output: string; summary: RunSummary }> {
  const workers = o.workers ?? 2;
  const plan = buildPlan(loadPipeline(yaml, o.file ?? "<pipeline>", o.env ?? process.env), {
    partitions: o.partitions ?? 2 * workers,
  });
  const input = o.input instanceof Readable ? o.input : Readable.from(o.input === undefined ? [] : [toBytes(o.input)]);
  const out = new PassThrough();
  const chunks: Uint8Array[] = [];
  out.on("data", (c: Uint8Array) => chunks.push(c));
  const driver = new Driver({
    plan,
    mode: o.mode ?? "drizzle",
    workers,
    groupSize: o.groupSize ?? 10,
    intervalMs: o.intervalMs ?? plan.intervalMs ?? 100,
    batchRecords: o.batchRecords ?? 50_000,
    launcher: o.launcher ?? (o.executors === "local" ? new LocalLauncher() : new InProcessLauncher()),
    stdin: input,
    stdout: out,
    recovery: o.recovery,
    heartbeatTimeoutMs: o.heartbeatTimeoutMs,
    checkpointEvery: o.checkpointEvery,
    maxBufferBytes: o.maxBufferBytes,
    observer: o.observer,
  });
  const summary = await driver.run();
  return { output: Buffer.concat(chunks).toString("utf8"), summary };
}

function toBytes(s: string | Uint8Array): Uint8Array {
  return typeof s === "string" ? new TextEncoder().encode(s) : s;
}
