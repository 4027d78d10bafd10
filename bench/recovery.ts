/**
 * Figure 4, recovery: per-batch latency over time around an executor killed with SIGKILL a few
 * seconds into a paced word count, for drizzle with partial recovery (only the lost tasks
 * re-run, on the survivors), drizzle with global rollback, and bsp (always global). Same input
 * for every run; each run's output must equal a fault-free run's.
 * @module
 */
import { readFileSync } from "node:fs";
import { InProcessLauncher, LocalLauncher, runPipeline, type RunSummary } from "../mod.ts";
import { textChunks } from "./gen_text.ts";
import { linesOf, pacedStream } from "./paced.ts";
import { renderFigure } from "./plot.ts";
import { BUN, ROOT } from "./proc.ts";
import { type BenchOptions, type Machine, machine, machineLine, note, table, writeResult } from "./report.ts";
import { fmt, fmtSpread, spread } from "./stats.ts";

const WORKERS = 3;
const PARTITIONS = 6;
const INTERVAL_MS = 100;
const VICTIM = 1;
const LINES_PER_SEC = 4000;

type Config = { label: string; mode: "drizzle" | "bsp"; recovery: "partial" | "global" };
const CONFIGS: Config[] = [
  { label: "drizzle partial", mode: "drizzle", recovery: "partial" },
  { label: "drizzle global", mode: "drizzle", recovery: "global" },
  { label: "bsp", mode: "bsp", recovery: "global" },
];

interface Point {
  /** ms of the commit relative to the kill */
  t: number;
  latencyMs: number;
  recovered: boolean;
}

export interface RecoveryRun {
  config: string;
  rep: number;
  ok: boolean;
  error?: string;
  sameOutput: boolean;
  killAt: number;
  /** recoveries[0].firstCommitAt - kill time */
  killToFirstCommitMs: number;
  /** when the loss was detected, after the kill */
  detectMs: number;
  /** The highest latency of the batches committed from the kill until back to normal (see settle). */
  maxLatencyAfterKillMs: number;
  /** Median latency of batches committed before the kill. */
  p50BeforeMs: number;
  /** When latency was back to normal, relative to the kill (see settle). */
  backToNormalMs: number;
  replayedBatches: number;
  recoveries: number;
  batches: number;
  points: Point[];
}

function sorted(out: string): string {
  return out.split("\n").filter(Boolean).sort().join("\n");
}

async function once(c: Config, lines: Uint8Array[], killAfterMs: number, rep: number, reference: string) {
  const yaml = readFileSync(`${ROOT}pipelines/wordcount.yaml`, "utf8");
  const launcher = new LocalLauncher([BUN, `${ROOT}bench/executor_entry.ts`]);
  const { stream } = pacedStream(lines, LINES_PER_SEC);
  const commits: Array<{ at: number; latencyMs: number; recovered: boolean }> = [];
  let killAt = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let output = "";
  let summary: RunSummary | null = null;
  let error: string | undefined;
  // A stuck run (not a slow one: the input is paced) is ended by killing its executors.
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    for (const id of launcher.children.keys()) void launcher.kill(id);
  }, 60_000 + 5 * lines.length / LINES_PER_SEC * 1000);
  try {
    ({ output, summary } = await runPipeline(yaml, {
      input: stream,
      workers: WORKERS,
      partitions: PARTITIONS,
      mode: c.mode,
      recovery: c.recovery,
      groupSize: 10,
      intervalMs: INTERVAL_MS,
      launcher,
      observer: {
        batch: (m) => {
          if (commits.length === 0) {
            // The kill is timed from the first commit: start-up is over, the stream is steady.
            timer = setTimeout(() => {
              const pid = launcher.pid(VICTIM);
              killAt = Date.now();
              if (pid) process.kill(pid, "SIGKILL");
            }, killAfterMs);
          }
          commits.push({ at: m.committedAt, latencyMs: m.latencyMs, recovered: m.recovered });
        },
      },
    }));
  } catch (e) {
    error = `${timedOut ? "timed out (stuck): " : ""}${(e as Error).message}`;
  }
  clearTimeout(deadline);
  if (timer) clearTimeout(timer);
  const points = commits.map((x) => ({ t: x.at - killAt, latencyMs: x.latencyMs, recovered: x.recovered }));
  const st = settle(points);
  const rec = summary?.recoveries[0];
  const run: RecoveryRun = {
    config: c.label,
    rep,
    ok: !error && killAt > 0,
    error: error ?? (killAt === 0 ? "the run ended before the kill" : undefined),
    sameOutput: !error && sorted(output) === reference,
    killAt,
    killToFirstCommitMs: rec?.firstCommitAt ? rec.firstCommitAt - killAt : NaN,
    detectMs: rec ? rec.detectedAt - killAt : NaN,
    maxLatencyAfterKillMs: st.maxDuringMs,
    p50BeforeMs: st.p50Before,
    backToNormalMs: st.backToNormalMs,
    replayedBatches: rec?.replayedBatches ?? 0,
    recoveries: summary?.recoveries.length ?? 0,
    batches: summary?.batches ?? commits.length,
    points,
  };
  return run;
}

