import type { LaneState, Placement } from "../wire/mod.ts";

const laneKey = (s: number, p: number) => `${s}:${p}`;

/** A complete checkpoint: every stateful lane's state as of the end of `batch`. */
export interface CheckpointData {
  batch: number;
  lanes: LaneState[];
}

/**
 * Collects lane snapshots into checkpoints. A checkpoint at batch b is complete when every
 * stateful lane has reported its state at b and every batch up to b is committed; then it
 * replaces the previous one, and input and map output up to b can be dropped.
 */
export class CheckpointTracker {
  #latest: CheckpointData = { batch: -1, lanes: [] };
  #pending = new Map<number, Map<string, LaneState>>();
  #candidates: number[] = [];

  constructor(readonly statefulLanes: Array<[number, number]>) {}

  get latest(): CheckpointData {
    return this.#latest;
  }

  /** Starts from a checkpoint read back from disk (resume). */
  load(c: CheckpointData): void {
    this.#latest = c;
  }

  /** A batch at which lanes will snapshot (the end of a group, or a bsp checkpoint). */
  expect(batch: number): void {
    if (batch <= this.#latest.batch || this.#candidates.includes(batch)) return;
    this.#candidates.push(batch);
    this.#candidates.sort((a, b) => a - b);
  }

  /** A batch that will not be a checkpoint after all (its group ended earlier). */
  cancel(batch: number): void {
    this.#candidates = this.#candidates.filter((b) => b !== batch);
  }

  add(l: LaneState): void {
    if (l.batch <= this.#latest.batch) return;
    let m = this.#pending.get(l.batch);
    if (!m) this.#pending.set(l.batch, m = new Map());
    m.set(laneKey(l.stage, l.partition), l);
  }

  /** True when the snapshots for `batch` are all in (the commit may still be missing). */
  hasAllSnapshots(batch: number): boolean {
    return (this.#pending.get(batch)?.size ?? 0) === this.statefulLanes.length;
  }

  /**
   * Completes the newest checkpoint that has all its snapshots and whose batch is committed
   * (`committedBefore` = the first batch not yet committed). Returns it, or null.
   */
  advance(committedBefore: number): CheckpointData | null {
    let done: CheckpointData | null = null;
    while (this.#candidates.length) {
      const b = this.#candidates[0];
      if (b >= committedBefore || !this.hasAllSnapshots(b)) break;
      this.#candidates.shift();
      done = { batch: b, lanes: [...(this.#pending.get(b)?.values() ?? [])] };
    }
    if (!done) return null;
    this.#latest = done;
    for (const b of this.#pending.keys()) if (b <= done.batch) this.#pending.delete(b);
    return done;
  }

  /** Forgets snapshots not yet complete (a global restart re-creates them). */
  resetPending(): void {
    this.#pending.clear();
    this.#candidates = [];
  }

  /** The checkpointed states of the lanes that `placement` puts on executor `e`. */
  statesFor(placement: Placement, e: number, only?: (s: number, p: number) => boolean): LaneState[] {
    return this.#latest.lanes.filter((l) =>
      placement[l.stage][l.partition] === e && (!only || only(l.stage, l.partition))
    );
  }
}
