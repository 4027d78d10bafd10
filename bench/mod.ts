/**
 * The benchmark suite: each benchmark reproduces one claim of the Drizzle paper on this
 * machine, measuring drizzle and its baselines side by side in one run, with repetitions, and
 * writes `<outDir>/<name>.json`, `<outDir>/<name>.md` and `<outDir>/<name>.svg`. Imports the
 * library (`../mod.ts`) and runs `bin/drizzle` as a user would; engine/ and cli/ never import
 * this folder.
 *
 * @example
 * ```ts
 * import { BENCH_NAMES, runBench } from "./bench/mod.ts";
 * for (const name of BENCH_NAMES) await runBench(name, { quick: true, outDir: "bench/results" });
 * ```
 * @module
 */
import { coordination, type CoordinationResult, renderCoordination } from "./coordination.ts";
import { memory, type MemoryResult, renderMemory } from "./memory.ts";
import { profile, type ProfileResult, renderProfile } from "./profile.ts";
import { recovery, type RecoveryResult, renderRecovery } from "./recovery.ts";
import { existsSync, writeFileSync } from "node:fs";
import { type BenchOptions, codeFingerprint, formatResults, readResult } from "./report.ts";
import { renderWordcount, wordcount, type WordcountResult } from "./wordcount.ts";
import { ysb } from "./ysb.ts";
import { renderYsb, type YsbResult } from "./ysb_report.ts";

export type { BenchOptions } from "./report.ts";

const BENCHES: Record<string, (o: BenchOptions) => Promise<void>> = {
  coordination,
  wordcount,
  ysb,
  recovery,
  memory,
  profile,
};

const RENDERERS: Record<string, (data: never, outDir: string) => Promise<void>> = {
  coordination: (d: CoordinationResult, out) => renderCoordination(d, out),
  wordcount: (d: WordcountResult, out) => renderWordcount(d, out),
  ysb: (d: YsbResult, out) => renderYsb(d, out),
  recovery: (d: RecoveryResult, out) => renderRecovery(d, out),
  memory: (d: MemoryResult, out) => renderMemory(d, out),
  profile: (d: ProfileResult, out) => renderProfile(d, out),
};

/** The benchmarks `bench` runs when none is named, in order: the paper's figures 1-5. */
export const BENCH_NAMES: readonly string[] = ["coordination", "wordcount", "ysb", "recovery", "memory"];

/** Every benchmark that can be named, including the ones not run by default (`profile`). */
export const ALL_BENCH_NAMES: readonly string[] = Object.keys(BENCHES);

/** The results directory of this checkout. */
export const DEFAULT_OUT_DIR = new URL("./results", import.meta.url).pathname;

/**
 * Runs one benchmark by name; its JSON, Markdown and SVG land in `opts.outDir`. Rejects with
 * a RangeError for an unknown name (the message lists the known ones).
 */
export async function runBench(name: string, opts: { quick: boolean; outDir: string }): Promise<void> {
  const bench = BENCHES[name];
  if (!bench) throw new RangeError(`unknown benchmark '${name}' (known: ${ALL_BENCH_NAMES.join(", ")})`);
  const before = codeFingerprint();
  await bench(opts);
  const after = codeFingerprint();
  if (after !== before) {
    // Executors and CLI runs load the sources when they start: later runs measured other code.
    const data = readResult(opts.outDir, name) as Record<string, unknown>;
    data.codeChangedDuringRun = { before, after };
    writeFileSync(`${opts.outDir}/${name}.json`, JSON.stringify(data, null, 2) + "\n");
    await reportBench(name, opts.outDir);
  }
}

/**
 * Writes a benchmark's Markdown and figure again from its saved `<outDir>/<name>.json`, without
 * measuring anything (after a change to the summary or the plot, or to pick up profile.json).
 */
export async function reportBench(name: string, outDir: string): Promise<void> {
  const render = RENDERERS[name];
  if (!render) throw new RangeError(`unknown benchmark '${name}' (known: ${ALL_BENCH_NAMES.join(", ")})`);
  await render(readResult(outDir, name) as never, outDir);
}

/**
 * Writes the summaries and figures of the named benchmarks (all saved ones when none are named)
 * again from `<outDir>/<name>.json`, without measuring. Writes nothing when a named one was
 * never saved: the result says which, for the caller's error.
 */
export async function reportSaved(names: string[], outDir: string): Promise<{ written: string[]; missing: string[] }> {
  const all = names.length ? names : ALL_BENCH_NAMES.filter((n) => existsSync(`${outDir}/${n}.json`));
  const missing = all.filter((n) => !existsSync(`${outDir}/${n}.json`));
  if (missing.length) return { written: [], missing };
  for (const name of all) await reportBench(name, outDir);
  await formatResults(outDir);
  return { written: all, missing };
}
