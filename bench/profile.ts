/**
 * `bench profile` (not part of the default set): where the time goes. Runs `drizzle run` under
 * Bun's sampling profiler (`BUN_OPTIONS=--cpu-prof`, inherited by the executors it starts) in
 * two shapes: the word count at full speed (throughput) and near-empty batches at 128 tasks per
 * stage (coordination), drizzle and bsp, and ranks functions by self time, driver and executors
 * apart. The raw `.cpuprofile` files stay in the temp directory for DevTools.
 * @module
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { type ProfileSummary, profileTable, summarizeProfile } from "./cpu_profile.ts";
import { DRIZZLE, ROOT, run } from "./proc.ts";
import { type BenchOptions, type Machine, machine, machineLine, note, writeResult } from "./report.ts";
import { BENCH_TMP, textFile } from "./text_file.ts";

interface Case {
  name: string;
  what: string;
  args: string[];
  input: () => string;
}

function cases(quick: boolean): Case[] {
  const tiny = () => {
    const path = `${BENCH_TMP}/tiny-lines-${quick ? 60 : 300}.txt`;
    writeFileSync(path, "a\n".repeat(quick ? 60 : 300));
    return path;
  };
  const coord = (mode: string) => [
    "run",
    "pipelines/wordcount.yaml",
    "--workers",
    "4",
    "--partitions",
    "128",
    "--batch-records",
    "1",
    "--interval",
    "1h",
    "--mode",
    mode,
    "-g",
    "10",
    "--heartbeat-timeout",
    "20s",
    "--quiet",
  ];
  return [
    {
      name: "wordcount-drizzle-2w",
      what: `word count of ${quick ? 10 : 50} MB, drizzle mode, 2 workers`,
      args: ["run", "pipelines/wordcount.yaml", "--workers", "2", "--quiet"],
      input: () => textFile(quick ? 10_000_000 : 50_000_000),
    },
    {
      name: "coordination-drizzle-128",
      what: `${quick ? 60 : 300} one-record batches, 128 tasks per stage, 4 workers, drizzle G=10`,
      args: coord("drizzle"),
      input: tiny,
    },
    {
      name: "coordination-bsp-128",
      what: `${quick ? 60 : 300} one-record batches, 128 tasks per stage, 4 workers, bsp`,
      args: coord("bsp"),
      input: tiny,
    },
  ];
}

interface CaseResult {
  what: string;
  dir: string;
  driverPid: number;
  ms: number;
  exit: number | null;
  driver: ProfileSummary;
  executors: ProfileSummary;
}

export interface ProfileResult {
  machine: Machine;
  quick: boolean;
  cases: Record<string, CaseResult>;
}

export async function profile(o: BenchOptions): Promise<void> {
  const m = machine();
  const data: ProfileResult = { machine: m, quick: o.quick, cases: {} };
  for (const c of cases(o.quick)) {
    const dir = `${BENCH_TMP}/profile-${c.name}`;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    let driverPid = 0;
    note(`profile: ${c.what}`);
    const f = await run(DRIZZLE, c.args, {
      stdinFile: c.input(),
      env: { BUN_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` },
      onStart: (pid) => (driverPid = pid),
      timeoutMs: 600_000,
    });
    // Profile files are named CPU.<date>.<time>.<pid>.<n>.cpuprofile.
    const files = readdirSync(dir).filter((x) => x.endsWith(".cpuprofile"));
    const pidOf = (x: string) => Number(x.split(".")[3]);
    const driver = files.filter((x) => pidOf(x) === driverPid).map((x) => `${dir}/${x}`);
    const executors = files.filter((x) => pidOf(x) !== driverPid).map((x) => `${dir}/${x}`);
    data.cases[c.name] = {
      what: c.what,
      dir,
      driverPid,
      ms: f.ms,
      exit: f.code,
      driver: summarizeProfile(driver, ROOT, 12),
      executors: summarizeProfile(executors, ROOT, 15),
    };
  }
  await renderProfile(data, o.outDir);
}

/** Writes profile.{json,md} from the summaries (also from a saved profile.json). */
export function renderProfile(data: ProfileResult, outDir: string): Promise<void> {
  const sections = Object.values(data.cases).flatMap((c) => [
    `## ${c.what}`,
    "",
    `Wall ${(c.ms / 1000).toFixed(2)} s, exit ${c.exit}. Profiles: \`${c.dir}\`.`,
    "",
    `### Driver (pid ${c.driverPid})`,
    "",
    profileTable(c.driver),
    "",
    `### Executors (${c.executors.file.split(", ").filter(Boolean).length}, summed)`,
    "",
    profileTable(c.executors),
    "",
  ]);
  const md = [
    `# CPU profiles (${data.quick ? "quick" : "full"})`,
    "",
    `Machine: ${machineLine(data.machine)}.`,
    "",
    'Bun\'s sampling profiler on the driver and every executor (`BUN_OPTIONS=--cpu-prof`). "self" is time in the ' +
    'function itself, "total" includes what it called. Busy time charges each sample at most three sampling ' +
    "periods (Bun writes no idle samples), so it approximates CPU time. `anonymous` in `(native)` is the pipeline's " +
    "compiled expressions (`new Function`) and Bun built-ins without a source location.",
    "",
    ...sections,
  ].join("\n");
  writeResult(outDir, "profile", data, md);
  return Promise.resolve();
}
