/**
 * Where results go: `<outDir>/<name>.json` (everything measured, every repetition) and
 * `<outDir>/<name>.md` (the summary a person reads), plus the figures beside them.
 * @module
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, release, totalmem } from "node:os";
import { fmt } from "./stats.ts";

export interface BenchOptions {
  quick: boolean;
  outDir: string;
}

export interface Machine {
  cores: number;
  cpu: string;
  memGB: number;
  kernel: string;
  runtime: string;
  loadavg: number[];
  /** Linux PSI: % of time some runnable task waited for a CPU (avg over 10 s / 60 s), or null. */
  cpuPressure: { avg10: number; avg60: number } | null;
  /** The code measured: the commit checked out and a hash of the engine's sources as they were. */
  code: { head: string; fingerprint: string };
  /** How fast the machine was at the start (see `speedCheck`); absent in older results. */
  speed?: SpeedCheck;
  at: string;
}

/**
 * Two small timings taken as a benchmark starts, so runs on other days (or hours) can be set
 * side by side: this machine's speed drifts by a fifth or more, mostly in what new memory costs.
 */
export interface SpeedCheck {
  /** ms for 50M steps of an integer loop (the cores' own speed). */
  loopMs: number;
  /** ms to touch 32 MB of memory never used before (page faults: the part that drifts most). */
  newMemoryMs: number;
}

/** The median of 3 of each timing of `SpeedCheck`. */
export function speedCheck(): SpeedCheck {
  const median = (f: () => number) => [f(), f(), f()].sort((a, b) => a - b)[1];
  let sink = 0;
  const loopMs = median(() => {
    const t0 = performance.now();
    let x = 0;
    for (let i = 0; i < 5e7; i++) x = (x * 31 + i) | 0;
    sink ^= x;
    return performance.now() - t0;
  });
  const newMemoryMs = median(() => {
    const t0 = performance.now();
    const a = new Uint8Array(32 << 20);
    for (let i = 0; i < a.length; i += 4096) a[i] = 1;
    sink ^= a[4096];
    return performance.now() - t0;
  });
  if (sink === 0.5) console.log(sink); // keeps the loops from being optimised away
  return { loopMs: Math.round(loopMs), newMemoryMs: Math.round(newMemoryMs) };
}

const REPO = new URL("../", import.meta.url).pathname;

/** The checked-out commit, read from .git without running git. */
function gitHead(): string {
  try {
    const head = readFileSync(`${REPO}.git/HEAD`, "utf8").trim();
    if (!head.startsWith("ref: ")) return head.slice(0, 12);
    const ref = head.slice(5);
    const loose = `${REPO}.git/${ref}`;
    if (existsSync(loose)) return readFileSync(loose, "utf8").trim().slice(0, 12);
    const packed = readFileSync(`${REPO}.git/packed-refs`, "utf8").split("\n").find((l) => l.endsWith(` ${ref}`));
    return packed ? packed.slice(0, 12) : ref;
  } catch {
    return "unknown";
  }
}

/**
 * A hash of every source file the measured programs run (mod.ts, engine/, cli/): others edit
 * them while benchmarks run, and a result is only comparable to one of the same code.
 */
export function codeFingerprint(): string {
  const h = createHash("sha256");
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = `${dir}/${name}`;
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".ts")) h.update(p).update(readFileSync(p));
    }
  };
  h.update(readFileSync(`${REPO}mod.ts`));
  walk(`${REPO}engine`);
  walk(`${REPO}cli`);
  return h.digest("hex").slice(0, 12);
}

function cpuPressure(): Machine["cpuPressure"] {
  try {
    const some = readFileSync("/proc/pressure/cpu", "utf8").split("\n")[0];
    const avg10 = Number(/avg10=([\d.]+)/.exec(some)?.[1]);
    const avg60 = Number(/avg60=([\d.]+)/.exec(some)?.[1]);
    return Number.isFinite(avg10) ? { avg10, avg60 } : null;
  } catch {
    return null;
  }
}

export function machine(): Machine {
  const g = globalThis as { Bun?: { version: string } };
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? "unknown",
    memGB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    runtime: g.Bun ? `bun ${g.Bun.version}` : `node ${process.version}`,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    cpuPressure: cpuPressure(),
    code: { head: gitHead(), fingerprint: codeFingerprint() },
    speed: speedCheck(),
    at: new Date().toISOString(),
  };
}

