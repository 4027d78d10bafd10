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
