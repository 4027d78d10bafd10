/**
 * A YSB backlog through a pipe, `cat events | drizzle run pipelines/ysb.yaml`, two ways,
 * interleaved: drizzle growing the pipe to 1 MB (the default) and leaving it at the system's
 * size, 64 KB (`--pipe-buffer keep`). Wall time and the CPU of the whole pipeline (cat, driver,
 * executors) side by side, medians and spreads.
 *
 *     bun bench/stdin_pipe.ts [million events=4] [reps=4]
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { shellQuote } from "../engine/launch/ship.ts";
import { DRIZZLE, ROOT, sh } from "./proc.ts";
import { fmtSpread, ratio, spread } from "./stats.ts";
import { campaignsFile, eventsFile } from "./ysb.ts";

const EVENTS = Math.round(Number(process.argv[2] ?? 4) * 1e6);
const REPS = Number(process.argv[3] ?? 4);
const RATE = 1_000_000;

/** CPU seconds of this process's children that have exited and been waited for (Linux). */
function childrenCpu(): number {
  const f = readFileSync("/proc/self/stat", "utf8");
  const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / 100; // cutime + cstime, in clock ticks
}

async function once(how: "grown" | "keep", events: string, campaigns: string): Promise<{ wall: number; cpu: number }> {
  const flag = how === "keep" ? "--pipe-buffer keep" : "--pipe-buffer 1MB";
  const c0 = childrenCpu();
  const pipeline = [DRIZZLE, "run", `${ROOT}pipelines/ysb.yaml`, "--workers", "2", "-q"].map(shellQuote).join(" ");
  const r = await sh(`cat ${shellQuote(events)} | ${pipeline} ${flag} > /dev/null`, {
    env: { YSB_CAMPAIGNS: campaigns },
  });
  if (r.code !== 0) throw new Error(`drizzle run failed (exit ${r.code}): ${r.stderr}`);
  return { wall: r.ms / 1000, cpu: childrenCpu() - c0 };
}

const events = await eventsFile(EVENTS, RATE);
const campaigns = await campaignsFile();
const runs = { grown: [] as Array<{ wall: number; cpu: number }>, keep: [] as Array<{ wall: number; cpu: number }> };
await once("grown", events, campaigns); // warm-up: the file into the page cache
for (let i = 0; i < REPS; i++) {
  for (const how of ["keep", "grown"] as const) {
    const r = await once(how, events, campaigns);
    runs[how].push(r);
    console.error(`run ${i + 1}/${REPS} ${how}: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU`);
  }
}
for (const how of ["keep", "grown"] as const) {
  const label = how === "keep" ? "pipe left at 64 KB (--pipe-buffer keep)" : "pipe grown to 1 MB (default)";
  console.log(
    `${label}: wall ${fmtSpread(spread(runs[how].map((r) => r.wall)), "s")}, CPU ${
      fmtSpread(spread(runs[how].map((r) => r.cpu)), "s")
    }`,
  );
}
const w = ratio(runs.keep.map((r) => r.wall), runs.grown.map((r) => r.wall));
const c = ratio(runs.keep.map((r) => r.cpu), runs.grown.map((r) => r.cpu));
console.log(
  `${EVENTS / 1e6}M events, ${REPS} runs each: 64 KB / 1 MB wall ${fmtSpread(w, "x")}, CPU ${fmtSpread(c, "x")}`,
);