export function machineLine(m: Machine): string {
  const psi = m.cpuPressure
    ? `, CPU pressure ${m.cpuPressure.avg10}% (10 s) / ${m.cpuPressure.avg60}% (60 s) of time with a task waiting for a core`
    : "";
  const code = m.code ? `; code: commit ${m.code.head}, sources ${m.code.fingerprint}` : "";
  const speed = m.speed
    ? `; speed check: 50M-step loop ${m.speed.loopMs} ms, 32 MB of new memory touched ${m.speed.newMemoryMs} ms`
    : "";
  return `${m.cores} cores (${m.cpu}), ${m.memGB} GB, linux ${m.kernel}, ${m.runtime}, load average ${
    m.loadavg.join(" ")
  }${psi}, at start (${m.at})${code}${speed}`;
}

/** A Markdown table. */
export function table(head: string[], rows: Array<Array<string | number>>): string {
  const align = head.map((h) => (h.startsWith(">") ? "---:" : "---"));
  const clean = head.map((h) => h.replace(/^>/, ""));
  return [
    `| ${clean.join(" | ")} |`,
    `| ${align.join(" | ")} |`,
    ...rows.map((r) => `| ${r.map((c) => (typeof c === "number" ? fmt(c) : c.replaceAll("|", "\\|"))).join(" | ")} |`),
  ].join("\n");
}

/** A target line: met, or missed and by how much. */
export function target(what: string, measured: number, goal: number, higherIsBetter: boolean, unit = ""): string {
  if (!Number.isFinite(measured)) return `- **${what}**: not measured`;
  const met = higherIsBetter ? measured >= goal : measured <= goal;
  const u = unit ? ` ${unit}` : "";
  const by = higherIsBetter ? goal / measured : measured / goal;
  return met
    ? `- **${what}**: met (${fmt(measured)}${u} vs target ${higherIsBetter ? ">=" : "<="} ${fmt(goal)}${u})`
    : `- **${what}**: MISSED: ${fmt(measured)}${u} vs target ${higherIsBetter ? ">=" : "<="} ${fmt(goal)}${u} ` +
      `(off by ${by.toFixed(1)}x)`;
}

export function writeResult(outDir: string, name: string, data: unknown, markdown: string): void {
  mkdirSync(outDir, { recursive: true });
  const changed = (data as { codeChangedDuringRun?: { before: string; after: string } }).codeChangedDuringRun;
  if (changed) {
    markdown += `\n\n**Warning:** the engine's sources changed while this benchmark ran (${changed.before} → ` +
      `${changed.after}); runs started after the change measured the new code, so repetitions may not be comparable.\n`;
  }
  writeFileSync(`${outDir}/${name}.json`, JSON.stringify(data, null, 2) + "\n");
  writeFileSync(`${outDir}/${name}.md`, markdown.trimEnd() + "\n");
}

export function readResult(outDir: string, name: string): unknown {
  return JSON.parse(readFileSync(`${outDir}/${name}.json`, "utf8"));
}

/** Progress on stderr: benchmarks run for minutes and should say what they are doing. */
export function note(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/**
 * Formats the results as `deno fmt --check` (CI) expects them, when results are in the
 * repository and npm installed Deno; otherwise leaves them as written.
 */
export function formatResults(outDir: string): Promise<void> {
  const deno = new URL("../node_modules/.bin/deno", import.meta.url).pathname;
  if (existsSync(deno) && existsSync(outDir)) spawnSync(deno, ["fmt", "--quiet", outDir], { stdio: "ignore" });
  return Promise.resolve();
}

/**
 * The top functions of a saved CPU profile (profile.json, from `bench profile`) as one line,
 * e.g. "`arrive` (engine/executor/scheduler.ts:57) 13% self, …"; "" when there is none.
 */
export function profileHint(outDir: string, name: string, who: "driver" | "executors", n = 4): string {
  try {
    const p = readResult(outDir, "profile") as {
      cases: Record<
        string,
        Record<string, { busyMs: number; top: Array<{ name: string; where: string; selfMs: number }> }>
      >;
    };
    const s = p.cases[name]?.[who];
    if (!s) return "";
    return s.top.slice(0, n).map((f) => `\`${f.name}\` (${f.where}) ${(100 * f.selfMs / s.busyMs).toFixed(0)}% self`)
      .join(", ");
  } catch {
    return "";
  }
}
