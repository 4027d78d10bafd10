/**
 * The YSB benchmark's feeder, a process of its own whose stdout is drizzle's stdin:
 *
 *     bun bench/feeder.ts EVENTS_FILE LINES RATE READY_FILE REPORT_FILE | drizzle run ...
 *
 * Reads the first LINES lines of EVENTS_FILE, waits until READY_FILE (drizzle's `--metrics`)
 * shows a committed batch (at most 30 s), then writes line i at t0 + i / RATE seconds (see
 * feedPacedSync), closes stdout and writes `{"t0": epoch ms, "backlogBytes": n}` to REPORT_FILE.
 * @module
 */
import { closeSync, existsSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { feedPacedSync, lineStarts } from "./paced.ts";

const [file, lineArg, rateArg, ready, report] = process.argv.slice(2);
const lines = Number(lineArg);
const rate = Number(rateArg);
if (!report || !(lines > 0) || !(rate > 0)) {
  console.error("usage: feeder.ts EVENTS_FILE LINES RATE READY_FILE REPORT_FILE");
  process.exit(2);
}
const buf = readFileSync(file);
const starts = lineStarts(buf);
if (starts.length - 1 < lines) {
  console.error(`feeder: ${file} has ${starts.length - 1} lines, not ${lines}`);
  process.exit(2);
}
const waited = performance.now();
while (!(existsSync(ready) && readFileSync(ready, "utf8").includes('"batch"'))) {
  if (performance.now() - waited > 30_000) break;
  await new Promise((r) => setTimeout(r, 20));
}
const t0 = Date.now();
const backlogBytes = feedPacedSync((chunk) => writeSync(1, chunk), buf, starts, lines, rate);
closeSync(1);
writeFileSync(report, JSON.stringify({ t0, backlogBytes }));
