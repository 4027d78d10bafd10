/**
 * Paced input for latency benchmarks: whole lines pushed at a fixed rate (lines per second),
 * as a live stream would deliver them, so batches are cut by the interval and a batch's latency
 * is what a record waits, not how deep a backlog is.
 * @module
 */
import { PassThrough } from "node:stream";

/** Splits text into its lines (each with its newline). */
export function linesOf(text: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf(10, start);
    if (nl < 0) break;
    out.push(text.subarray(start, nl + 1));
    start = nl + 1;
  }
  return out;
}

/**
 * A stream that writes `lines` at `perSecond`, catching up after a stall (the rate is by
 * elapsed time, not by ticks), and ends after the last line. `started` is when the first line went.
 */
export function pacedStream(lines: Uint8Array[], perSecond: number, tickMs = 10): {
  stream: PassThrough;
  started: () => number;
} {
  const stream = new PassThrough({ highWaterMark: 1 << 20 });
  let sent = 0;
  let t0 = 0;
  const tick = () => {
    if (t0 === 0) t0 = performance.now();
    const due = Math.min(lines.length, Math.floor(((performance.now() - t0) / 1000) * perSecond));
    if (due > sent) {
      stream.write(Buffer.concat(lines.slice(sent, due)));
      sent = due;
    }
    if (sent >= lines.length) {
      clearInterval(timer);
      stream.end();
    }
  };
  const timer = setInterval(tick, tickMs);
  return { stream, started: () => t0 };
}

/** Searched at most this much at a time (see eachNewline). */
const SEARCH_WINDOW = 64 << 20;

/**
 * Calls `found(i)` with the index of every newline in `buf`, in order. Searched in windows that
 * are plain Uint8Arrays: `indexOf` on a Node Buffer, or on any view of gigabytes, costs time in
 * proportion to its length on every call (a 3.4 GB file of events took minutes).
 */
function eachNewline(buf: Uint8Array, found: (i: number) => void): void {
  for (let base = 0; base < buf.length; base += SEARCH_WINDOW) {
    const w = new Uint8Array(buf.buffer, buf.byteOffset + base, Math.min(SEARCH_WINDOW, buf.length - base));
    for (let i = w.indexOf(10); i >= 0; i = w.indexOf(10, i + 1)) found(base + i);
  }
}

/**
 * Offsets of line starts (and the end) in a buffer of lines. Float64: a file of a high rate's
 * events passes 4 GB.
 */
export function lineStarts(buf: Uint8Array): Float64Array {
  let n = 0;
  eachNewline(buf, () => n++);
  const out = new Float64Array(n + 1);
  let k = 1;
  eachNewline(buf, (i) => (out[k++] = i + 1));
  return out;
}

const napCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for `ms` (a feeder process has nothing else to do meanwhile). */
function sleepSync(ms: number): void {
  Atomics.wait(napCell, 0, 0, ms);
}

/** The most the feeder hands the pipe in one write. */
const FEED_WRITE = 256 << 10;

/**
 * Writes line i of `buf` (`starts` from lineStarts) at i / perSecond seconds from now with
 * `write` (a blocking write to a pipe: returns the bytes taken, throws when the reader is gone);
 * returns, once all is written, the bytes that were due but not yet taken when the last line was
 * due. Like a producer with blocking writes it gives the pipe only what it takes, and what falls
 * due while a write waits is the backlog. Runs in a process of its own (bench/feeder.ts): a feeder
 * sharing its event loop with the benchmark's reading of drizzle's output, or paced by timers,
 * wrote late now and then, and that lateness was counted as drizzle's latency.
 */
export function feedPacedSync(
  write: (chunk: Uint8Array) => number,
  buf: Uint8Array,
  starts: Float64Array,
  lines: number,
  perSecond: number,
): number {
  const p0 = performance.now();
  const end = starts[lines];
  let sent = 0;
  let backlog = -1;
  while (sent < end) {
    const due = starts[Math.min(lines, Math.floor(((performance.now() - p0) / 1000) * perSecond))];
    if (due >= end && backlog < 0) backlog = end - sent;
    if (sent >= due) {
      sleepSync(0.5);
      continue;
    }
    let n: number;
    try {
      n = write(buf.subarray(sent, sent + Math.min(FEED_WRITE, due - sent)));
    } catch (e) {
      if ((e as { code?: string }).code === "EAGAIN") {
        sleepSync(0.5);
        continue;
      }
      // The reader went away: what was not sent is the backlog.
      return end - sent;
    }
    sent += n;
  }
  return Math.max(0, backlog);
}
