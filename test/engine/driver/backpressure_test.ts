/**
 * Backpressure from the sink: when the reader of the output is the slowest part, the driver must
 * stop reading input a few batches ahead of what was written, not keep cutting batches whose
 * output then waits in memory for the sink.
 */
import { expect, test } from "bun:test";
import { Readable, Writable } from "node:stream";
import { buildPlan, Driver, InProcessLauncher, loadPipeline } from "../../../mod.ts";

const yaml = `
source: { stdin: { format: lines } }
steps:
  - filter: "line.length > 0"
    as: line
sink: { stdout: { format: lines } }
`;

const LINE = "y".repeat(99) + "\n";
const CHUNK = new TextEncoder().encode(LINE.repeat(640)); // 64 KB
const CHUNKS = 128; // 8 MB of input in all

/** A slow reader of the output: each write is taken a few milliseconds after it was made. */
class SlowSink extends Writable {
  /** Bytes taken (their write has called back). */
  taken = 0;

  override _write(chunk: Uint8Array, _enc: string, done: (e?: Error | null) => void): void {
    setTimeout(() => {
      this.taken += chunk.length;
      done();
    }, 5);
  }
}

test("a slow sink holds the input back: only a few batches are read ahead of what it took", async () => {
  const sink = new SlowSink({ highWaterMark: 16 * 1024 });
  let read = 0;
  let ahead = 0;
  const input = Readable.from(
    (function* () {
      for (let i = 0; i < CHUNKS; i++) {
        read += CHUNK.length;
        ahead = Math.max(ahead, read - sink.taken);
        yield CHUNK;
      }
    })(),
    { objectMode: false },
  );
  const batchRecords = 1000; // 100 KB batches
  const summary = await new Driver({
    plan: buildPlan(loadPipeline(yaml, "<pipeline>", {}), { partitions: 4 }),
    mode: "drizzle",
    workers: 2,
    groupSize: 1,
    intervalMs: 3_600_000,
    batchRecords,
    launcher: new InProcessLauncher(),
    stdin: input,
    stdout: sink,
    // Far above the input: only the batches waiting for the sink can hold the source back.
    maxBufferBytes: 1 << 30,
  }).run();
  const total = CHUNK.length * CHUNKS;
  expect(summary.recordsIn).toBe(total / LINE.length);
  expect(sink.taken).toBe(total);
  // At most 4 batches not yet written (group size 1), plus the chunks being cut and buffered.
  expect(ahead).toBeLessThan(4 * batchRecords * LINE.length + 4 * CHUNK.length);
}, 60_000);
