import type { SinkWriter } from "../io/sink.ts";

/**
 * Commits sink output exactly once per batch, in batch order: a batch is written when every
 * last-stage partition has reported its part and every earlier batch is written. Parts that
 * arrive twice (a re-run task) are ignored.
 */
export class Committer {
  /** Batches with some parts received: who reported, and the parts with data, by partition. */
  #pending = new Map<number, PendingBatch>();
  #next = 0;
  #chain: Promise<void> = Promise.resolve();
  #records = 0;

  constructor(
    readonly writer: SinkWriter,
    readonly partitions: number,
    /** Called (in order) after each batch's output has been handed to the writer. */
    readonly onCommitted: (batch: number, records: number, bytes: number) => void,
    /** The first batch to commit (after a resume, everything before it is already out). */
    first = 0,
  ) {
    this.#next = first;
  }

  /** The next batch to commit: all before it are committed. */
  get next(): number {
    return this.#next;
  }

  get recordsOut(): number {
    return this.#records;
  }

  /** Records one part of a batch's output; commits whatever became complete. */
  add(batch: number, partition: number, data: Uint8Array, records: number): void {
    const b = this.#batch(batch);
    if (!b || !heard(b, partition)) return;
    if (data.length > 0) b.parts.push({ partition, data });
    this.#records += records;
    b.records += records;
    this.#drain();
  }

  /** Records parts of a batch's output that are empty (no data, no records). */
  addEmpty(batch: number, partitions: readonly number[]): void {
    const b = this.#batch(batch);
    if (!b) return;
    for (const p of partitions) heard(b, p);
    this.#drain();
  }

  /** Resolves when everything committed so far has been written. */
  flushed(): Promise<void> {
    return this.#chain;
  }

  /** The pending state of a batch not yet committed (undefined: committed already). */
  #batch(batch: number): PendingBatch | undefined {
    if (batch < this.#next) return undefined;
    let b = this.#pending.get(batch);
    if (!b) {
      b = { heard: new Uint8Array((this.partitions + 7) >> 3), received: 0, records: 0, parts: [] };
      this.#pending.set(batch, b);
    }
    return b;
  }

  #drain(): void {
    for (;;) {
      const b = this.#pending.get(this.#next);
      if (b === undefined || b.received < this.partitions) return;
      const id = this.#next++;
      this.#pending.delete(id);
      const parts = b.parts.sort((x, y) => x.partition - y.partition).map((p) => p.data);
      const size = parts.reduce((n, p) => n + p.length, 0);
      const data = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
      const records = b.records;
      this.#chain = this.#chain.then(() => this.writer.write(data)).then(() => this.onCommitted(id, records, size));
    }
  }
}

/** A batch being collected: a bit per partition heard from, and the parts that have data. */
interface PendingBatch {
  heard: Uint8Array;
  received: number;
  records: number;
  parts: Array<{ partition: number; data: Uint8Array }>;
}

/** Marks a partition as heard from; false if it was already (a re-run task's part). */
function heard(b: PendingBatch, partition: number): boolean {
  const byte = partition >> 3;
  const bit = 1 << (partition & 7);
  if (b.heard[byte] & bit) return false;
  b.heard[byte] |= bit;
  b.received++;
  return true;
}
