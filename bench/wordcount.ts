/**
 * Figure 2, word-count throughput: a generated text file piped to stdin of `drizzle run
 * pipelines/wordcount.yaml` (spawned as a user would, through bin/drizzle), drizzle and bsp
 * mode with 1, 2 and 4 workers, against mawk, `tr | sort | uniq -c` and a plain Bun loop, one
 * repetition of every tool after the other. Outputs are checked to agree before any speed is
 * reported.
 * @module
 */
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { renderFigure } from "./plot.ts";
import { BUN, DRIZZLE, type Finished, ROOT, run, sh, TreeSampler } from "./proc.ts";
import {
  type BenchOptions,
  type Machine,
  machine,
  machineLine,
  note,
  profileHint,
  table,
  target,
  writeResult,
} from "./report.ts";
import { fmt, fmtSpread, ratio, spread } from "./stats.ts";
import { BENCH_TMP, textFile } from "./text_file.ts";

interface Tool {
  label: string;
  kind: "baseline" | "drizzle";
  mode?: "drizzle" | "bsp";
  workers?: number;
  run(input: string, output: string, metrics: string, sampler: TreeSampler): Promise<Finished>;
}

const MAWK = `mawk '{for(i=1;i<=NF;i++)c[$i]++} END{for(w in c)print w"\\t"c[w]}'`;
const CPU_FILE = `${BENCH_TMP}/wordcount.cpu`;

/**
 * Runs a shell script, then records the CPU its children used (user + system, from the shell's
 * cutime and cstime: every process it waited for) in CPU_FILE.
 */
function shWithCpu(script: string, env?: Record<string, string>): Promise<Finished> {
  rmSync(CPU_FILE, { force: true });
  return sh(`${script}; cat /proc/$$/stat > '${CPU_FILE}'`, { env });
}

/** CPU seconds recorded by shWithCpu (clock ticks of 1/100 s). */
function childCpuSeconds(): number {
  try {
    const stat = readFileSync(CPU_FILE, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return NaN;
  }
}

function tools(timeoutMs: number): Tool[] {
  const base: Tool[] = [
    { label: "mawk", kind: "baseline", run: (i, o) => shWithCpu(`${MAWK} < '${i}' > '${o}'`) },
    {
      label: "tr | sort | uniq -c",
      kind: "baseline",
      run: (i, o) => shWithCpu(`tr -s ' \\t' '\\n' < '${i}' | sort | uniq -c > '${o}'`, { LC_ALL: "C" }),
    },
    {
      label: "bun loop",
      kind: "baseline",
      run: (i, o) => shWithCpu(`'${BUN}' '${ROOT}bench/baseline_wordcount.ts' < '${i}' > '${o}'`),
    },
  ];
  const engine: Tool[] = [];
  for (const mode of ["drizzle", "bsp"] as const) {
    for (const workers of [1, 2, 4]) {
      engine.push({
        label: `${mode} ${workers}w`,
        kind: "drizzle",
        mode,
        workers,
        run: (i, o, metrics, sampler) =>
          run(DRIZZLE, [
            "run",
            "pipelines/wordcount.yaml",
            "--workers",
            String(workers),
            "--mode",
            mode,
            "--quiet",
            "--metrics",
            metrics,
          ], { stdinFile: i, stdoutFile: o, onStart: (pid) => sampler.start(pid), timeoutMs }),
      });
    }
  }
  return [...base, ...engine];
}

/** word -> count as one canonical text ("word\tcount" lines, sorted), whatever the tool printed. */
function canonical(path: string): { hash: string; words: number; distinct: number } {
  const lines: string[] = [];
  let words = 0;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line) continue;
    const u = /^\s*(\d+) (.*)$/.exec(line);
    const [w, n] = u
      ? [u[2], Number(u[1])]
      : [line.slice(0, line.lastIndexOf("\t")), Number(line.slice(line.lastIndexOf("\t") + 1))];
    if (!w) continue; // uniq -c counts an empty line when input starts with a blank
    lines.push(`${w}\t${n}`);
    words += n;
  }
  lines.sort();
  return {
    hash: createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 16),
    words,
    distinct: lines.length,
  };
}

export interface WordcountRun {
  tool: string;
  rep: number;
  ms: number;
  exit: number | null;
  agrees: boolean;
  distinct: number;
  wordsPerSec: number;
  /** CPU seconds of everything the run started (baselines: all processes; drizzle: driver + executors). */
  cpuTotalS?: number;
  cpuDriverS?: number;
  cpuExecutorsS?: number;
  peakRssMB?: number;
  batches?: number;
  latencyP50Ms?: number;
  /** ms from the first batch cut to the last commit (the run without process start and stop). */
  processingMs?: number;
  processingWordsPerSec?: number;
  stderr?: string;
}

