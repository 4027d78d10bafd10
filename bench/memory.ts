/**
 * Figure 5, memory under backpressure: gigabytes of text, generated on the fly by a child
 * process (never stored), flow through `drizzle run` (a one-stage pass-through pipeline, so all
 * of it comes out again) into a slow reader (`pv -L 20m`). Memory must stay bounded: the
 * driver pauses input when its retained batches or bytes are at their limits. The RSS of the
 * driver and its executors (summed) is sampled from /proc every 100 ms.
 * @module
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { renderFigure } from "./plot.ts";
import { BUN, DRIZZLE, processTree, ROOT, sh, TreeSampler } from "./proc.ts";
import { type BenchOptions, type Machine, machine, machineLine, note, table, target, writeResult } from "./report.ts";
import { fmt, fmtSpread, spread } from "./stats.ts";
import { BENCH_TMP } from "./text_file.ts";
import { SMALL_BATCH_RECORDS } from "../engine/runtime/mod.ts";

const WORKERS = 2;
const RATE = "20m";
const LIMIT_MB = 300;

/**
 * The smaller footprint: Bun's allocator returns freed memory to the system after this many ms
 * (drizzle's default: never) and uses 4 KB pages only (`MIMALLOC_ALLOW_THP=0`).
 */
const RETURNING = "10";

/** Full mode runs every setting this many times at 1 GB. */
const REPS = 3;

export interface MemoryRun {
  bytes: number;
  /** Which repetition of its setting (0 for the first; absent in results saved before there were any). */
  rep?: number;
  /** MIMALLOC_PURGE_DELAY given to the run (with MIMALLOC_ALLOW_THP=0), if not drizzle's default. */
  purgeDelay?: string;
  /** --batch-records given to the run, if not drizzle's default. */
  batchRecords?: number;
  /** --footprint given to the run, if not drizzle's default (results saved before it: none). */
  footprint?: "small";
  ok: boolean;
  exit: number | null;
  bytesOut: number;
  seconds: number;
  mbPerSec: number;
  peakMB: number;
  /** Peak of the summed proportional set size (shared pages divided among their sharers). */
  peakPssMB?: number;
  /** Peak of the summed RSS in the first and in the second half of the run. */
  peakFirstHalfMB: number;
  peakSecondHalfMB: number;
  peakDriverMB: number;
  peakExecutorMB: number;
  cpu: Array<{ pid: number; cmd: string; s: number }>;
  samples: Array<{ t: number; total: number; driver: number; executors: number }>;
  stderr?: string;
}

const slowReader = existsSync("/usr/bin/pv") || existsSync("/bin/pv")
  ? `pv -q -L ${RATE}`
  // Without pv: a reader that takes 1 MB, then sleeps 50 ms (about 20 MB/s).
  : `'${BUN}' -e 'for await (const c of process.stdin) await new Promise((r) => setTimeout(r, c.length / 20000))'`;

