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
 * Environment for an executor process, for Bun's allocator (mimalloc); a value the user set is
 * kept.
 *
 * `MIMALLOC_PURGE_DELAY=-1`: the allocator keeps memory it freed instead of handing it back to
 * the system 10 ms later. An executor frees and takes the same megabytes many times a second
 * (input frames, decoded text, output), and each time it got them back from the system it paid a
 * page fault per 4 KB: in YSB, about a third of the executors' CPU. Its resident size then stays
 * at its high point rather than shrinking between bursts. The driver keeps the default delay: its
 * input buffers are pooled, and keeping its freed memory made a backlog only 5-7% faster while
 * its peak under a slow reader grew from 150 to 200 MB.
 *
 * `MIMALLOC_ALLOW_THP=1`: the allocator asks for transparent huge pages (2 MB) where the system
 * allows them on request (`/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` or
 * `always`). Even kept memory is faulted in once, and a page fault is dear on a virtual machine:
 * with 2 MB pages a 2M-event YSB backlog took 15% less CPU and wall time and the 50 MB word count
 * 16% less, for about 50 MB more resident memory per process (pages are whole 2 MB). `bin/drizzle`
 * sets it for the driver too. Set `MIMALLOC_ALLOW_THP=0` for the smaller footprint.
 */
export function processEnv(): Record<string, string> {
  return {
    MIMALLOC_PURGE_DELAY: process.env.MIMALLOC_PURGE_DELAY || "-1",
    MIMALLOC_ALLOW_THP: process.env.MIMALLOC_ALLOW_THP || "1",
  };
}
