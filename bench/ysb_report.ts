/**
 * What the YSB benchmark measured and how it is reported: the result types, the rate-search
 * rule, and ysb.{json,md,svg} written from a result (bench/ysb.ts runs the measurements).
 * @module
 */
import { renderFigure, type VegaLiteSpec } from "./plot.ts";
import { type Machine, machineLine, table, target, writeResult } from "./report.ts";
import { fmt, fmtSpread, percentiles, spread } from "./stats.ts";

/** Where events came from: fed on stdin, or made by the executors. */
export type Source = "stdin" | "generate";

export interface YsbRun {
  mode: "drizzle" | "bsp";
  /** Where events came from: fed on stdin, or made by the executors (older results: stdin). */
  source?: Source;
  intervalMs: number;
  rate: number;
  rep: number;
  exit: number | null;
  /** Window latencies (ms) of complete windows, after the first (warm-up) window. */
  latencies: number[];
  /** p99 of each measured window: the repeated measurement within a run. */
  windowP99s: number[];
  /**
   * YSB's window latency, one per measured window: window end to the commit of the batch that
   * processed the window's last event (when its count stopped changing in the engine's state).
   */
  finalUpdates?: number[];
  /**
   * Per event: the commit of the batch that processed it minus when it was written (stdin) or due
   * (generate), for the events of the measured windows (older results: none).
   */
  eventLatency?: EventLatency;
  /** Bytes the feeder could not hand to drizzle by the end (the engine fell behind). */
  backlogBytes: number;
  /** generate: how long after the last event was due its batch committed (the engine fell behind). */
  lagMs?: number;
  bounded: boolean;
  countsMatch: boolean | null;
  error?: string;
}

/** The latencies of a run's events, summarised: how many, percentiles, and one value per percent (1..100). */
export interface EventLatency {
  events: number;
  p50: number;
  p99: number;
  max: number;
  /** cdf[i]: the latency that (i + 1)% of the events did not exceed. */
  cdf: number[];
}

/**
 * The latency of every event from `from` to `to` (indices in input order): event i was written
 * (or due) at t0 + i * 1000 / rate ms, and is out when the batch holding it committed. Batches
 * are in batch order, each with its input record count; `undefined` when no batch covers them.
 */
export function eventLatencies(
  batches: ReadonlyArray<{ recordsIn: number; committedAt: number }>,
  rate: number,
  t0: number,
  from: number,
  to: number,
): EventLatency | undefined {
  const l = new Float64Array(Math.max(0, to - from));
  let n = 0;
  let through = 0;
  for (const b of batches) {
    const end = Math.min(through + b.recordsIn, to);
    for (let i = Math.max(through, from); i < end; i++) l[n++] = b.committedAt - (t0 + (i * 1000) / rate);
    through += b.recordsIn;
    if (through >= to) break;
  }
  if (n === 0) return undefined;
  const s = l.subarray(0, n).sort();
  const at = (q: number) => s[Math.min(n - 1, Math.ceil(q * n) - 1)];
  return {
    events: n,
    p50: at(0.5),
    p99: at(0.99),
    max: s[n - 1],
    cdf: Array.from({ length: 100 }, (_, i) => Math.round(at((i + 1) / 100) * 10) / 10),
  };
}

/** Whether two of a rate's runs were bounded (true) or two were not (false); undefined: no two agree yet. */
export function verdict(runs: Array<{ bounded: boolean }>): boolean | undefined {
  const ok = runs.filter((r) => r.bounded).length;
  if (ok >= 2) return true;
  if (runs.length - ok >= 2) return false;
  return undefined;
}

export interface YsbResult {
  machine: Machine;
  quick: boolean;
  available: boolean;
  reason?: string;
  windowMs: number;
  /** The window's lateness allowance (`maxDelay`) in the runs (older results: none, they ran with 100). */
  maxDelayMs?: number;
  workers: number;
  /** Bytes per event line (older results: none, 247 is assumed). */
  eventBytes?: number;
  searchSeconds?: number;
  reps?: number;
  sustained: Record<string, number>;
  /** The same with the generate source (older results: none). */
  sustainedGenerated?: Record<string, number>;
  cdfRate: number;
  /** Runs of the rate search (older results keep only their percentiles, not the latencies). */
  search: Array<YsbRun | (Omit<YsbRun, "latencies"> & { latencies?: number[]; p50: number; p99: number })>;
  cdf: YsbRun[];
}

