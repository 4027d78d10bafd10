/**
 * Reads the `.cpuprofile` files Bun writes with `--cpu-prof` (Chrome DevTools format) and ranks
 * functions by self time and by total (inclusive) time, so a benchmark can say which function
 * its time went to. Used by `bench profile`; also a program:
 *
 *     bun bench/cpu_profile.ts DIR [top]
 *
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface FunctionTime {
  name: string;
  /** file:line, relative to the repository when inside it. */
  where: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  file: string;
  /** Wall ms the profile spans. */
  sampledMs: number;
  /** ms charged to samples (gaps longer than 3 sampling periods count as idle). */
  busyMs: number;
  top: FunctionTime[];
}

const IDLE = new Set(["(idle)", "(program)", "(root)"]);

function frameKey(n: ProfileNode, root: string): { name: string; where: string } {
  const url = n.callFrame.url.replace(/^file:\/\//, "").replace(root, "");
  const name = n.callFrame.functionName || "(anonymous)";
  return { name, where: url ? `${url}:${n.callFrame.lineNumber + 1}` : "(native)" };
}

/** Self and inclusive time per function of one or more profiles (summed), biggest self time first. */
export function summarizeProfile(paths: string | string[], root: string, top = 15): ProfileSummary {
  const list = typeof paths === "string" ? [paths] : paths;
  const fns = new Map<string, FunctionTime>();
  let sampledMs = 0;
  let busyMs = 0;
  for (const path of list) {
    const r = addProfile(path, root, fns);
    sampledMs += r.sampledMs;
    busyMs += r.busyMs;
  }
  const ranked = [...fns.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  return { file: list.join(", "), sampledMs, busyMs, top: ranked };
}

function addProfile(path: string, root: string, fns: Map<string, FunctionTime>): { sampledMs: number; busyMs: number } {
  const p = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // ms per node from samples and time deltas (hitCount alone has no duration).
  const selfByNode = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  // Bun writes no "(idle)" samples: a gap much longer than the sampling period is time the
  // thread was idle (or descheduled), so a sample is charged at most a few periods.
  const sorted = deltas.filter((d) => d > 0).sort((a, b) => a - b);
  const cap = 3 * (sorted[sorted.length >> 1] ?? 1000);
  let sampledMs = 0;
  for (let i = 0; i < samples.length; i++) {
    const raw = deltas[i + 1] ?? deltas[i] ?? 0;
    sampledMs += raw / 1000;
    selfByNode.set(samples[i], (selfByNode.get(samples[i]) ?? 0) + Math.min(raw, cap) / 1000);
  }
  let busyMs = 0;
  for (const [id, ms] of selfByNode) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === "(idle)") continue;
    busyMs += ms;
    const { name, where } = frameKey(n, root);
    const key = `${name} ${where}`;
    const f = fns.get(key) ?? { name, where, selfMs: 0, totalMs: 0 };
    f.selfMs += ms;
    fns.set(key, f);
    // Inclusive: charge every distinct function on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const a = byId.get(cur)!;
      if (IDLE.has(a.callFrame.functionName)) continue;
      const k = frameKey(a, root);
      const kk = `${k.name} ${k.where}`;
      if (seen.has(kk)) continue;
      seen.add(kk);
      const g = fns.get(kk) ?? { ...k, selfMs: 0, totalMs: 0 };
      g.totalMs += ms;
      fns.set(kk, g);
    }
  }
  return { sampledMs, busyMs };
}

/** Summaries of every profile in a directory. */
export function summarizeProfiles(dir: string, root: string, top = 15): ProfileSummary[] {
  return readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).sort().map((f) =>
    summarizeProfile(join(dir, f), root, top)
  );
}

/** A Markdown table of one summary. */
export function profileTable(s: ProfileSummary): string {
  const rows = s.top.map((f) =>
    `| ${f.selfMs.toFixed(0)} | ${(100 * f.selfMs / Math.max(1, s.busyMs)).toFixed(1)}% | ${
      f.totalMs.toFixed(0)
    } | \`${f.name}\` | ${f.where} |`
  );
  return [
    `busy ~${s.busyMs.toFixed(0)} ms of ${s.sampledMs.toFixed(0)} ms profiled`,
    "",
    "| self ms | self % of busy | total ms | function | where |",
    "| ---: | ---: | ---: | --- | --- |",
    ...rows,
  ].join("\n");
}

if (import.meta.main) {
  const dir = process.argv[2] ?? ".";
  const root = new URL("../", import.meta.url).pathname;
  for (const s of summarizeProfiles(dir, root, Number(process.argv[3] ?? 15))) {
    console.log(`## ${s.file}\n\n${profileTable(s)}\n`);
  }
}
