import type { PhysicalPlan } from "../plan/plan.ts";
import type { DriverCommand, ExecutorId, Placement } from "../wire/mod.ts";
import type { CheckpointTracker } from "./checkpoints.ts";

/** A batch as the bsp scheduler sees it. */
export interface BspBatch {
  id: number;
  final: boolean;
  dispatchedAt: number;
  scheduleMs: number;
}

/** What the bsp scheduler needs from the driver. */
export interface BspHost<B extends BspBatch> {
  readonly plan: PhysicalPlan;
  readonly checkpointEvery: number;
  readonly ckpt: CheckpointTracker;
  placement(): Placement;
  alive(): ExecutorId[];
  running(): boolean;
  bufferFull(): boolean;
  /** Sends a scheduling command (counted as such); the host fills in job and attempt. */
  schedule(to: ExecutorId, m: DistributiveOmit<DriverCommand, "job" | "attempt">): void;
  sendInput(b: B): void;
  /** A replacement joined: restart from the checkpoint with it in the placement. */
  restartForJoin(): void;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The Spark-Streaming baseline: one batch at a time; each stage's tasks are launched one
 * message each, only after the previous stage finished; reducers ask where the map output is
 * (MapOutputs) and fetch it; every N batches the state is checkpointed while nothing runs.
 */
export class BspScheduler<B extends BspBatch> {
  #queue: B[] = [];
  #current: { batch: B; stage: number; finished: Set<number>; locations: ExecutorId[][] } | null = null;
  /** A checkpoint being taken between batches: the next batch waits for it. */
  #checkpoint: number | null = null;
  #join = false;

  constructor(readonly host: BspHost<B>) {}

  /** A batch was cut: it runs when the ones before it are done. */
  enqueue(b: B): void {
    this.#queue.push(b);
    this.next();
  }

  /** After a global restart: run these batches again, from the first. */
  replay(batches: B[]): void {
    this.#current = null;
    this.#checkpoint = null;
    this.#queue = batches;
    this.next();
  }

  /** A replacement executor registered; it joins at the next batch boundary. */
  join(): void {
    this.#join = true;
    this.next();
  }

  /** Where the map output of (batch, stage) is, for a reducer's GetMapOutputs. */
  locations(batch: number, stage: number): ExecutorId[] | null {
    const cur = this.#current;
    return cur && cur.batch.id === batch ? cur.locations[stage] : null;
  }

  /**
   * A lane snapshot arrived (call before the tracker completes the checkpoint). True when it
   * completed the checkpoint being waited for: call `next()` once the checkpoint is taken.
   */
  snapshotted(batch: number): boolean {
    if (this.#checkpoint !== batch || !this.host.ckpt.hasAllSnapshots(batch)) return false;
    this.#checkpoint = null;
    return true;
  }

  /** Starts the next queued batch once the previous one ran all its stages (and checkpointed). */
  next(): void {
    if (this.#current || this.#checkpoint !== null || !this.host.running()) return;
    if (this.#join) {
      this.#join = false;
      this.host.restartForJoin();
      return;
    }
    const batch = this.#queue.shift();
    if (!batch) return;
    batch.dispatchedAt = performance.now();
    const locations = this.host.plan.stages.map((s) => new Array<ExecutorId>(s.partitions));
    this.#current = { batch, stage: 0, finished: new Set(), locations };
    this.host.sendInput(batch);
    this.#launch(0);
  }

  #launch(stage: number): void {
    const cur = this.#current!;
    const t0 = performance.now();
    this.host.placement()[stage].forEach((owner, p) => {
      this.host.schedule(owner, {
        type: "LaunchTask",
        batch: cur.batch.id,
        stage,
        partition: p,
        final: cur.batch.final,
        releaseBefore: this.host.ckpt.latest.batch + 1,
      });
    });
    cur.batch.scheduleMs += performance.now() - t0;
  }

  taskFinished(executor: ExecutorId, stage: number, partition: number, batch: number): void {
    const cur = this.#current;
    if (!cur || stage !== cur.stage || batch !== cur.batch.id) return;
    cur.locations[stage][partition] = executor;
    cur.finished.add(partition);
    if (cur.finished.size < this.host.plan.stages[stage].partitions) return;
    if (stage + 1 < this.host.plan.stages.length) {
      cur.stage++;
      cur.finished = new Set();
      this.#launch(cur.stage);
      return;
    }
    // The last stage's SinkData came before its TaskFinished on the same connection, so the
    // batch is already complete in the committer.
    this.#current = null;
    const b = cur.batch.id;
    // Checkpoint every N batches, or now when the buffer is full (only a checkpoint frees it).
    if (!cur.batch.final && ((b + 1) % this.host.checkpointEvery === 0 || this.host.bufferFull())) {
      this.host.ckpt.expect(b);
      if (this.host.ckpt.statefulLanes.length > 0) {
        this.#checkpoint = b;
        for (const id of this.host.alive()) this.host.schedule(id, { type: "Checkpoint", batch: b });
        return;
      }
    }
    this.next();
  }
}
