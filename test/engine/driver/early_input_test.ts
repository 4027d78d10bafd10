/**
 * Input is read and cut into batches while the executors start: a short run's start-up is mostly
 * theirs. What was cut before they registered must then run in order, nothing lost or doubled,
 * and the reading must stop a few batches ahead, as it does once running.
 */
import { expect, test } from "bun:test";
import { Readable, Writable } from "node:stream";
import { buildPlan, Driver, InProcessLauncher, loadPipeline, RunError } from "../../../mod.ts";
import type { LaunchSpec } from "../../../engine/driver/launcher.ts";

const yaml = `
source: { stdin: { format: lines } }
steps:
  - filter: "line.length > 0"
    as: line
sink: { stdout: { format: lines } }
`;

/** In-process executors that take `delayMs` to start; notes what was read when they did. */
class SlowStart extends InProcessLauncher {
  readAtStart = -1;
  constructor(readonly delayMs: number, readonly readSoFar: () => number) {
    super();
  }

  override async start(spec: LaunchSpec): Promise<void> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.readAtStart = this.readSoFar();
    await super.start(spec);
  }
}

class Collect extends Writable {
  text = "";
  override _write(chunk: Uint8Array, _enc: string, done: () => void): void {
    this.text += new TextDecoder().decode(chunk);
    done();
  }
}

const driverFor = (launcher: InProcessLauncher, stdin: Readable, stdout: Writable, batchRecords: number) =>
  new Driver({
    plan: buildPlan(loadPipeline(yaml, "<pipeline>", {}), { partitions: 2 }),
    mode: "drizzle",
    workers: 2,
    groupSize: 1,
    intervalMs: 3_600_000,
    batchRecords,
    launcher,
    stdin,
    stdout,
    maxBufferBytes: 1 << 30,
  });

test("input cut while executors start runs once they register: all of it, once, a few batches read ahead", async () => {
  const lines = 20_000;
  const chunkLines = 500;
  let read = 0;
  const input = Readable.from(
    (function* () {
      for (let i = 0; i < lines; i += chunkLines) {
        let s = "";
        for (let j = i; j < i + chunkLines; j++) s += `line ${j}\n`;
        read += chunkLines;
        yield new TextEncoder().encode(s);
      }
    })(),
    { objectMode: false },
  );
  const launcher = new SlowStart(300, () => read);
  const out = new Collect();
  const batchRecords = 1000;
  const summary = await driverFor(launcher, input, out, batchRecords).run();

  // Read before the executors started, but only a few batches' worth (the same limit as when
  // running: 4 batches not yet written), plus what the reader had in hand.
  expect(launcher.readAtStart).toBeGreaterThanOrEqual(batchRecords);
  expect(launcher.readAtStart).toBeLessThanOrEqual(4 * batchRecords + 4 * chunkLines);
  expect(summary.recordsIn).toBe(lines);
  const got = out.text.trimEnd().split("\n").map((l) => Number(l.slice(5)));
  expect(got.length).toBe(lines);
  expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: lines }, (_, i) => i));
}, 60_000);

test("an input error while executors start fails the run once they are up, with the reason", async () => {
  const input = new Readable({
    read() {
      this.destroy(new Error("disk on fire"));
    },
  });
  const launcher = new SlowStart(200, () => 0);
  const run = driverFor(launcher, input, new Collect(), 1000).run();
  await expect(run).rejects.toThrow(RunError);
  await expect(run).rejects.toThrow(/cannot read input: disk on fire/);
  // The executors had started: the error waited for them instead of racing their start.
  expect(launcher.executors.length).toBe(2);
}, 30_000);