async function once(
  bytes: number,
  purgeDelay?: string,
  batchRecords?: number,
  footprint?: "small",
): Promise<MemoryRun> {
  const count = `${BENCH_TMP}/memory.count`;
  rmSync(count, { force: true });
  const script = `'${BUN}' '${ROOT}bench/gen_text.ts' ${bytes} --cycle ` +
    `| '${DRIZZLE}' run '${ROOT}bench/pipelines/passthrough.yaml' --workers ${WORKERS} --quiet ` +
    (batchRecords ? `--batch-records ${batchRecords} ` : "") +
    (footprint ? `--footprint ${footprint} ` : "") +
    `| ${slowReader} | wc -c > '${count}'`;
  const sampler = new TreeSampler(100, undefined, true);
  let driverPid = 0;
  let finder: ReturnType<typeof setInterval> | null = null;
  const f = await sh(script, {
    // 20 MB/s is the reader's pace; three times as long means the run is stuck.
    timeoutMs: 60_000 + 3 * bytes / 20e3,
    env: purgeDelay ? { MIMALLOC_PURGE_DELAY: purgeDelay, MIMALLOC_ALLOW_THP: "0" } : undefined,
    onStart: (shPid) => {
      // bin/drizzle execs Bun in place: the driver is the process running cli/main.ts run.
      finder = setInterval(() => {
        const d = processTree(shPid).find((p) => p.cmd.includes("cli/main.ts run"));
        if (!d) return;
        driverPid = d.pid;
        clearInterval(finder!);
        sampler.start(d.pid);
      }, 20);
    },
  });
  if (finder) clearInterval(finder);
  sampler.stop();
  const bytesOut = Number(readFileSync(count, "utf8").trim() || 0);
  const s = sampler.samples;
  const half = s.length ? s[s.length - 1].t / 2 : 0;
  const peak = (xs: typeof s) => xs.reduce((m, x) => Math.max(m, x.rssMB), 0);
  const samples = s.map((x) => {
    const driver = x.byPid[driverPid] ?? 0;
    return { t: x.t / 1000, total: x.rssMB, driver, executors: x.rssMB - driver };
  });
  const seconds = f.ms / 1000;
  return {
    bytes,
    purgeDelay,
    batchRecords,
    // The last line may have lacked a newline: the engine adds one.
    ok: f.code === 0 && (bytesOut === bytes || bytesOut === bytes + 1),
    exit: f.code,
    bytesOut,
    seconds,
    mbPerSec: bytes / 1e6 / seconds,
    peakMB: sampler.peakMB,
    peakPssMB: sampler.peakPssMB,
    peakFirstHalfMB: peak(s.filter((x) => x.t <= half)),
    peakSecondHalfMB: peak(s.filter((x) => x.t > half)),
    peakDriverMB: Math.max(0, ...samples.map((x) => x.driver)),
    peakExecutorMB: Math.max(
      0,
      ...s.map((x) =>
        Math.max(0, ...Object.entries(x.byPid).filter(([p]) => Number(p) !== driverPid).map(([, v]) => v))
      ),
    ),
    cpu: sampler.cpuSeconds(),
    samples,
    stderr: f.code === 0 ? undefined : f.stderr.slice(-2000),
  };
}

/** The median of one figure over the runs of a setting. */
function med(rs: MemoryRun[], f: (r: MemoryRun) => number): number {
  return spread(rs.map(f)).median;
}

/** How much of the summed RSS is pages the processes share, where the runs measured PSS. */
function pssNote(defaults: MemoryRun[][]): string[] {
  const withPss = defaults.filter((g) => g.every((r) => r.peakPssMB));
  if (!withPss.length) return [];
  return [
    `- Pages shared between the processes (mostly the Bun executable) count once per process in RSS: by default ` +
    `the peak summed PSS was ${
      withPss.map((g) => `${fmt(med(g, (r) => r.peakPssMB!))} MB (RSS ${fmt(med(g, (r) => r.peakMB))} MB)`).join(", ")
    }.`,
  ];
}

