/**
 * YSB's first stage in one process, without scheduling, sockets or process start: the map tasks
 * of pipelines/ysb.yaml (decode into lines, parse json with fields, filter, map, join, window
 * combine) on 4 MB chunks of generated events, with the collections an executor makes,
 * once to warm up and once measured.
 * Beside it, the same chunks only decoded into lines (a first stage that keeps nothing), so the
 * operators' share shows. CPU ms per million events, median and range; each variant runs in a
 * process of its own (sharing one would make the engine's call sites see two pipelines).
 *
 *     bun bench/ysb_dataplane.ts [millions=1] [reps=3]
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { StageRunner } from "../engine/executor/task.ts";
import { ysbEventsBytes } from "../engine/io/ysb.ts";
import { loadTables } from "../engine/ops/join.ts";
import { Rejects } from "../engine/ops/reject.ts";
import { buildPlan, loadPipeline } from "../engine/plan/mod.ts";
import { buffersPassed, collectAtQuietPoints, processEnv, quietPoint } from "../engine/runtime/mod.ts";
import { quietPointCollections } from "../engine/executor/process.ts";
import { fmtSpread, spread } from "./stats.ts";

const CHUNK = 4 << 20;
const PIPELINE = fileURLToPath(new URL("../pipelines/ysb.yaml", import.meta.url));

/** The pipeline of a variant: YSB itself, or its source with a step that keeps nothing. */
function pipelineText(variant: string): string {
  const ysb = readFileSync(PIPELINE, "utf8");
  if (variant === "ysb") return ysb;
  const steps = ysb.slice(ysb.indexOf("steps:"), ysb.indexOf("sink:"));
  return ysb.replace(steps, 'steps:\n  - filter: "false"\n');
}

/** One measurement in this process: CPU ms of the first stage over `millions` of events. */
async function measure(variant: string, millions: number): Promise<number> {
  // The join's table is the generator's default (seed 1), as when YSB_CAMPAIGNS is unset.
  const plan = buildPlan(loadPipeline(pipelineText(variant), PIPELINE, {}), { partitions: 2 });
  await loadTables(plan, (p) => readFileSync(p, "utf8"));
  const events = ysbEventsBytes({ seed: 1, count: millions * 1_000_000, rate: 100_000, startTimeMs: 1.7e12 });
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < events.length;) {
    const nl = events.indexOf(10, Math.min(events.length, at + CHUNK) - 1);
    const end = nl < 0 ? events.length : nl + 1;
    chunks.push(events.subarray(at, end));
    at = end;
  }
  const map = new StageRunner(plan, 0, new Rejects(false));
  // Collections as an executor makes them (engine/executor/process.ts): after each task.
  if (quietPointCollections(process.env)) collectAtQuietPoints();
  const pass = () => {
    for (const data of chunks) {
      buffersPassed(data.length);
      map.run(0, { kind: "source", data, time: 0 }, false);
      quietPoint();
    }
  };
  // The first pass warms the JIT up (a fixed cost, not one per event); the second is measured.
  pass();
  const c0 = process.cpuUsage();
  pass();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / millions;
}

if (import.meta.main) {
  const [a, b] = process.argv.slice(2);
  if (a === "--variant") {
    console.log(await measure(b, Number(process.argv[4] ?? 1)));
  } else {
    const millions = Number(a ?? 1);
    const reps = Number(b ?? 3);
    const self = fileURLToPath(import.meta.url);
    const runs: Record<string, number[]> = { lines: [], ysb: [] };
    for (let r = 0; r < reps; r++) {
      for (const variant of Object.keys(runs)) {
        const p = spawnSync(process.execPath, [self, "--variant", variant, String(millions)], {
          env: { ...process.env, ...processEnv() },
          encoding: "utf8",
        });
        if (p.status !== 0) throw new Error(`${variant}: ${p.stderr}`);
        runs[variant].push(Number(p.stdout.trim()));
      }
    }
    console.log(`YSB first stage, ${millions}M events in 4 MB chunks, CPU ms per million events (${reps} runs):`);
    console.log(`  decode into lines only: ${fmtSpread(spread(runs.lines), "ms")}`);
    console.log(`  the whole first stage:  ${fmtSpread(spread(runs.ysb), "ms")}`);
  }
}
