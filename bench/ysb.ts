/**
 * Figure 3, the Yahoo Streaming Benchmark: ad events (JSON lines from `drizzle generate ysb`)
 * fed in real time, at a fixed rate, into `drizzle run pipelines/ysb.yaml` (parse, filter
 * views, join ad -> campaign, count per campaign in tumbling event-time windows). Measures
 * (a) the highest rate at which window latency stays bounded and (b) the window latency CDF at
 * 100 ms and 10 ms batch intervals, drizzle vs bsp. Window latency = when a window's count
 * line reached us minus the wall time its window ended (with the window's lateness allowance,
 * `maxDelay`, set to 0 for these in-order events: see `benchPipelines`). Beside it, YSB's own
 * measure: window end to the final update of its count, i.e. the commit of the batch that
 * processed the window's last event; and per event, from when it was written to the commit of
 * the batch that processed it (both from the run's metrics).
 * The rate search also runs with the `generate` source (executors make the events), which
 * measures the pipeline without the driver's stdin path. When the generator, the pipeline or
 * the command is missing or does not run, the result says "not available: <reason>" instead
 * of failing.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { shellQuote } from "../engine/launch/ship.ts";
import { DRIZZLE, killTree, ROOT, run } from "./proc.ts";
import { type BenchOptions, machine, note } from "./report.ts";
import { fmt, percentiles } from "./stats.ts";
import { BENCH_TMP } from "./text_file.ts";
import { eventLatencies, renderYsb, type Source, verdict, type YsbRun } from "./ysb_report.ts";

/** Event time of event 0 (a multiple of every window length, so windows start with the data). */
const START = 1_700_000_000_000;
const WORKERS = 2;

interface Setup {
  yaml: string;
  /** The same pipeline with the generate source in place of stdin (events and rate filled in per run). */
  generatedYaml: string;
  campaigns: string;
  windowMs: number;
}

/** The generator's source, in short: a cached events file made by another generator is not reused. */
const GENERATOR = createHash("sha256").update(readFileSync(new URL("../engine/io/ysb.ts", import.meta.url))).digest(
  "hex",
).slice(0, 8);

/** Generates (once; cached) `events` events at `rate` per second of event time. */
export async function eventsFile(events: number, rate: number): Promise<string> {
  const path = `${BENCH_TMP}/ysb-${GENERATOR}-${events}-${rate}.jsonl`;
  if (existsSync(path) && statSync(path).size > 0) return path;
  const f = await run(DRIZZLE, [
    "generate",
    "ysb",
    "--events",
    String(events),
    "--rate",
    String(rate),
    "--start-time",
    String(START),
  ], {
    stdoutFile: `${path}.tmp`,
  });
  if (f.code !== 0) throw new Error(`drizzle generate ysb failed (exit ${f.code}): ${f.stderr.trim().split("\n")[0]}`);
  renameSync(`${path}.tmp`, path);
  return path;
}

/** Writes the ad -> campaign table the events refer to (`YSB_CAMPAIGNS`); returns its path. */
export async function campaignsFile(): Promise<string> {
  const campaigns = `${BENCH_TMP}/ysb-campaigns.csv`;
  const g = await run(DRIZZLE, ["generate", "ysb", "--events", "1", "--campaigns", campaigns]);
  if (g.code !== 0) {
    throw new Error(`'drizzle generate ysb' failed (exit ${g.code}): ${g.stderr.trim().split("\n").slice(-1)[0]}`);
  }
  return campaigns;
}

/**
 * The benchmark's versions of pipelines/ysb.yaml (its text), or what is missing from it: the
 * window resized to `windowMs` (the pipeline's is 10 s) so a short run holds several windows,
 * with no lateness allowance, reading stdin; and the same with the `generate` source (EVENTS
 * and RATE are filled in per run). `maxDelay: 100ms` is there for `--with-skew` input, up to
 * 100 ms out of order; this benchmark writes its events in time order, so none is ever late
 * (the counts are checked against the events). A window's row waits for the watermark, so any
 * `maxDelay` would add to the row latency one for one (not to the final update).
 */
