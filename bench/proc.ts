/**
 * Processes for the benchmarks: run a command (or a shell pipeline) and time it, and sample a
 * process tree's memory and CPU from /proc (Linux), e.g. a driver and its executors.
 * @module
 */
import { spawn, type StdioOptions } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";

export const ROOT = new URL("../", import.meta.url).pathname;
/** The Bun npm installed for this project (the brief: never a global one). */
export const BUN = `${ROOT}node_modules/.bin/bun`;
export const DRIZZLE = `${ROOT}bin/drizzle`;

export interface Finished {
  code: number | null;
  signal: string | null;
  ms: number;
  stderr: string;
}

export interface RunOptions {
  /** A file to read stdin from (default: nothing). */
  stdinFile?: string;
  /** A file to write stdout to (default: discarded). */
  stdoutFile?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Called with the child's pid once it started (for samplers). */
  onStart?: (pid: number) => void;
  timeoutMs?: number;
}

/** Runs a command with stdin/stdout redirected to files, as a shell would; resolves when it exits. */
export function run(cmd: string, args: string[], o: RunOptions = {}): Promise<Finished> {
  const fin = o.stdinFile ? openSync(o.stdinFile, "r") : "ignore";
  const fout = o.stdoutFile ? openSync(o.stdoutFile, "w") : "ignore";
  const stdio: StdioOptions = [fin, fout, "pipe"];
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio, env: { ...process.env, ...o.env }, cwd: o.cwd ?? ROOT });
  if (typeof fin === "number") closeSync(fin);
  if (typeof fout === "number") closeSync(fout);
  if (child.pid) o.onStart?.(child.pid);
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
    if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
  });
  let timedOut = false;
  const timer = o.timeoutMs
    ? setTimeout(() => {
      timedOut = true;
      if (child.pid) killTree(child.pid);
    }, o.timeoutMs)
    : null;
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (timedOut) stderr += `\nbench: killed after ${o.timeoutMs} ms (hung or far too slow)\n`;
      resolve({ code, signal, ms: performance.now() - t0, stderr });
    });
  });
}

/** SIGKILLs a process and every descendant (a shell pipeline, a driver and its executors). */
export function killTree(root: number): void {
  for (const p of processTree(root).reverse()) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch { /* already gone */ }
  }
}

/** Runs `sh -c script` (pipelines of standard tools). */
export function sh(script: string, o: RunOptions = {}): Promise<Finished> {
  return run("/bin/sh", ["-c", script], o);
}

interface ProcInfo {
  pid: number;
  ppid: number;
  /** user + system CPU, in clock ticks */
  ticks: number;
  rssKB: number;
  cmd: string;
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(rest[1]);
    const ticks = Number(rest[11]) + Number(rest[12]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    return { pid, ppid, ticks, rssKB: m ? Number(m[1]) : 0, cmd };
  } catch {
    return null; // exited between listing and reading
  }
}

/** Every process now: pid -> info. */
function allProcs(): Map<number, ProcInfo> {
  const out = new Map<number, ProcInfo>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const p = readProc(Number(d));
    if (p) out.set(p.pid, p);
  }
  return out;
}

/** A process and all its descendants now. */
export function processTree(root: number): ProcInfo[] {
  const all = allProcs();
  const kids = new Map<number, number[]>();
  for (const p of all.values()) {
    const k = kids.get(p.ppid) ?? [];
    k.push(p.pid);
    kids.set(p.ppid, k);
  }
  const out: ProcInfo[] = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    const p = all.get(pid);
    if (!p) continue;
    out.push(p);
    stack.push(...(kids.get(pid) ?? []));
  }
  return out;
}

export interface TreeSample {
  /** ms since the sampler started */
  t: number;
  /** Summed VmRSS of the selected processes, in MB. */
  rssMB: number;
  /** Per process: pid -> RSS MB. */
  byPid: Record<number, number>;
  /**
   * Summed proportional set size, in MB (when asked for): RSS with each page shared between
   * processes (the runtime's executable, mapped by all of them) divided among its sharers.
   */
  pssMB?: number;
}

/** A process's proportional set size in kB, from /proc (0 if it is gone). */
export function pssKB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Samples the RSS of a process tree every `everyMs` (only the processes `select` keeps), and
 * remembers each process's last CPU ticks, so CPU time per process is known even after it exits.
 */
export class TreeSampler {
  readonly samples: TreeSample[] = [];
  readonly cpu = new Map<number, { cmd: string; ticks: number }>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #t0 = performance.now();
  #root = 0;

  constructor(
    readonly everyMs = 100,
    readonly select: (p: ProcInfo) => boolean = () => true,
    /** Also sample the proportional set size (reads each process's smaps_rollup). */
    readonly pss = false,
  ) {}

  start(root: number): void {
    this.#root = root;
    this.#t0 = performance.now();
    this.sample();
    this.#timer = setInterval(() => this.sample(), this.everyMs);
  }

  sample(): void {
    const procs = processTree(this.#root).filter(this.select);
    const byPid: Record<number, number> = {};
    let kb = 0;
    let pss = 0;
    for (const p of procs) {
      byPid[p.pid] = Math.round(p.rssKB / 102.4) / 10;
      kb += p.rssKB;
      if (this.pss) pss += pssKB(p.pid);
      this.cpu.set(p.pid, { cmd: p.cmd, ticks: p.ticks });
    }
    if (!procs.length) return;
    const t = performance.now() - this.#t0;
    this.samples.push(this.pss ? { t, rssMB: kb / 1024, byPid, pssMB: pss / 1024 } : { t, rssMB: kb / 1024, byPid });
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  get peakMB(): number {
    return this.samples.reduce((m, s) => Math.max(m, s.rssMB), 0);
  }

  /** Peak of the summed proportional set size (0 unless sampled). */
  get peakPssMB(): number {
    return this.samples.reduce((m, s) => Math.max(m, s.pssMB ?? 0), 0);
  }

  /** CPU seconds per process seen (clock ticks are 1/100 s on Linux). */
  cpuSeconds(): Array<{ pid: number; cmd: string; s: number }> {
    return [...this.cpu].map(([pid, c]) => ({ pid, cmd: c.cmd, s: c.ticks / 100 }));
  }
}
