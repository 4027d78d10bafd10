import type { RunSummary } from "../engine/driver/mod.ts";
import type { RunStats } from "./stats.ts";
import type { Terminal } from "./terminal.ts";

/** What the run was asked to do, for the texts below. */
export interface RunShape {
  mode: "drizzle" | "bsp";
  workers: number;
}

/** 1234 -> "1234", 12345 -> "12.3k", 123456 -> "123k", 1234567 -> "1.23M". */
export function compact(n: number): string {
  if (n < 10_000) return String(Math.round(n));
  if (n < 100_000) return `${(n / 1000).toFixed(1)}k`;
  if (n < 1_000_000) return `${Math.round(n / 1000)}k`;
  return `${(n / 1_000_000).toFixed(2)}M`;
}

/** 0.42 -> "0.42ms", 4.25 -> "4.3ms", 16.4 -> "16ms", 1234 -> "1.23s". */
export function millis(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)}ms`;
  if (ms < 10) return `${ms.toFixed(1)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}

/**
 * The live status line, short enough for 80 columns:
 * `batches 61 | group 10 | in 332k/s | out 9/s | p50 16ms p99 22ms | executors 2/2`
 * (records per second in and out over the last seconds; batch latency, cut to commit).
 */
export function progressText(stats: RunStats, executors: { alive: number; wanted: number }): string {
  const r = stats.rates();
  const some = stats.batches > 0;
  return [
    `batches ${stats.batches}`,
    `group ${some ? stats.groupSize : "-"}`,
    `in ${compact(r.in)}/s`,
    `out ${compact(r.out)}/s`,
    some ? `p50 ${millis(stats.latencyMs(50))} p99 ${millis(stats.latencyMs(99))}` : "p50 - p99 -",
    `executors ${executors.alive}/${executors.wanted}`,
  ].join(" | ");
}

/** The summary at the end of a run, one line. */
export function summaryText(s: RunSummary, stats: RunStats, shape: RunShape, term: Terminal): string {
  const st = term.style;
  const secs = s.elapsedMs / 1000;
  const rounds = s.groups ? `${s.groups} group${s.groups === 1 ? "" : "s"}` : "stage rounds";
  const how = s.interrupted ? st.yellow("stopped") : s.outputClosed ? "output closed" : st.green("done");
  return `drizzle: ${how}: ${s.recordsIn} records in, ${s.recordsOut} out, ${s.batches} batches in ${rounds}, ` +
    `${secs.toFixed(2)}s (${compact(s.recordsIn / Math.max(secs, 1e-3))} records/s), ` +
    `batch latency p50 ${millis(stats.latencyMs(50))} p99 ${millis(stats.latencyMs(99))} ` +
    `max ${millis(stats.maxLatencyMs)}, mode ${shape.mode}, ${shape.workers} workers` + fateText(s);
}

/** What happened to the run besides its work: recoveries, a resume. */
function fateText(s: RunSummary): string {
  let text = "";
  const recoveries = s.recoveries?.length ?? 0;
  if (recoveries > 0) text += `, ${recoveries} executor loss${recoveries === 1 ? "" : "es"} recovered`;
  if (s.resumed) text += `, resumed from the checkpoint at batch ${s.resumed.checkpoint}`;
  return text;
}

/** Rejected records per step with the first example; the reason for exit code 3. */
export function rejectedText(s: RunSummary, term: Terminal): string[] {
  if (s.rejectedTotal === 0) return [];
  const lines = [`drizzle: ${term.style.yellow(`${s.rejectedTotal} record(s) rejected`)}:`];
  for (const [step, r] of Object.entries(s.rejected)) lines.push(`  ${step}: ${r.count} (first: ${r.sample})`);
  return lines;
}