/** Writes ysb.{json,md,svg} from the measurements (also from a saved ysb.json). */
export async function renderYsb(data: YsbResult, outDir: string): Promise<void> {
  const { machine: m, windowMs, sustained, cdfRate, search, cdf } = data;
  const sustainedGenerated = data.sustainedGenerated ?? {};
  const delay = data.maxDelayMs ?? 100;
  const o = { quick: data.quick };
  if (!data.available) {
    writeResult(
      outDir,
      "ysb",
      data,
      [
        `# Yahoo Streaming Benchmark (${o.quick ? "quick" : "full"})`,
        "",
        `**not available: ${data.reason}**`,
        "",
        "The benchmark runs once `pipelines/ysb.yaml`, `engine/io/ysb.ts` and `drizzle generate ysb` exist and the " +
        "pipeline runs on generated events.",
      ].join("\n"),
    );
    return;
  }
  const reps = data.reps ?? (data.quick ? 1 : 5);
  const searchSeconds = data.searchSeconds ?? (data.quick ? 2.2 : 4 * windowMs / 1000 + 0.5);
  const searchP = (r: YsbResult["search"][number]) =>
    r.latencies ? percentiles(r.latencies) : { p50: (r as { p50: number }).p50, p99: (r as { p99: number }).p99 };
  const cdfRows = ([100, 10] as const).flatMap((iv) =>
    (["drizzle", "bsp"] as const).map((mode) => {
      const rs = cdf.filter((r) => r.mode === mode && r.intervalMs === iv);
      const all = rs.flatMap((r) => r.latencies);
      const p = percentiles(all);
      const f = percentiles(rs.flatMap((r) => r.finalUpdates ?? []));
      const e = rs.map((r) => r.eventLatency).filter((x): x is EventLatency => x !== undefined);
      return [
        `${iv} ms`,
        mode,
        fmt(p.p50),
        fmt(p.p90),
        fmt(p.p99),
        fmt(p.max),
        fmtSpread(spread(rs.flatMap((r) => r.windowP99s)), "ms"),
        fmt(f.p50),
        fmt(f.p99),
        e.length ? fmtSpread(spread(e.map((x) => x.p50)), "ms") : "–",
        e.length ? fmtSpread(spread(e.map((x) => x.p99)), "ms") : "–",
        `${rs.filter((r) => r.countsMatch).length}/${rs.length}`,
        `${rs.reduce((n, r) => n + r.windowP99s.length, 0)} (${all.length})`,
      ];
    })
  );
  const p99At = (mode: string, iv: number) =>
    percentiles(cdf.filter((r) => r.mode === mode && r.intervalMs === iv).flatMap((r) => r.latencies)).p99;
  const finalP99At = (mode: string, iv: number) =>
    percentiles(cdf.filter((r) => r.mode === mode && r.intervalMs === iv).flatMap((r) => r.finalUpdates ?? [])).p99;
  /** The worst run's p99 per-event latency (NaN for results without it). */
  const eventP99At = (mode: string, iv: number) => {
    const e = cdf.filter((r) => r.mode === mode && r.intervalMs === iv).map((r) => r.eventLatency?.p99 ?? NaN);
    return e.length ? Math.max(...e) : NaN;
  };
  const eventBytes = data.eventBytes ?? 247;
  /** The first stdin rate of `mode` that was not sustained, and one of its unbounded runs. */
  const firstUnbounded = (mode: string) => {
    const runs = search.filter((r) => r.mode === mode && (r.source ?? "stdin") === "stdin");
    for (const rate of [...new Set(runs.map((r) => r.rate))]) {
      const at = runs.filter((r) => r.rate === rate);
      if (!(verdict(at) ?? at[0].bounded)) return at.find((r) => !r.bounded)!;
    }
    return undefined;
  };
  const suggest: string[] = [];
  for (const mode of Object.keys(sustained)) {
    const u = firstUnbounded(mode);
    if (!u) continue;
    suggest.push(
      `- ${mode}: bounded at ${fmt(sustained[mode])} events/s (${
        fmt(sustained[mode] * eventBytes / 1e6)
      } MB/s of JSON), ` +
        `not at ${fmt(u.rate)} (${fmt(u.rate * eventBytes / 1e6)} MB/s): p99 ${fmt(searchP(u).p99)} ms. ` +
        `The target of 1M events/s is ${fmt(1e6 * eventBytes / 1e6)} MB/s of JSON through the driver's stdin ` +
        `path on ${m.cores} cores` +
        (sustainedGenerated[mode] ? `; with executors making the events, ${fmt(sustainedGenerated[mode])}/s.` : "."),
    );
  }
  suggest.push(
    `- A window's row is emitted once an event at least ${delay} ms (\`maxDelay\`) past its end has arrived, ` +
      `been cut into a batch (up to one interval later) and been processed: the row latency is ${delay} ms ` +
      `plus up to one interval plus processing (drizzle p99 ${fmt(p99At("drizzle", 100))} ms at the 100 ms ` +
      `interval, ${fmt(p99At("drizzle", 10))} ms at 10 ms). YSB measures to the window's final update ` +
      `instead, which \`maxDelay\` does not delay: drizzle p99 ${fmt(finalP99At("drizzle", 100))} ms at ` +
      `100 ms, ${fmt(finalP99At("drizzle", 10))} ms at 10 ms.`,
  );
  const md = [
    `# Yahoo Streaming Benchmark (${o.quick ? "quick" : "full"})`,
    "",
    `Machine: ${machineLine(m)}.`,
    "",
    `Events from \`drizzle generate ysb\` (JSON lines, ~${fmt(eventBytes)} bytes each), ` +
    `written in real time at a fixed rate into \`drizzle run pipelines/ysb.yaml --workers ${data.workers}\` ` +
    `(with its window resized from 10 s to ${windowMs / 1000} s so a short run holds several windows` +
    (delay === 0
      ? ` and its \`maxDelay\` from 100 ms to 0: the events are written in time order, so none is ever late; `
      : "; ") +
    `YSB_CAMPAIGNS set) by a feeder process of its own through a pipe (blocking writes, \`bench/feeder.ts\`). ` +
    `Feeding starts once drizzle committed its first batch; the first window is warm-up ` +
    `and the window still open at end of input is left out. Window latency = arrival of the window's count ` +
    `line − wall time of the window's end (includes the pipeline's ${delay} ms watermark delay). Final update ` +
    `(YSB's window latency) = commit of the batch that processed the window's last event − wall time of ` +
    `the window's end: from then on the window's count no longer changes (the row itself waits for the ` +
    `watermark). The rate search also runs with \`source: { generate: ... }\` in place of stdin: the ` +
    `executors make the same events on the same schedule, so no input crosses the driver.`,
    "",
    "## (a) Highest sustained rate (interval 100 ms)",
    "",
    `Bounded = p99 window latency ≤ the window (${windowMs} ms) and the input less than 0.5 s behind at the ` +
    `end (stdin: the feeder's unsent bytes; generate: the last batch's commit after its events were due). ` +
    (search.some((r) => r.rep > 0)
      ? `Each rate is run (${searchSeconds} s) until two runs agree, and is sustained when two were bounded; ` +
        `the search stops at the first rate that is not.`
      : `One run per rate (${searchSeconds} s).`),
    "",
    table(
      ["source", "mode", ">events/s", ">run", ">p50 ms", ">p99 ms", ">behind at end", "bounded"],
      search.map((r) => {
        const p = searchP(r);
        return [
          r.source ?? "stdin",
          r.mode,
          fmt(r.rate),
          r.rep + 1,
          fmt(p.p50),
          fmt(p.p99),
          r.lagMs === undefined ? `${fmt(r.backlogBytes)}B` : `${fmt(r.lagMs)} ms`,
          r.bounded ? "yes" : `no${r.error ? ` (${r.error})` : ""}`,
        ];
      }),
    ),
    "",
    ...Object.entries(sustained).map(([mode, r]) =>
      `- stdin, ${mode}: highest bounded rate tried **${r ? fmt(r) : "none"} events/s**`
    ),
    ...Object.entries(sustainedGenerated).map(([mode, r]) =>
      `- generate, ${mode}: highest bounded rate tried **${r ? fmt(r) : "none"} events/s**`
    ),
    "",
    `## (b) Window latency at ${fmt(cdfRate)} events/s`,
    "",
    `${
      o.quick
        ? "Quick: one run per cell; the spread column is over the measured windows of that run."
        : `${reps} repetitions.`
    } ` +
    "Counts are checked against a count computed from the events. All campaigns of a window close in the same " +
    "batch, so a window's rows share (almost) one latency: the CDF has a step per window. Per event: the commit " +
    "of the batch that processed it minus when it was written, for every event of the measured windows; the " +
    "median of the runs' p50 and p99 (min–max).",
    "",
    table([
      "interval",
      "mode",
      ">p50 ms",
      ">p90 ms",
      ">p99 ms",
      ">max ms",
      ">p99 per window",
      ">final update p50",
      ">final update p99",
      ">per event p50",
      ">per event p99",
      "counts right",
      ">windows (rows)",
    ], cdfRows),
    "",
    "## Targets",
    "",
    target("sustained rate, drizzle (stdin)", sustained.drizzle, 1_000_000, true, "events/s"),
    target("sustained rate, drizzle (generate source)", sustainedGenerated.drizzle ?? NaN, 1_000_000, true, "events/s"),
    target("p99 window latency at 100 ms interval, drizzle (<= 2x interval)", p99At("drizzle", 100), 200, false, "ms"),
    target(
      "p99 final-update latency (YSB's measure) at 100 ms interval, drizzle (<= 2x interval)",
      finalP99At("drizzle", 100),
      200,
      false,
      "ms",
    ),
    ...(cdf.some((r) => r.eventLatency)
      ? [target(
        "p99 per-event latency at 100 ms interval, drizzle, worst run (<= 2x interval)",
        eventP99At("drizzle", 100),
        200,
        false,
        "ms",
      )]
      : []),
    `- p99 at 10 ms interval: drizzle ${fmt(p99At("drizzle", 10))} ms, bsp ${
      fmt(p99At("bsp", 10))
    } ms; at 100 ms: bsp ${fmt(p99At("bsp", 100))} ms`,
    "",
    "## What the numbers suggest",
    "",
    ...suggest,
    "",
    "![latency CDF](ysb.svg)",
  ].join("\n");
  const values = cdf.flatMap((r) =>
    r.latencies.map((l) => ({ latency: Math.max(1, l), series: `${r.mode}, ${r.intervalMs} ms` }))
  );
  // Each run's events as its 100 percentiles: every run weighs the same in the pooled curve.
  const eventValues = cdf.flatMap((r) =>
    (r.eventLatency?.cdf ?? []).map((l) => ({ latency: Math.max(1, l), series: `${r.mode}, ${r.intervalMs} ms` }))
  );
  const panel = (vals: typeof values, what: string) => ({
    width: eventValues.length ? 340 : 520,
    height: 300,
    data: { values: vals },
    transform: [
      { window: [{ op: "cume_dist", as: "fraction" }], sort: [{ field: "latency" }], groupby: ["series"] },
    ],
    mark: { type: "line", interpolate: "step-after" },
    encoding: {
      x: { field: "latency", type: "quantitative", scale: { type: "log" }, title: `${what} latency (ms)` },
      y: { field: "fraction", type: "quantitative", title: `fraction of ${what}s` },
      color: { field: "series", type: "nominal", title: null },
    },
  });
  const title = `YSB latency CDF at ${fmt(cdfRate)} events/s (${data.workers} workers, ${m.cores} cores)`;
  await renderFigure(
    eventValues.length
      ? { title, hconcat: [panel(values, "window"), panel(eventValues, "event")] } as VegaLiteSpec
      : { title, ...panel(values, "window") } as VegaLiteSpec,
    `${outDir}/ysb`,
  );
  writeResult(outDir, "ysb", data, md);
}