export function benchPipelines(
  text: string,
  windowMs: number,
  startTime: number,
): { stdin: string; generated: string } | string {
  const window = /tumbling:\s*10s/;
  if (!window.test(text)) return "pipelines/ysb.yaml has no 'tumbling: 10s' window to resize";
  const delay = /maxDelay:\s*100ms/;
  if (!delay.test(text)) return "pipelines/ysb.yaml has no 'maxDelay: 100ms' to set to 0";
  const stdinSource = /source:\s*\{\s*stdin:\s*\{\s*format:\s*lines\s*\}\s*\}/;
  if (!stdinSource.test(text)) {
    return "pipelines/ysb.yaml has no 'source: { stdin: { format: lines } }' to replace";
  }
  const stdin = text.replace(window, `tumbling: ${windowMs}ms`).replace(delay, "maxDelay: 0ms");
  const generated = stdin.replace(
    stdinSource,
    `source: { generate: { ysb: { events: EVENTS, rate: RATE, startTime: ${startTime} } } }`,
  );
  return { stdin, generated };
}

/** Checks that everything YSB needs is there and runs; returns the setup, or why not. */
async function prepare(windowMs: number): Promise<Setup | string> {
  const pipeline = `${ROOT}pipelines/ysb.yaml`;
  if (!existsSync(pipeline)) return "pipelines/ysb.yaml does not exist yet";
  let campaigns: string;
  try {
    campaigns = await campaignsFile();
  } catch (e) {
    return (e as Error).message;
  }
  const texts = benchPipelines(readFileSync(pipeline, "utf8"), windowMs, START);
  if (typeof texts === "string") return texts;
  const yaml = `${BENCH_TMP}/ysb-${windowMs}ms.yaml`;
  writeFileSync(yaml, texts.stdin);
  const generatedYaml = texts.generated;
  const events = await eventsFile(3000, 10_000);
  const out = `${BENCH_TMP}/ysb-smoke.out`;
  const r = await run(DRIZZLE, ["run", yaml, "--workers", "2", "--quiet"], {
    stdinFile: events,
    stdoutFile: out,
    env: { YSB_CAMPAIGNS: campaigns },
    timeoutMs: 60_000,
  });
  if (r.code !== 0) {
    return `'drizzle run pipelines/ysb.yaml' failed (exit ${r.code}): ${r.stderr.trim().split("\n").slice(-1)[0]}`;
  }
  const rows = readFileSync(out, "utf8").trim().split("\n").filter(Boolean);
  if (rows.length === 0 || rows[0].split("\t").length !== 3) {
    return `unexpected output from pipelines/ysb.yaml: '${rows[0] ?? ""}'`;
  }
  return { yaml, generatedYaml, campaigns, windowMs };
}

