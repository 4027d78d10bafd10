import type { PhysicalPlan } from "../engine/plan/plan.ts";
import { Driver, type DriverObserver, RunError, type RunSummary } from "../engine/driver/mod.ts";
// Not the launch/ barrel: it brings the in-process launcher, and with it the whole executor,
// which only --executors in-process needs (loaded below when asked for).
import { LocalLauncher } from "../engine/launch/local.ts";
import { takePrestarted } from "../engine/launch/prestart.ts";
import { type Footprint, footprintOf, growPipe } from "../engine/runtime/mod.ts";
import { SshLauncher, type SshLauncherOptions } from "../engine/launch/ssh.ts";
import { log } from "../engine/log.ts";
import { fdReader } from "../engine/io/source.ts";
import { EXIT } from "./exit.ts";
import { MetricsFile } from "./metrics_file.ts";
import { progressText, rejectedText, summaryText } from "./report.ts";
import { RunStats } from "./stats.ts";
import { StatusLine, writeAround } from "./status_line.ts";
import type { Terminal } from "./terminal.ts";

export interface RunOptions {
  workers: number;
  mode: "drizzle" | "bsp";
  /** Fixed, or "auto" for the driver's group-size controller. */
  groupSize: number | "auto";
  intervalMs: number;
  batchRecords: number;
  /** Memory against speed: the executors' allocator settings (engine/runtime/self.ts). */
  footprint: Footprint;
  executors: "local" | "in-process";
  /** Executors on other machines over ssh (overrides `executors`). */
  ssh?: SshLauncherOptions;
  recovery: "partial" | "global";
  heartbeatTimeoutMs: number;
  maxOverhead: number;
  maxGroupTimeMs: number;
  maxBufferBytes: number;
  /** When stdin is a pipe, grow its buffer to this many bytes (0: leave it as it is). */
  pipeBufferBytes: number;
  checkpointDir?: string;
  resume: boolean;
  /** No status line, no summary, no notices (errors and rejected records still print). */
  quiet: boolean;
  /** The live status line: true/false when asked for, undefined to show it on a terminal. */
  progress?: boolean;
  /** Path of the --metrics JSON-lines file. */
  metrics?: string;
}

/**
 * `drizzle run`: runs the plan with stdin/stdout, reports progress, metrics and the summary on
 * the side, stops on SIGINT/SIGTERM after the current batches commit; returns the exit code.
 */
export async function runPlan(plan: PhysicalPlan, o: RunOptions, term: Terminal): Promise<number> {
  const metrics = o.metrics ? MetricsFile.open(o.metrics) : null;
  const launcher = o.ssh
    ? new SshLauncher({ ...o.ssh, footprint: o.footprint })
    : o.executors === "local"
    ? new LocalLauncher(undefined, prestartedFor(o.footprint), o.footprint)
    : new (await import("../engine/launch/in_process.ts")).InProcessLauncher();
  const alive = () => ("children" in launcher ? launcher.children.size : launcher.executors.length);
  if (plan.source.kind === "stdin" && o.pipeBufferBytes > 0) {
    const grown = await growPipe(0, o.pipeBufferBytes);
    const short = grown && grown.after < o.pipeBufferBytes
      ? ` (the system's limit; ${o.pipeBufferBytes} asked for)`
      : "";
    if (grown && grown.after > grown.before) {
      log.debug(`stdin is a pipe: its buffer grown from ${grown.before} to ${grown.after} bytes${short}`);
    } else if (grown && short) log.debug(`stdin is a pipe: its buffer stays at ${grown.after} bytes${short}`);
  }
  const stats = new RunStats();
  const showProgress = o.progress ?? (term.isTTY && !o.quiet);
  const status = showProgress
    ? new StatusLine(term, () => progressText(stats, { alive: alive(), wanted: o.workers }))
    : null;
  const driver = new Driver({
    plan,
    mode: o.mode,
    workers: o.workers,
    groupSize: o.groupSize,
    intervalMs: o.intervalMs,
    batchRecords: o.batchRecords,
    launcher,
    recovery: o.recovery,
    heartbeatTimeoutMs: o.heartbeatTimeoutMs,
    maxOverhead: o.maxOverhead,
    maxGroupTimeMs: o.maxGroupTimeMs,
    maxBufferBytes: o.maxBufferBytes,
    checkpointDir: o.checkpointDir,
    resume: o.resume,
    stdin: fdReader(0),
    stdout: status && process.stdout.isTTY ? writeAround(process.stdout, status) : process.stdout,
    observer: fanOut(stats, metrics, {
      batch: () => {
        // A stop asked for while executors were starting can be lost (the driver has no
        // input reader yet); asking again once batches flow makes it stick.
        if (stopAsked) driver.stop();
        // The first batch is drawn at once: it shows the run is flowing, with its executors.
        status?.update(stats.batches === 1);
      },
      group: () => status?.update(),
      event: (message) => log.info(message),
    }),
  });
  let stopAsked = false;
  const stopSignals = onStopSignals((sig, count) => {
    if (count > 1) {
      // Executors see their stdin close and exit on their own.
      status?.stop();
      process.exit(EXIT.aborted);
    }
    if (!o.quiet) term.line(`drizzle: ${sig}: finishing the current batches (again to abort)`);
    stopAsked = true;
    driver.stop();
  });
  // A closed stdout (`| head`) is reported by the sink; never let it crash the process.
  process.stdout.on("error", () => {});
  status?.start();
  let summary: RunSummary;
  try {
    summary = await driver.run();
  } catch (e) {
    if (!(e instanceof RunError)) throw e;
    status?.stop();
    term.error(e.message);
    metrics?.error(e.message, EXIT.failure);
    metrics?.close();
    return EXIT.failure;
  } finally {
    status?.stop();
    stopSignals();
  }
  const code = summary.rejectedTotal > 0 ? EXIT.rejected : EXIT.ok;
  metrics?.summary(summary, stats, o, code);
  metrics?.close();
  for (const line of rejectedText(summary, term)) term.line(line);
  if (!o.quiet && (term.isTTY || o.progress === true)) term.line(summaryText(summary, stats, o, term));
  return code;
}

/** One observer that reports to several. */
function fanOut(...observers: (DriverObserver | null)[]): DriverObserver {
  const all = observers.filter((x): x is DriverObserver => x !== null);
  return {
    batch: (m) => all.forEach((x) => x.batch?.(m)),
    group: (m) => all.forEach((x) => x.group?.(m)),
    event: (m) => all.forEach((x) => x.event?.(m)),
  };
}

/** Calls `handler` on each SIGINT/SIGTERM with how many have arrived; returns the un-install. */
function onStopSignals(handler: (sig: NodeJS.Signals, count: number) => void): () => void {
  let count = 0;
  const on = (sig: NodeJS.Signals) => handler(sig, ++count);
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return () => {
    process.off("SIGINT", on);
    process.off("SIGTERM", on);
  };
}

/**
 * The executors prestarted for this run, if they were started with its footprint (the entry
 * reads `--footprint` before they start); otherwise none: they are ended and the launcher
 * starts its own.
 */
function prestartedFor(footprint: Footprint) {
  const started = takePrestarted();
  if (footprintOf() === footprint) return started;
  for (const c of started) c.stdin?.end();
  return [];
}
