import { fileURLToPath } from "node:url";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** Which runtime is running this process. */
export function runtimeName(): "bun" | "deno" | "node" {
  if (g.Bun) return "bun";
  if (g.Deno) return "deno";
  return "node";
}

/**
 * True inside a standalone binary: `bun build --compile` (its entry lives in the embedded
 * file system, `/$bunfs/...`, `B:/~BUN/...` on Windows) or `deno compile`.
 */
export function isCompiledBinary(): boolean {
  if (g.Bun) return String(g.Bun.main).startsWith("/$bunfs/") || String(g.Bun.main).includes("~BUN");
  return g.Deno?.build?.standalone === true;
}

/**
 * The command that starts an executor process of this same program (the launcher appends
 * `executor`): the standalone binary itself, or the runtime with the executor's own entry script,
 * which loads the engine without the command line. Under Deno the executable is started
 * directly (not as `deno` from PATH, which in a deno task may be npm's launcher).
 */
export function selfCommand(): string[] {
  if (isCompiledBinary()) return [process.execPath];
  const main = fileURLToPath(new URL("../../cli/executor_main.ts", import.meta.url));
  if (g.Deno) return [g.Deno.execPath(), "run", "-A", "--quiet", main];
  return [process.execPath, main];
}

export function runtimeVersion(): string {
  if (g.Bun) return `bun ${g.Bun.version}`;
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  return `node ${process.version}`;
}

/**
 * The URL of one of this program's modules, by its path from the project root, for a Worker:
 * `from` is the caller's `import.meta.url`, `depth` how many folders below the root it is. In a
 * standalone binary the modules built as extra entry points sit under the embedded root.
 */
export function moduleUrl(path: string, from: string, depth: number): string {
  if (isCompiledBinary() && g.Bun) return `file:///$bunfs/root/${path}`;
  return new URL("../".repeat(depth) + path, from).href;
}

/**
 * How a run trades memory for speed (`drizzle run --footprint`, or `DRIZZLE_FOOTPRINT`): "fast"
 * (the default) for backlogs, "small" for a bounded footprint.
 */
export type Footprint = "fast" | "small";

export const FOOTPRINTS: readonly Footprint[] = ["fast", "small"];

/**
 * Settings of Bun's allocator (mimalloc) per footprint, for every process of a run (`bin/drizzle`
 * sets the driver's own; a value the user set in the environment is kept).
 *
 * `MIMALLOC_PURGE_DELAY=-1` (fast): the allocator keeps memory it freed instead of handing it back
 * to the system 10 ms later. An executor frees and takes the same megabytes many times a second
 * (input frames, decoded text, output), and each time it got them back from the system it paid a
 * page fault per 4 KB: in YSB, about a third of the executors' CPU. Its resident size then stays
 * at its high point rather than shrinking between bursts. The driver keeps the default delay: its
 * input buffers are pooled, and keeping its freed memory made a backlog only 5-7% faster while
 * its peak under a slow reader grew from 150 to 200 MB.
 *
 * `MIMALLOC_ALLOW_THP=1` (fast): the allocator asks for transparent huge pages (2 MB) where the
 * system allows them on request (`/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` or
 * `always`). Even kept memory is faulted in once, and a page fault is dear on a virtual machine:
 * with 2 MB pages a 2M-event YSB backlog took 15% less CPU and wall time and the 50 MB word count
 * 16% less, for about 50 MB more resident memory per process (pages are whole 2 MB; an idle
 * executor holds 115 MB instead of 58).
 *
 * small: freed memory goes back after 10 ms, 4 KB pages, and (cli/commands/run.ts) batches of
 * SMALL_BATCH_RECORDS records: under a 20 MB/s reader, driver and two executors peak under 300 MB
 * instead of about 600, and a backlog takes about twice the CPU and time (bench/README.md, memory).
 */
export const FOOTPRINT_ENV: Readonly<Record<Footprint, Readonly<Record<string, string>>>> = {
  fast: { MIMALLOC_PURGE_DELAY: "-1", MIMALLOC_ALLOW_THP: "1" },
  small: { MIMALLOC_PURGE_DELAY: "10", MIMALLOC_ALLOW_THP: "0" },
};

/** The records per batch (`--batch-records`) of the small footprint, unless given. */
export const SMALL_BATCH_RECORDS = 10_000;

/** The footprint this environment asks for (`DRIZZLE_FOOTPRINT`); "fast" unless it says "small". */
export function footprintOf(env: Record<string, string | undefined> = process.env): Footprint {
  return env.DRIZZLE_FOOTPRINT === "small" ? "small" : "fast";
}

/**
 * Environment for an executor process: the allocator settings of the run's footprint
 * (FOOTPRINT_ENV), where the user did not set them.
 */
export function processEnv(env: Record<string, string | undefined> = process.env): Record<string, string> {
  const want = FOOTPRINT_ENV[footprintOf(env)];
  return {
    MIMALLOC_PURGE_DELAY: env.MIMALLOC_PURGE_DELAY || want.MIMALLOC_PURGE_DELAY,
    MIMALLOC_ALLOW_THP: env.MIMALLOC_ALLOW_THP || want.MIMALLOC_ALLOW_THP,
  };
}