export async function recovery(o: BenchOptions): Promise<void> {
  const m = machine();
  const reps = o.quick ? 3 : 5;
  const seconds = o.quick ? 2.5 : 12;
  const killAfterMs = o.quick ? 800 : 4000;
  const text = Buffer.concat([...textChunks(Math.round(seconds * LINES_PER_SEC * 80), 7)]);
  const lines = linesOf(text).slice(0, Math.round(seconds * LINES_PER_SEC));
  const yaml = readFileSync(`${ROOT}pipelines/wordcount.yaml`, "utf8");
  // The fault-free reference: the same input, unpaced, in-process executors (emit: final, so
  // the output does not depend on how the input was cut into batches).
  const ref = await runPipeline(yaml, {
    input: Buffer.concat(lines),
    workers: WORKERS,
    partitions: PARTITIONS,
    launcher: new InProcessLauncher(),
  });
  const reference = sorted(ref.output);
  const runs: RecoveryRun[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const c of CONFIGS) {
      const r = await once(c, lines, killAfterMs, rep, reference);
      runs.push(r);
      note(
        `recovery rep ${rep + 1}/${reps} ${c.label}: ${
          r.ok
            ? `kill→first commit ${fmt(r.killToFirstCommitMs)} ms, max latency ${fmt(r.maxLatencyAfterKillMs)} ms, ` +
              `output ${r.sameOutput ? "identical" : "DIFFERS"}`
            : `FAILED: ${r.error}`
        }`,
      );
    }
  }
  await renderRecovery({
    machine: m,
    quick: o.quick,
    workers: WORKERS,
    partitions: PARTITIONS,
    intervalMs: INTERVAL_MS,
    linesPerSec: LINES_PER_SEC,
    seconds,
    killAfterMs,
    reps,
    runs,
  }, o.outDir);
}

/** Consecutive batches at normal latency that end a recovery. */
const SETTLED = 5;

/**
 * The recovery as the stream saw it, from the per-batch points (t = commit time − kill time):
 * normal latency is below max(2x, +50 ms) the median before the kill; the recovery is over at
 * the first commit after the kill that starts SETTLED normal batches in a row; its highest
 * latency is the highest of the batches committed from the kill to then. The last batch (the
 * end-of-input one, which writes every count) is left out.
 */
export function settle(points: Point[]): { p50Before: number; backToNormalMs: number; maxDuringMs: number } {
  const body = points.slice(0, -1);
  const before = body.filter((p) => p.t < 0).map((p) => p.latencyMs);
  const after = body.filter((p) => p.t >= 0);
  const p50Before = spread(before).median;
  const normal = Math.max(2 * p50Before, p50Before + 50);
  let i = 0;
  while (i < after.length && !after.slice(i, i + SETTLED).every((p) => p.latencyMs <= normal)) i++;
  const end = Math.min(i, after.length - 1);
  return {
    p50Before,
    backToNormalMs: after.length ? after[end].t : NaN,
    maxDuringMs: Math.max(...after.slice(0, end + 1).map((p) => p.latencyMs)),
  };
}

export interface RecoveryResult {
  machine: Machine;
  quick: boolean;
  workers: number;
  partitions: number;
  intervalMs: number;
  linesPerSec: number;
  seconds?: number;
  killAfterMs?: number;
  reps: number;
  runs: RecoveryRun[];
}