/** Input sizes of a full run: the issue's range starts at 50 MB, where start-up still weighs. */
const FULL_SIZES = [50_000_000, 200_000_000];

export async function wordcount(o: BenchOptions): Promise<void> {
  const m = machine();
  // Quick mode is sized by the engine's measured ~5 MB/s: 50 MB x 6 engine configurations x 3
  // repetitions would take several minutes on its own.
  const sizes = o.quick ? [4_000_000] : FULL_SIZES;
  const reps = o.quick ? 3 : 5;
  const results: WordcountSize[] = [];
  for (const bytes of sizes) results.push(await measureSize(bytes, reps, o.quick));
  await renderWordcount({ machine: m, quick: o.quick, reps, sizes: results }, o.outDir);
}

/** Every tool on one input size, `reps` times, tools interleaved. */
async function measureSize(bytes: number, reps: number, quick: boolean): Promise<WordcountSize> {
  note(`wordcount: generating ${fmt(bytes)}B of text`);
  const input = textFile(bytes);
  const out = `${BENCH_TMP}/wordcount.out`;
  const metrics = `${BENCH_TMP}/wordcount.metrics.jsonl`;
  // A run far slower than expected is hung (seen: bsp stuck at its first checkpoint): cut it off.
  const ts = tools(quick ? 60_000 : 60_000 + bytes / 1000);
  // The reference is mawk's output; every run must produce the same counts.
  await ts[0].run(input, out, metrics, new TreeSampler());
  const ref = canonical(out);
  const runs: WordcountRun[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const t of ts) {
      rmSync(metrics, { force: true });
      const sampler = new TreeSampler(200);
      const f = await t.run(input, out, metrics, sampler);
      sampler.sample();
      sampler.stop();
      const c = canonical(out);
      const r: WordcountRun = {
        tool: t.label,
        rep,
        ms: f.ms,
        exit: f.code,
        agrees: f.code === 0 && c.hash === ref.hash,
        distinct: c.distinct,
        wordsPerSec: ref.words / (f.ms / 1000),
      };
      if (t.kind === "drizzle") {
        const cpu = sampler.cpuSeconds();
        const driverPid = sampler.samples.length ? Number(Object.keys(sampler.samples[0].byPid)[0]) : -1;
        r.cpuDriverS = cpu.filter((p) => p.pid === driverPid).reduce((a, p) => a + p.s, 0);
        r.cpuExecutorsS = cpu.filter((p) => p.pid !== driverPid).reduce((a, p) => a + p.s, 0);
        r.cpuTotalS = r.cpuDriverS + r.cpuExecutorsS;
        r.peakRssMB = sampler.peakMB;
        try {
          const lines = readFileSync(metrics, "utf8").trim().split("\n").map((l) => JSON.parse(l));
          const s = lines.find((l) => l.type === "summary");
          r.batches = s?.batches;
          r.latencyP50Ms = s?.latencyMs?.p50;
          const bs = lines.filter((l) => l.type === "batch");
          if (bs.length) {
            const firstCut = Math.min(...bs.map((b) => b.committedAt - b.latencyMs));
            r.processingMs = Math.max(...bs.map((b) => b.committedAt)) - firstCut;
            r.processingWordsPerSec = ref.words / (r.processingMs / 1000);
          }
        } catch { /* no metrics: the run failed, its stderr says why */ }
      }
      if (t.kind === "baseline") r.cpuTotalS = childCpuSeconds();
      if (!r.agrees) r.stderr = f.stderr.slice(-2000);
      runs.push(r);
      note(
        `wordcount ${fmt(bytes)}B rep ${rep + 1}/${reps} ${t.label}: ${(f.ms / 1000).toFixed(2)} s, ${
          fmt(r.wordsPerSec)
        } words/s${r.agrees ? "" : ` OUTPUT DIFFERS (exit ${f.code})`}`,
      );
    }
  }
  return { bytes, reference: ref, runs };
}

/** The runs on one input size. */
export interface WordcountSize {
  bytes: number;
  reference: { hash: string; words: number; distinct: number };
  runs: WordcountRun[];
}

export interface WordcountResult {
  machine: Machine;
  quick: boolean;
  reps: number;
  sizes: WordcountSize[];
}

/** What one input size's table and targets say. */
interface SizeReport {
  md: string;
  targets: string[];
  points: Array<{ size: string; tool: string; kind: string; median: number; min: number; max: number }>;
}

