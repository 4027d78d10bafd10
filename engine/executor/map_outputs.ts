/**
 * Map task output on an executor: what it keeps until a checkpoint covers the batch (for bsp
 * fetches and for re-sending after a recovery), and what waits to be sent, by destination.
 * @module
 */
import type { ExecutorId, ShuffleOutput } from "../wire/mod.ts";

/** A map task's output, kept for fetches (bsp) and re-sending (recovery). */
export interface Output {
  stage: number;
  from: number;
  blocks: unknown[][];
  /** Every block is empty. */
  empty: boolean;
  final: boolean;
  time: number;
  maxTime: number | null;
}

/** Where a stage's reduce partitions are: each executor and the partitions it owns. */
export type Targets = Array<{ executor: ExecutorId; partitions: number[] }>;

/** Kept map outputs are keyed by one number per (stage, partition). */
const outputKey = (s: number, p: number) => s * 2 ** 20 + p;

/** Map outputs by batch, each batch's by (stage, map task). */
export class KeptOutputs {
  readonly #byBatch = new Map<number, Map<number, Output>>();

  keep(batch: number, out: Output): void {
    let m = this.#byBatch.get(batch);
    if (!m) this.#byBatch.set(batch, m = new Map());
    m.set(outputKey(out.stage, out.from), out);
  }

  /** Drops the output of batches before `before` (a checkpoint covers them). */
  release(before: number): void {
    for (const b of this.#byBatch.keys()) if (b < before) this.#byBatch.delete(b);
  }

  /** bsp: the kept output of map stage `stage` of a batch for the given reduce partitions. */
  serve(batch: number, stage: number, partitions: number[]): ShuffleOutput[] {
    const outputs: ShuffleOutput[] = [];
    for (const out of this.#byBatch.get(batch)?.values() ?? []) {
      if (out.stage === stage) addOutput(outputs, batch, out, partitions);
    }
    return outputs;
  }

  /** Every kept output of batch `from` and later, with its batch. */
  *since(from: number): Iterable<[number, Output]> {
    for (const [batch, outs] of this.#byBatch) {
      if (batch < from) continue;
      for (const out of outs.values()) yield [batch, out];
    }
  }
}

/** drizzle: map output waiting to be sent, one list per destination executor. */
export class Outbox {
  #box = new Map<ExecutorId, ShuffleOutput[]>();

  get empty(): boolean {
    return this.#box.size === 0;
  }

  /**
   * Queues a map task's output for the executors owning its reduce partitions (`targets`; with
   * `only`, just for those partitions: re-sending after a recovery).
   */
  add(targets: Targets, batch: number, out: Output, only: Set<number> | null): void {
    for (const t of targets) {
      const partitions = only ? t.partitions.filter((p) => only.has(p)) : t.partitions;
      if (partitions.length === 0) continue;
      let list = this.#box.get(t.executor);
      if (!list) this.#box.set(t.executor, list = []);
      addOutput(list, batch, out, partitions);
    }
  }

  /** Everything queued, by destination; the outbox is empty after. */
  take(): Map<ExecutorId, ShuffleOutput[]> {
    const box = this.#box;
    this.#box = new Map();
    return box;
  }
}

/**
 * Adds map task `out.from`'s output for `partitions` to a list of outputs: into the last entry
 * when that one is for the same batch, stage and partitions and agrees on the batch facts.
 */
export function addOutput(list: ShuffleOutput[], batch: number, out: Output, partitions: number[]): void {
  const last = list[list.length - 1];
  let o: ShuffleOutput;
  if (
    last !== undefined && last.batch === batch && last.stage === out.stage + 1 && last.partitions === partitions &&
    last.final === out.final && last.time === out.time && last.maxTime === out.maxTime
  ) {
    o = last;
  } else {
    o = {
      batch,
      stage: out.stage + 1,
      froms: [],
      partitions,
      final: out.final,
      time: out.time,
      maxTime: out.maxTime,
      blocks: [],
    };
    list.push(o);
  }
  o.froms.push(out.from);
  if (out.empty) return;
  for (const p of partitions) {
    const records = out.blocks[p];
    if (records.length > 0) o.blocks.push({ from: out.from, partition: p, records });
  }
}
