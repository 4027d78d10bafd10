import type { RawBatch } from "./batcher.ts";

/** Which events of a generated source a batch (or one partition of it) covers. */
export interface GeneratedRange {
  start: number;
  count: number;
  /** Event time of event 0 (the run's start): event i is scheduled at start + i * 1000 / rate. */
  startTimeMs: number;
}

export interface GeneratedInputOptions {
  events: number;
  /** Events per second of processing time; 0: as fast as batches commit. */
  rate: number;
  intervalMs: number;
  batchRecords: number;
  /** Event time of event 0 (default: now). */
  startTimeMs?: number;
  onBatch: (b: RawBatch & { gen: GeneratedRange }) => void;
  hasRoom: () => boolean;
}

/**
 * The driver side of a generated source: it only decides which event numbers each batch
 * covers, on the rate's schedule; executors make the events themselves, so no input bytes
 * cross the driver and a re-run regenerates the same events.
 */
export class GeneratedInput {
  #next = 0;
  #started = 0;
  #timer: ReturnType<typeof setInterval> | null = null;
  #done = false;
  readonly startTimeMs: number;

  constructor(readonly o: GeneratedInputOptions) {
    this.startTimeMs = o.startTimeMs ?? Date.now();
  }

  start(): void {
    this.#started = performance.now();
    this.#timer = setInterval(() => this.#tick(true), this.o.intervalMs);
    this.#tick(false);
  }

  /** The consumer has room again. */
  resume(): void {
    this.#tick(false);
  }

  /** Stop early (a signal): the next batch is the last. */
  stop(): void {
    if (this.#done) return;
    this.#cut(0, true);
  }

  #tick(interval: boolean): void {
    if (this.#done) return;
    const { rate, batchRecords, events } = this.o;
    while (!this.#done && this.o.hasRoom()) {
      const due = rate > 0 ? Math.floor(((performance.now() - this.#started) * rate) / 1000) : events;
      const n = Math.min(due - this.#next, batchRecords, events - this.#next);
      // Paced: one batch per interval even when nothing is due; unpaced: as many as there is room.
      if (n <= 0 && !interval) return;
      this.#cut(Math.max(0, n), this.#next + Math.max(0, n) >= events);
      if (rate > 0 && n < batchRecords) return;
      interval = false;
    }
  }

  #cut(n: number, final: boolean): void {
    const gen = { start: this.#next, count: n, startTimeMs: this.startTimeMs };
    this.#next += n;
    if (final) {
      this.#done = true;
      if (this.#timer) clearInterval(this.#timer);
    }
    this.o.onBatch({ data: new Uint8Array(0), records: n, final, gen });
  }
}

/** The part of a batch's range that source partition p of n makes. */
export function partitionRange(r: GeneratedRange, p: number, n: number): GeneratedRange {
  const from = Math.floor((r.count * p) / n);
  const to = Math.floor((r.count * (p + 1)) / n);
  return { start: r.start + from, count: to - from, startTimeMs: r.startTimeMs };
}