function sizeReport(size: WordcountSize, reps: number, m: Machine, outDir: string, last: boolean): SizeReport {
  const { bytes, reference: ref, runs } = size;
  const ts = [...new Set(runs.map((r) => r.tool))].map((label) => {
    const [mode, w] = label.split(" ");
    const engine = mode === "drizzle" || mode === "bsp";
    return {
      label,
      kind: engine ? "drizzle" : "baseline",
      mode: engine ? mode : undefined,
      workers: engine ? parseInt(w) : undefined,
    };
  });
  const ok = (label: string) => runs.filter((r) => r.tool === label && r.agrees);
  const perRep = (label: string) =>
    Array.from({ length: reps }, (_, rep) => {
      const r = runs.find((x) => x.tool === label && x.rep === rep);
      return r?.agrees ? r.wordsPerSec : NaN;
    });
  /** CPU seconds per million words (median over repetitions): cost independent of contention. */
  const cpuTotal = (r: WordcountRun) => r.cpuTotalS ?? (r.cpuDriverS ?? NaN) + (r.cpuExecutorsS ?? NaN);
  const cpuPerMWords = (label: string) => spread(ok(label).map((r) => cpuTotal(r) / (ref.words / 1e6))).median;
  const rows = ts.map((t) => {
    const rs = ok(t.label);
    const bad = runs.filter((r) => r.tool === t.label && !r.agrees).length;
    return [
      t.label,
      fmtSpread(spread(rs.map((r) => r.wordsPerSec)), "words/s"),
      fmtSpread(spread(rs.map((r) => r.ms / 1000)), "s"),
      t.kind === "drizzle" ? fmtSpread(spread(rs.map((r) => r.processingWordsPerSec!)), "words/s") : "–",
      fmtSpread(ratio(perRep(t.label), perRep("mawk"))) + "x",
      fmtSpread(ratio(perRep(t.label), perRep("bun loop"))) + "x",
      fmt(cpuPerMWords(t.label)),
      t.kind === "drizzle" ? fmt(spread(rs.map((r) => r.cpuDriverS!)).median) : "–",
      t.kind === "drizzle" ? fmt(spread(rs.map((r) => r.cpuExecutorsS!)).median) : "–",
      t.kind === "drizzle" ? fmt(spread(rs.map((r) => r.peakRssMB!)).median) : "–",
      bad ? `${bad} wrong/failed` : "agree",
    ];
  });
  const d2mawk = ratio(perRep("drizzle 2w"), perRep("mawk"));
  const bestLabel =
    ["drizzle 1w", "drizzle 2w", "drizzle 4w"].sort((a, b) => spread(perRep(b)).median - spread(perRep(a)).median)[0];
  const bestMawk = ratio(perRep(bestLabel), perRep("mawk"));
  const d2bun = ratio(perRep("drizzle 2w"), perRep("bun loop"));
  const failures = runs.filter((r) => !r.agrees);
  const med = (label: string, f: (r: WordcountRun) => number) => spread(ok(label).map(f)).median;
  const startup = (label: string) => med(label, (r) => r.ms - (r.processingMs ?? NaN));
  const perWord = cpuPerMWords("drizzle 1w") / cpuPerMWords("bun loop");
  const execShare = (label: string) => med(label, (r) => r.cpuExecutorsS! / cpuTotal(r));
  const used2 = med("drizzle 2w", (r) => cpuTotal(r) / (r.ms / 1000));
  const exHint = last ? profileHint(outDir, "wordcount-drizzle-2w", "executors", 4) : "";
  const wall2 = med("drizzle 2w", (r) => r.ms / 1000);
  const suggest = [
    `### What the numbers suggest (${fmt(bytes)}B)`,
    "",
    `- Per word, drizzle with 1 worker burns ${fmt(perWord)}x the CPU of the single-process Bun loop ` +
    `(${fmt(cpuPerMWords("drizzle 1w"))} vs ${fmt(cpuPerMWords("bun loop"))} CPU s per million words; mawk ` +
    `${fmt(cpuPerMWords("mawk"))}). On ${m.cores} cores parallelism can win at most ${m.cores}x back, so beating ` +
    `the Bun loop by 1.5x needs the per-word CPU within ${fmt(m.cores / 1.5)}x of it.`,
    `- The executors do ${fmt(100 * execShare("drizzle 1w"))}% of that CPU (1 worker; ` +
    `${fmt(100 * execShare("drizzle 2w"))}% with 2). With 2 workers the run kept ${fmt(used2)} cores busy on ` +
    `average; more workers than cores only adds shuffle (msgpack over TCP instead of in-process delivery) and ` +
    `contention.`,
    `- Start-up and shutdown of \`drizzle run\` (process start, loading, executors registering, the cold first ` +
    `batches; the wall time outside first cut to last commit) cost ${fmt(startup("drizzle 1w") / 1000)} s ` +
    `(1 worker) to ${fmt(startup("drizzle 4w") / 1000)} s (4 workers): ` +
    `${fmt(100 * startup("drizzle 2w") / 1000 / wall2)}% of the 2-worker wall time at this size.`,
    exHint ? `- Executor CPU profile of a word count (\`profile.md\`): ${exHint}.` : "",
    "",
  ].filter((l, i, a) => l !== "" || a[i - 1] !== "").join("\n");
  const md = [
    `## ${fmt(bytes)}B: ${fmt(ref.words)} words, ${fmt(ref.distinct)} distinct`,
    "",
    table([
      "tool",
      ">throughput",
      ">wall time",
      ">excl. start-up",
      ">vs mawk",
      ">vs bun loop",
      ">CPU s per M words",
      ">driver CPU s",
      ">executors CPU s",
      ">peak RSS MB",
      "output",
    ], rows),
    "",
    failures.length
      ? `Runs whose output differed or that failed:\n\n${
        failures.map((f) =>
          `- ${f.tool} rep ${f.rep}: exit ${f.exit}, ${f.distinct} distinct words\n\n  \`\`\`\n  ${
            (f.stderr ?? "").trim().split("\n").slice(-5).join("\n  ")
          }\n  \`\`\``
        ).join("\n")
      }\n`
      : "All outputs agree with mawk's counts.\n",
    suggest,
  ].join("\n");
  const sizeLabel = `${fmt(bytes)}B`;
  return {
    md,
    targets: [
      target(`${sizeLabel}: drizzle (2 workers) / mawk`, d2mawk.median, 0.5, true, "x"),
      target(`${sizeLabel}: drizzle (best: ${bestLabel}) / mawk`, bestMawk.median, 0.5, true, "x"),
      target(`${sizeLabel}: drizzle (2 workers) / bun loop`, d2bun.median, 1.5, true, "x"),
    ],
    points: ts.map((t) => {
      const s = spread(ok(t.label).map((r) => r.wordsPerSec / 1e6));
      return {
        size: sizeLabel,
        tool: t.label,
        kind: (t.kind === "drizzle" ? t.mode : "baseline")!,
        median: s.median,
        min: s.min,
        max: s.max,
      };
    }).filter((p) => Number.isFinite(p.median)),
  };
}

/** Writes wordcount.{json,md,svg} from the measurements (also from a saved wordcount.json). */
export async function renderWordcount(saved: WordcountResult, outDir: string): Promise<void> {
  // Results saved before a run measured several sizes held one size at the top level.
  const old = saved as unknown as Partial<WordcountSize>;
  const data: WordcountResult = saved.sizes
    ? saved
    : { ...saved, sizes: [{ bytes: old.bytes!, reference: old.reference!, runs: old.runs! }] };
  const { machine: m, reps } = data;
  const reports = data.sizes.map((s, i) => sizeReport(s, reps, m, outDir, i === data.sizes.length - 1));
  const md = [
    `# Word count throughput (${data.quick ? "quick" : "full"})`,
    "",
    `Machine: ${machineLine(m)}.`,
    "",
    `Input: generated text, from a file on stdin. Engine runs: \`bin/drizzle run pipelines/wordcount.yaml --workers N --mode M --quiet --metrics F\` ` +
    `(default batch records 50000, 2 partitions per worker). ${reps} repetitions per size, tools interleaved; ` +
    `median (min–max); ratios paired by repetition. Wall time includes process start-up. ` +
    `"excl. start-up": words / (last commit − first batch cut), from --metrics: the engine without process start and stop. CPU: seconds of user+system CPU, from /proc (baselines: all their processes; drizzle: driver + executors).`,
    "",
    "## Targets",
    "",
    ...reports.flatMap((r) => r.targets),
    "",
    ...reports.map((r) => r.md),
    "![throughput](wordcount.svg)",
  ].join("\n");
  await renderFigure({
    title: `Word count on stdin (${m.cores} cores)`,
    data: { values: reports.flatMap((r) => r.points) },
    facet: { row: { field: "size", type: "nominal", title: null, sort: null } },
    spec: {
      width: 420,
      height: 200,
      encoding: { y: { field: "tool", type: "nominal", sort: null, title: null } },
      layer: [
        {
          mark: "bar",
          encoding: {
            x: { field: "median", type: "quantitative", title: "million words/s (median, min–max)" },
            color: { field: "kind", type: "nominal", title: null },
          },
        },
        {
          mark: { type: "rule", color: "black" },
          encoding: { x: { field: "min", type: "quantitative" }, x2: { field: "max" } },
        },
      ],
    },
  }, `${outDir}/wordcount`);
  writeResult(outDir, "wordcount", data, md);
}