export async function memory(o: BenchOptions): Promise<void> {
  const m = machine();
  // Quick: each setting once (15 s each; the peak is reached within the first few seconds). Full:
  // the 1 GB runs of every setting REPS times, interleaved, for a median and a spread (peaks vary
  // by 10% and more between runs); the 5 GB runs once, by default and with `--footprint small`, to
  // show that memory does not grow with input (the target is on 5 GB flowing through).
  const sizes = o.quick ? [300e6] : [1e9, 5e9];
  const reps = o.quick ? 1 : REPS;
  // The default; its allocator settings alone; and `--footprint small` (those settings and smaller batches).
  const settings: Array<[string?, number?, "small"?]> = [[], [RETURNING], [undefined, undefined, "small"]];
  const plan: Array<[number, number, string?, number?, "small"?]> = [];
  for (let rep = 0; rep < reps; rep++) for (const [p, b, f] of settings) plan.push([sizes[0], rep, p, b, f]);
  for (const bytes of sizes.slice(1)) plan.push([bytes, 0], [bytes, 0, undefined, undefined, "small"]);
  const runs: MemoryRun[] = [];
  for (const [bytes, rep, purgeDelay, batchRecords, footprint] of plan) {
    const how = (purgeDelay ? `, MIMALLOC_PURGE_DELAY=${purgeDelay} MIMALLOC_ALLOW_THP=0` : "") +
      (batchRecords ? ` --batch-records ${batchRecords}` : "") + (footprint ? ` --footprint ${footprint}` : "");
    note(`memory: ${fmt(bytes)}B through a ${RATE}B/s reader${how} (about ${Math.round(bytes / 20e6)} s)`);
    const r = { ...await once(bytes, purgeDelay, batchRecords, footprint), rep, ...(footprint ? { footprint } : {}) };
    runs.push(r);
    note(
      `memory ${fmt(bytes)}B${how}: peak ${fmt(r.peakMB)} MB (driver ${fmt(r.peakDriverMB)}), ${
        fmt(r.mbPerSec)
      } MB/s, ${r.ok ? "all bytes out" : `FAILED exit ${r.exit}, ${r.bytesOut} bytes out`}`,
    );
  }
  await renderMemory({ machine: m, quick: o.quick, workers: WORKERS, rate: RATE, limitMB: LIMIT_MB, runs }, o.outDir);
}

/** The largest input's peak against the smallest's (medians over repetitions), for one setting's groups. */
function growthLine(setting: string, groups: MemoryRun[][]): string {
  const first = groups[0];
  const last = groups[groups.length - 1];
  const grew = med(last, (r) => r.peakMB) / med(first, (r) => r.peakMB);
  return `- **growth with input, ${setting}**: peak at ${fmt(last[0].bytes)}B / at ${fmt(first[0].bytes)}B = ${
    grew.toFixed(2)
  }x (${grew <= 1.15 ? "bounded: no growth beyond noise" : "GREW"})`;
}

/** drizzle's own settings: neither the allocator's nor the footprint changed. */
function isDefault(r: MemoryRun): boolean {
  return !r.purgeDelay && !r.footprint;
}

/** The driver's default input buffer, as written in its source (for the summary). */
function bufferDefault(): string {
  try {
    const src = readFileSync(`${ROOT}engine/driver/driver.ts`, "utf8");
    const m = /maxBufferBytes:\s*(\d+)\s*<<\s*20/.exec(src);
    return m ? `default ${m[1]} MB in engine/driver/driver.ts, \`--max-buffer\`` : "its default";
  } catch {
    return "its default";
  }
}

export interface MemoryResult {
  machine: Machine;
  quick: boolean;
  workers: number;
  rate: string;
  limitMB: number;
  runs: MemoryRun[];
}

