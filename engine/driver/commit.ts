import type { SinkWriter } from "../io/sink.ts";

/**
 * Commits sink output exactly once per batch, in batch order: a batch is written when every
 * last-stage partition has reported its part and every earlier batch is written. Parts that
 * arrive twice (a re-run task) are ignored.
 */
export class Committer {
  #parts = new Map<number, Array<Uint8Array | undefined>>();
  #received = new Map<number, number>();
  #batchRecords = new Map<number, number>();
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
    if (batch < this.#next) return;
    let parts = this.#parts.get(batch);
    if (!parts) this.#parts.set(batch, parts = new Array(this.partitions));
    if (parts[partition] !== undefined) return;
    parts[partition] = data;
    this.#records += records;
    this.#batchRecords.set(batch, (this.#batchRecords.get(batch) ?? 0) + records);
    this.#received.set(batch, (this.#received.get(batch) ?? 0) + 1);
    this.#drain();
  }

  /** Resolves when everything committed so far has been written. */
  flushed(): Promise<void> {
    return this.#chain;
  }

  #drain(): void {
    while (this.#received.get(this.#next) === this.partitions) {
      const b = this.#next++;
      const parts = this.#parts.get(b)!;
      this.#parts.delete(b);
      this.#received.delete(b);
      const records = this.#batchRecords.get(b) ?? 0;
      this.#batchRecords.delete(b);
      const size = parts.reduce((n, p) => n + p!.length, 0);
      const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts as Uint8Array[], size);
      this.#chain = this.#chain.then(() => this.writer.write(data)).then(() => this.onCommitted(b, records, size));
    }
  }
}
