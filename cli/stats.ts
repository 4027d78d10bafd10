import type { BatchMetrics, DriverObserver, GroupMetrics } from "../engine/driver/mod.ts";
import { Histogram } from "./histogram.ts";

/** Latencies are recorded in microseconds: 3 significant digits from 1 µs up to an hour. */
const MICROS_PER_MS = 1000;

/**
 * What a run has done so far, from the driver's observer: counts, the current group size,
 * recent throughput, and batch latencies in a histogram (exact to 3 significant digits
 * in constant memory, however long the run), for the status line and the summary.
 */
export class RunStats implements DriverObserver {
  batches = 0;
  groups = 0;
  recordsIn = 0;
  recordsOut = 0;
  /** Size of the group the last committed batch belonged to (1 in bsp mode). */
  groupSize = 0;
  readonly #latency = new Histogram(3600 * 1000 * MICROS_PER_MS);
  /** Commits inside the rate window, oldest first. */
  #recent: { at: number; in: number; out: number }[] = [];
  readonly #started: number;

  constructor(
    private readonly now: () => number = () => performance.now(),
    /** Throughput is averaged over this much recent time. */
    private readonly windowMs = 2000,
  ) {
    this.#started = now();
  }

  batch(m: BatchMetrics): void {
    this.batches++;
    this.recordsIn += m.recordsIn;
    this.recordsOut += m.recordsOut;
    this.groupSize = m.groupSize;
    this.#latency.record(Math.max(1, Math.round(m.latencyMs * MICROS_PER_MS)));
    this.#recent.push({ at: this.now(), in: m.recordsIn, out: m.recordsOut });
  }

  group(_m: GroupMetrics): void {
    this.groups++;
  }

  /** Batch latency (cut to commit) at percentile q (0-100), in ms; 0 before any batch. */
  latencyMs(q: number): number {
    if (this.#latency.totalCount === 0) return 0;
    return this.#latency.valueAtPercentile(q) / MICROS_PER_MS;
  }

  get maxLatencyMs(): number {
    return this.#latency.totalCount === 0 ? 0 : this.#latency.maxValue / MICROS_PER_MS;
  }

  /** Records per second in and out over the last window (or since the start, if shorter). */
  rates(): { in: number; out: number } {
    const now = this.now();
    while (this.#recent.length > 0 && this.#recent[0].at <= now - this.windowMs) this.#recent.shift();
    const span = Math.max(1, Math.min(this.windowMs, now - this.#started)) / 1000;
    let i = 0;
    let o = 0;
    for (const r of this.#recent) {
      i += r.in;
      o += r.out;
    }
    return { in: i / span, out: o / span };
  }

  /** Seconds since the stats started. */
  elapsedSeconds(): number {
    return (this.now() - this.#started) / 1000;
  }
}