/** Writes memory.{json,md,svg} from the measurements (also from a saved memory.json). */
export async function renderMemory(data: MemoryResult, outDir: string): Promise<void> {
  const { machine: m } = data;
  const o = { quick: data.quick };
  // Runs of one setting and input size, the default's first, each group in the order measured.
  const byKey = new Map<string, MemoryRun[]>();
  for (const r of [...data.runs].sort((a, b) => Number(!isDefault(a)) - Number(!isDefault(b)))) {
    const k = `${r.bytes}|${r.purgeDelay ?? ""}|${r.batchRecords ?? ""}|${r.footprint ?? ""}`;
    byKey.set(k, [...(byKey.get(k) ?? []), r]);
  }
  const groups = [...byKey.values()];
  const runs = data.runs.filter(isDefault);
  const defaults = groups.filter((g) => isDefault(g[0]));
  const returning = groups.filter((g) => !isDefault(g[0]));
  // The other settings, each with all its runs whatever the input size: a target is on its worst.
  const others = new Map<string, MemoryRun[]>();
  for (const g of returning) {
    const k = `${g[0].purgeDelay ?? ""}|${g[0].batchRecords ?? ""}|${g[0].footprint ?? ""}`;
    others.set(k, [...(others.get(k) ?? []), ...g]);
  }
  const small = returning.filter((g) => g[0].footprint === "small");
  const sizes = defaults.map((g) => g[0].bytes);
  const worst = Math.max(...runs.map((r) => r.peakMB));
  // Growth: the largest input's peak against the smallest's (medians over repetitions).
  const grew = defaults.length > 1
    ? med(defaults[defaults.length - 1], (r) => r.peakMB) / med(defaults[0], (r) => r.peakMB)
    : med(defaults[0], (r) => r.peakSecondHalfMB) / med(defaults[0], (r) => r.peakFirstHalfMB);
  const label = (r: MemoryRun) =>
    `${fmt(r.bytes)}B${r.purgeDelay ? `, purge ${r.purgeDelay} ms, 4 KB pages` : ""}${
      r.batchRecords ? `, batches of ${fmt(r.batchRecords)}` : ""
    }${r.footprint ? `, --footprint ${r.footprint}` : ""}`;
  const md = [
    `# Memory under backpressure (${o.quick ? "quick" : "full"})`,
    "",
    `Machine: ${machineLine(m)}.`,
    "",
    `\`bun bench/gen_text.ts N --cycle | drizzle run bench/pipelines/passthrough.yaml --workers ${data.workers} | ${
      slowReader.startsWith("pv") ? slowReader : "a slow reader (~20 MB/s)"
    } | wc -c\`: the text is generated as it is read (nothing stored), every byte comes out again, and the reader ` +
    `is slower than the engine, so backpressure must hold the input back. RSS = VmRSS of the driver plus its ` +
    `executors, summed, sampled every 100 ms; the target is on it. PSS (proportional set size, from ` +
    `smaps_rollup, sampled with it) divides each page shared between processes among them, where RSS counts it ` +
    `in each: the Bun executable's pages are mapped by all three. Each cell is the median over the runs of its ` +
    `setting (min–max), the runs of the settings interleaved; a target is on the worst run. ` +
    `drizzle starts its executors with \`MIMALLOC_PURGE_DELAY=-1\`: Bun's allocator keeps the memory it freed ` +
    `for reuse, which is faster (no page faults on memory taken again) and holds each executor at its high point; ` +
    `and with \`MIMALLOC_ALLOW_THP=1\` (the driver too): memory comes in 2 MB pages, fewer faults for more ` +
    `resident memory. Below the default's rows: \`MIMALLOC_PURGE_DELAY=${RETURNING} MIMALLOC_ALLOW_THP=0\` ` +
    `(freed memory goes back to the system after ${RETURNING} ms; 4 KB pages), then \`--footprint small\`, ` +
    `which sets those for driver and executors and cuts batches of ${SMALL_BATCH_RECORDS} records (results saved ` +
    `before the option: the same settings spelled out). On a backlog both take about twice the CPU ` +
    `(bench/README.md).`,
    "",
    table(
      [
        ">input",
        "allocator",
        ">runs",
        ">time",
        ">throughput",
        ">peak RSS (sum)",
        ">peak PSS (sum)",
        ">peak 1st half",
        ">peak 2nd half",
        ">peak driver",
        ">peak executor",
        "output",
      ],
      groups.map((g) => {
        const r = g[0];
        const mb = (f: (r: MemoryRun) => number) => fmtSpread(spread(g.map(f)), "MB");
        const failed = g.find((x) => !x.ok);
        return [
          `${fmt(r.bytes)}B`,
          (r.footprint
            ? `--footprint ${r.footprint} (returns memory after ${RETURNING} ms, 4 KB pages; batches of ${
              fmt(SMALL_BATCH_RECORDS)
            } records)`
            : r.purgeDelay
            ? `returns memory after ${r.purgeDelay} ms, 4 KB pages`
            : "keeps freed memory, 2 MB pages (default)") +
          (r.batchRecords ? `; batches of ${fmt(r.batchRecords)} records` : ""),
          String(g.length),
          `${med(g, (x) => x.seconds).toFixed(1)} s`,
          `${fmt(med(g, (x) => x.mbPerSec))} MB/s`,
          mb((x) => x.peakMB),
          g.every((x) => x.peakPssMB) ? mb((x) => x.peakPssMB!) : "–",
          `${fmt(med(g, (x) => x.peakFirstHalfMB))} MB`,
          `${fmt(med(g, (x) => x.peakSecondHalfMB))} MB`,
          mb((x) => x.peakDriverMB),
          mb((x) => x.peakExecutorMB),
          failed ? `FAILED (exit ${failed.exit}, ${fmt(failed.bytesOut)}B out)` : "all bytes",
        ];
      }),
    ),
    "",
    "## Targets",
    "",
    target("peak RSS, driver + executors (worst run)", worst, data.limitMB, false, "MB"),
    ...[...others.values()].map((g) =>
      target(
        `peak RSS, driver + executors, ${
          g[0].footprint
            ? `--footprint ${g[0].footprint}`
            : `MIMALLOC_PURGE_DELAY=${g[0].purgeDelay} MIMALLOC_ALLOW_THP=0${
              g[0].batchRecords ? ` --batch-records ${g[0].batchRecords}` : ""
            }`
        } (worst run)`,
        Math.max(...g.map((r) => r.peakMB)),
        data.limitMB,
        false,
        "MB",
      )
    ),
    `- **growth with input**: peak ${
      defaults.length > 1
        ? `at ${fmt(sizes[sizes.length - 1])}B / at ${fmt(sizes[0])}B`
        : "in the 2nd half / in the 1st half"
    } = ${grew.toFixed(2)}x (${grew <= 1.15 ? "bounded: no growth beyond noise" : "GREW"})`,
    ...(small.length > 1 ? [growthLine("--footprint small", small)] : []),
    "",
    "## What the numbers suggest",
    "",
    `- The driver is ${fmt(100 * Math.max(...runs.map((r) => r.peakDriverMB / r.peakMB)))}% of the peak ` +
    `(driver ${fmt(Math.max(...runs.map((r) => r.peakDriverMB)))} MB, largest executor ` +
    `${fmt(Math.max(...runs.map((r) => r.peakExecutorMB)))} MB).`,
    `- The driver keeps the raw input of every batch that no checkpoint covers yet (for replay after a failure), up ` +
    `to \`maxBufferBytes\` (${bufferDefault()}), and pauses input while a few batches wait for the slow ` +
    `reader; the rest of each process's RSS is the runtime itself and dead buffers not yet collected (every ` +
    `process collects after each 4 MB of buffers it reads, engine/runtime/gc.ts).`,
    ...pssNote(defaults),
    "",
    "![RSS over time](memory.svg)",
  ].join("\n");
  // The first run of each setting: more would only crowd the figure.
  const values = data.runs.filter((r) => !r.rep).flatMap((r) =>
    r.samples.flatMap((x) => [
      { t: x.t, MB: x.total, series: "driver + executors", input: label(r) },
      { t: x.t, MB: x.driver, series: "driver", input: label(r) },
      { t: x.t, MB: x.executors, series: "executors", input: label(r) },
    ])
  );
  await renderFigure({
    title: `RSS while text flows into a ${data.rate}B/s reader`,
    width: 560,
    height: 280,
    layer: [
      {
        data: { values },
        mark: { type: "line", strokeWidth: 1.2 },
        encoding: {
          x: { field: "t", type: "quantitative", title: "seconds" },
          y: { field: "MB", type: "quantitative", title: "RSS (MB)" },
          color: { field: "series", type: "nominal", title: null },
          strokeDash: { field: "input", type: "nominal", title: "input" },
        },
      },
      {
        data: { values: [{ y: data.limitMB }] },
        mark: { type: "rule", color: "red", strokeDash: [4, 3] },
        encoding: { y: { field: "y", type: "quantitative" } },
      },
    ],
  }, `${outDir}/memory`);
  writeResult(
    outDir,
    "memory",
    data,
    md,
  );
}