/** Writes recovery.{json,md,svg} from the measurements (also from a saved recovery.json). */
export async function renderRecovery(data: RecoveryResult, outDir: string): Promise<void> {
  const { machine: m, reps, runs } = data;
  const o = { quick: data.quick };
  const seconds = data.seconds ?? (data.quick ? 2.5 : 12);
  const killAfterMs = data.killAfterMs ?? (data.quick ? 800 : 4000);
  // Derived from the points here, so a saved result is summarised the same way.
  for (const r of runs) {
    if (!r.ok) continue;
    const st = settle(r.points);
    r.p50BeforeMs = st.p50Before;
    r.backToNormalMs = st.backToNormalMs;
    r.maxLatencyAfterKillMs = st.maxDuringMs;
  }
  const cell = (label: string) => runs.filter((r) => r.config === label && r.ok);
  const rows = CONFIGS.map((c) => {
    const rs = cell(c.label);
    const s = (k: keyof RecoveryRun) => spread(rs.map((r) => r[k] as number));
    return [
      c.label,
      fmtSpread(s("detectMs"), "ms"),
      fmtSpread(s("killToFirstCommitMs"), "ms"),
      fmtSpread(s("maxLatencyAfterKillMs"), "ms"),
      fmtSpread(s("p50BeforeMs"), "ms"),
      fmtSpread(s("backToNormalMs"), "ms"),
      fmt(s("replayedBatches").median),
      `${rs.filter((r) => r.sameOutput).length}/${runs.filter((r) => r.config === c.label).length}`,
    ];
  });
  const partial = spread(cell("drizzle partial").map((r) => r.maxLatencyAfterKillMs)).median;
  const global = spread(cell("drizzle global").map((r) => r.maxLatencyAfterKillMs)).median;
  const bsp = spread(cell("bsp").map((r) => r.maxLatencyAfterKillMs)).median;
  const failures = runs.filter((r) => !r.ok || !r.sameOutput);
  const md = [
    `# Recovery from a killed executor (${o.quick ? "quick" : "full"})`,
    "",
    `Machine: ${machineLine(m)}.`,
    "",
    `pipelines/wordcount.yaml on ${data.workers} local executor processes, ${data.partitions} partitions, interval ` +
    `${data.intervalMs} ms, group size 10 (bsp: checkpoint every 10 batches), input paced at ${data.linesPerSec} lines/s ` +
    `(~${fmt(data.linesPerSec * 10)} words/s) for ${seconds} s. Executor ${VICTIM} is killed with SIGKILL ` +
    `${killAfterMs / 1000} s after the first commit. ${reps} repetitions; median (min–max). ` +
    `"kill → first commit" is \`summary.recoveries[0].firstCommitAt − kill time\` (any batch). Latency is normal ` +
    `below max(2x, +50 ms) the median before the kill; "back to normal" is the commit, after the kill, that starts ` +
    `${SETTLED} normal batches in a row, and "max during recovery" the highest latency of the batches committed ` +
    `from the kill to then (the end-of-input batch, which writes every count, is left out).`,
    "",
    table([
      "mode",
      ">kill → detected",
      ">kill → first commit",
      ">max batch latency during recovery",
      ">median latency before",
      ">back to normal",
      ">batches replayed",
      "output = fault-free",
    ], rows),
    "",
    `Max latency during recovery, medians: drizzle global / drizzle partial = ${fmt(global / partial)}x, ` +
    `bsp / drizzle partial = ${fmt(bsp / partial)}x (above 1: partial recovery disturbed the stream less).`,
    "",
    failures.length
      ? `## Failed or wrong runs\n\n${
        failures.map((f) => `- ${f.config} rep ${f.rep}: ${f.error ?? "output differs from the fault-free run"}`).join(
          "\n",
        )
      }\n`
      : "Every run's output is identical (sorted) to the fault-free run's.\n",
    "![latency over time](recovery.svg)",
  ].join("\n");
  const values = runs.filter((r) => r.ok).flatMap((r) =>
    r.points.map((p) => ({ t: p.t / 1000, latency: p.latencyMs, config: r.config, rep: r.rep }))
  );
  await renderFigure({
    title: `Batch latency around a SIGKILLed executor (kill at t=0, dashed; ${reps} runs per mode)`,
    data: { values },
    facet: { row: { field: "config", type: "nominal", title: null, sort: CONFIGS.map((c) => c.label) } },
    resolve: { scale: { y: "shared" } },
    spec: {
      width: 560,
      height: 130,
      layer: [
        {
          mark: { type: "line", strokeWidth: 1, opacity: 0.8, point: { size: 8 } },
          encoding: {
            x: { field: "t", type: "quantitative", title: "seconds since the kill (commit time)" },
            y: { field: "latency", type: "quantitative", scale: { type: "log" }, title: "batch latency (ms)" },
            color: { field: "rep", type: "nominal", title: "repetition" },
          },
        },
        { mark: { type: "rule", color: "red", strokeDash: [4, 3] }, encoding: { x: { datum: 0 } } },
      ],
    },
  }, `${outDir}/recovery`);
  writeResult(outDir, "recovery", data, md);
}