/** Views per "campaign\twindow_start" of complete windows, from the events (the reference). */
function referenceCounts(events: Buffer, campaigns: string, windowMs: number, lastEnd: number): Map<string, number> {
  const adToCampaign = new Map<string, string>();
  for (const line of readFileSync(campaigns, "utf8").trim().split("\n").slice(1)) {
    const [ad, c] = line.split(",");
    adToCampaign.set(ad, c);
  }
  const counts = new Map<string, number>();
  for (const line of events.toString("utf8").split("\n")) {
    if (!line) continue;
    const e = JSON.parse(line) as { ad_id: string; event_type: string; event_time: string };
    if (e.event_type !== "view") continue;
    const c = adToCampaign.get(e.ad_id);
    if (!c) continue;
    const ws = Math.floor(Number(e.event_time) / windowMs) * windowMs;
    if (ws + windowMs > lastEnd) continue;
    const k = `${c}\t${ws}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

interface BatchMetric {
  batch: number;
  recordsIn: number;
  latencyMs: number;
  committedAt: number;
}

/** The committed batches of a run's metrics file, in batch order. */
function batchMetrics(path: string): BatchMetric[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter((l) => l.includes('"batch"'))
    .map((l) => JSON.parse(l) as BatchMetric & { type: string })
    .filter((m) => m.type === "batch")
    .sort((a, b) => a.batch - b.batch);
}

/**
 * YSB's latency of the window ending at event time `end`: from its end (wall time) to the commit
 * of the batch holding its last event, found by counting records through the batches (events
 * are in time order, event i at START + floor(i * 1000 / rate)).
 */
function finalUpdateLatency(batches: BatchMetric[], end: number, rate: number, t0: number): number | undefined {
  const last = Math.ceil(((end - START) * rate) / 1000) - 1;
  let through = 0;
  for (const b of batches) {
    through += b.recordsIn;
    if (through > last) return b.committedAt - (t0 + end - START);
  }
  return undefined;
}

/** `drizzle run` of a pipeline file with the benchmark's flags. */
function drizzleArgs(yaml: string, mode: string, intervalMs: number, metrics: string): string[] {
  return [
    DRIZZLE,
    "run",
    yaml,
    "--workers",
    String(WORKERS),
    "--mode",
    mode,
    "--interval",
    `${intervalMs}ms`,
    "--quiet",
    "--metrics",
    metrics,
  ];
}

/**
 * Starts drizzle; with an events file, fed by bench/feeder.ts through a pipe (`feeder | drizzle`),
 * which writes event i at t0 + i / rate once drizzle committed its first (empty) batch and
 * reports t0 and its backlog to `report`.
 */
function startDrizzle(
  yaml: string,
  s: Setup,
  mode: string,
  intervalMs: number,
  metrics: string,
  feed?: { file: string; events: number; rate: number; report: string },
): ChildProcess {
  const env = { ...process.env, YSB_CAMPAIGNS: s.campaigns };
  const args = drizzleArgs(yaml, mode, intervalMs, metrics);
  if (!feed) return spawn(args[0], args.slice(1), { stdio: ["ignore", "pipe", "pipe"], env });
  const feeder = [
    process.execPath,
    `${ROOT}bench/feeder.ts`,
    feed.file,
    String(feed.events),
    String(feed.rate),
    metrics,
    feed.report,
  ];
  const script = `${feeder.map(shellQuote).join(" ")} | exec ${args.map(shellQuote).join(" ")}`;
  return spawn("/bin/sh", ["-c", script], { stdio: ["ignore", "pipe", "pipe"], env });
}

/** What the feeder reported, or null when it wrote nothing (it failed, or was killed). */
function fedReport(report: string): { t0: number; backlogBytes: number } | null {
  try {
    return JSON.parse(readFileSync(report, "utf8"));
  } catch {
    return null;
  }
}

/**
 * One real-time run. stdin: waits until drizzle commits its first (empty) batch, then writes
 * event i at t0 + i / rate. generate: the driver cuts event i into the batch due after
 * t0 + i / rate itself (t0 read back from its first batch). Result lines are read as they come.
 */
async function once(
  s: Setup,
  source: Source,
  mode: "drizzle" | "bsp",
  intervalMs: number,
  rate: number,
  seconds: number,
  rep: number,
  check: boolean,
): Promise<YsbRun> {
  const events = Math.round(rate * seconds);
  const metrics = `${BENCH_TMP}/ysb.metrics.jsonl`;
  rmSync(metrics, { force: true });
  let yaml = s.yaml;
  if (source === "generate") {
    yaml = `${BENCH_TMP}/ysb-generated.yaml`;
    writeFileSync(yaml, s.generatedYaml.replace("EVENTS", String(events)).replace("RATE", String(rate)));
  }
  const file = source === "stdin" ? await eventsFile(events, rate) : undefined;
  const report = `${BENCH_TMP}/ysb.feeder.json`;
  rmSync(report, { force: true });
  const child = startDrizzle(yaml, s, mode, intervalMs, metrics, file ? { file, events, rate, report } : undefined);
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const rows: Array<{ at: number; line: string }> = [];
  let carry = "";
  child.stdout!.on("data", (c: Buffer) => {
    const at = Date.now();
    const parts = (carry + c.toString("utf8")).split("\n");
    carry = parts.pop()!;
    for (const line of parts) if (line) rows.push({ at, line });
  });
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  // The input is paced: a run still going long after it is a stuck one (the feeder's reading of
  // the events file, gigabytes at a high rate, is in the first minute).
  const deadline = setTimeout(() => child.pid && killTree(child.pid), 60_000 + 3 * seconds * 1000);
  const code = await exited;
  clearTimeout(deadline);
  const fileBytes = file ? statSync(file).size : 0;
  const reported = file ? fedReport(report) : { t0: 0, backlogBytes: 0 };
  // Without the feeder's t0 nothing can be timed: the run counts as failed, everything as backlog.
  const fed = reported ?? { t0: 0, backlogBytes: fileBytes };
  if (!reported) rows.length = 0;
  const batches = reported ? batchMetrics(metrics) : [];
  if (source === "generate" && batches.length) {
    // Batch 0 holds the events due by its cut: event 0 was due that many events' time before.
    const b0 = batches[0];
    fed.t0 = b0.committedAt - b0.latencyMs - (b0.recordsIn * 1000) / rate;
  }
  const t0 = fed.t0;
  const lastEnd = START + Math.floor(((events - 1) * 1000) / rate);
  const measured = new Map<number, number[]>();
  const got = new Map<string, number>();
  for (const r of rows) {
    const [campaign, ws, count] = r.line.split("\t");
    const start = Number(ws);
    if (start + s.windowMs > lastEnd) continue; // flushed at end of input, not closed by time
    got.set(`${campaign}\t${start}`, Number(count));
    if (start < START + s.windowMs) continue; // warm-up window
    const latency = r.at - (t0 + (start + s.windowMs - START));
    const l = measured.get(start) ?? [];
    l.push(latency);
    measured.set(start, l);
  }
  const latencies = [...measured.values()].flat();
  const windowP99s = [...measured.values()].map((l) => percentiles(l).p99);
  const finalUpdates = [...measured.keys()].map((start) => finalUpdateLatency(batches, start + s.windowMs, rate, t0))
    .filter((l): l is number => l !== undefined);
  // The events of the measured windows: from the first after the warm-up window to the last closed one.
  const eventLatency = eventLatencies(
    batches,
    rate,
    t0,
    Math.ceil((s.windowMs * rate) / 1000),
    Math.ceil(((Math.floor((lastEnd - START) / s.windowMs) * s.windowMs) * rate) / 1000),
  );
  let countsMatch: boolean | null = null;
  if (check && file) {
    const ref = referenceCounts(readFileSync(file), s.campaigns, s.windowMs, lastEnd);
    countsMatch = ref.size === got.size && [...ref].every(([k, v]) => got.get(k) === v);
  }
  const p99 = percentiles(latencies).p99;
  const eventBytes = fileBytes / events;
  const lastCommit = batches.length ? batches[batches.length - 1].committedAt : Infinity;
  const lagMs = source === "generate" ? lastCommit - (t0 + ((events - 1) * 1000) / rate) : undefined;
  return {
    mode,
    source,
    intervalMs,
    rate,
    rep,
    exit: code,
    latencies,
    windowP99s,
    finalUpdates,
    eventLatency,
    backlogBytes: fed.backlogBytes,
    lagMs,
    // Bounded: results before the next window closes, and the input kept up (< 0.5 s behind).
    bounded: code === 0 && latencies.length > 0 && p99 <= s.windowMs &&
      fed.backlogBytes <= 0.5 * rate * eventBytes && (lagMs === undefined || lagMs < 500),
    countsMatch,
    error: !reported
      ? `the feeder reported nothing: ${stderr.trim().split("\n").slice(-1)[0] ?? ""}`
      : code === 0
      ? undefined
      : stderr.trim().split("\n").slice(-1)[0],
  };
}

export async function ysb(o: BenchOptions): Promise<void> {
  const m = machine();
  const windowMs = o.quick ? 1000 : 2000;
  const s = await prepare(windowMs);
  if (typeof s === "string") {
    note(`ysb: not available: ${s}`);
    const none = { machine: m, quick: o.quick, available: false, reason: s, windowMs, workers: WORKERS };
    await renderYsb({ ...none, sustained: {}, cdfRate: 0, search: [], cdf: [] }, o.outDir);
    return;
  }
  // (a) The highest sustained rate: rates go up until latency is no longer bounded, with events
  // fed on stdin (the whole path) and made by the executors (the pipeline without the driver's input).
  const rates = o.quick
    ? [50_000, 200_000]
    : [100_000, 200_000, 400_000, 600_000, 800_000, 1_000_000, 1_200_000, 1_600_000];
  const generatedRates = o.quick ? [200_000, 800_000] : [200_000, 400_000, 800_000, 1_000_000, 1_200_000, 1_600_000];
  const searchSeconds = o.quick ? 2.2 : 4 * windowMs / 1000 + 0.5;
  const modes = o.quick ? (["drizzle"] as const) : (["drizzle", "bsp"] as const);
  const search: YsbRun[] = [];
  const sustained: Record<string, number> = {};
  const sustainedGenerated: Record<string, number> = {};
  for (
    const [source, tried, best] of [["stdin", rates, sustained], [
      "generate",
      generatedRates,
      sustainedGenerated,
    ]] as const
  ) {
    for (const mode of modes) {
      best[mode] = 0;
      for (const rate of tried) {
        // Single runs near the limit go either way on a noisy machine: a rate is run until two
        // runs agree (quick: once).
        const runs: YsbRun[] = [];
        while (runs.length < (o.quick ? 1 : 3) && verdict(runs) === undefined) {
          const r = await once(s, source, mode, 100, rate, searchSeconds, runs.length, false);
          runs.push(r);
          search.push(r);
          note(
            `ysb search ${source} ${mode} ${fmt(rate)} events/s run ${runs.length}: p99 ${
              fmt(percentiles(r.latencies).p99)
            } ms, ${source === "stdin" ? `backlog ${fmt(r.backlogBytes)}B` : `lag ${fmt(r.lagMs ?? NaN)} ms`}, ${
              r.bounded ? "bounded" : "NOT bounded"
            }`,
          );
          if (o.quick) break;
        }
        if (!(o.quick ? runs[0].bounded : verdict(runs))) break;
        best[mode] = rate;
      }
    }
  }
  // (b) Latency CDFs at a quarter of the lowest sustained rate: headroom for a noisy machine.
  const ok = Object.values(sustained).filter((x) => x > 0);
  const cdfRate = Math.max(10_000, (ok.length ? Math.min(...ok) : rates[0]) / 4);
  const reps = o.quick ? 1 : 5;
  const cdfSeconds = o.quick ? 3.2 : 5 * windowMs / 1000 + 0.5;
  const cdf: YsbRun[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const intervalMs of [100, 10]) {
      for (const mode of ["drizzle", "bsp"] as const) {
        const r = await once(s, "stdin", mode, intervalMs, cdfRate, cdfSeconds, rep, true);
        cdf.push(r);
        const p = percentiles(r.latencies);
        note(
          `ysb cdf rep ${rep + 1}/${reps} ${mode} ${intervalMs}ms: p50 ${fmt(p.p50)} ms p99 ${fmt(p.p99)} ms, ` +
            `final update p99 ${fmt(percentiles(r.finalUpdates ?? []).p99)} ms, counts ${
              r.countsMatch ? "match" : "DIFFER"
            }${r.error ? `, error ${r.error}` : ""}`,
        );
      }
    }
  }
  await renderYsb({
    machine: m,
    quick: o.quick,
    available: true,
    windowMs,
    maxDelayMs: 0,
    workers: WORKERS,
    eventBytes: statSync(await eventsFile(3000, 10_000)).size / 3000,
    searchSeconds,
    reps,
    sustained,
    sustainedGenerated,
    cdfRate,
    search,
    cdf,
  }, o.outDir);
}
