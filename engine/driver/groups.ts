import type { DriverCommand, ExecutorId, Placement } from "../wire/mod.ts";
import type { CheckpointTracker } from "./checkpoints.ts";
import type { GroupSizeController } from "./group_size.ts";
import type { GroupMetrics } from "./types.ts";

/** A batch as the group scheduler sees it. */
export interface GroupBatch {
  id: number;
  /** The group it was dispatched in (set by `dispatch`). */
  group: number;
}

/** What the group scheduler needs from the driver. */
export interface GroupHost<B extends GroupBatch> {
  readonly ckpt: CheckpointTracker;
  placement(): Placement;
  alive(): ExecutorId[];
  /** Sends a scheduling command (counted as such); the host fills in job and attempt. */
  schedule(to: ExecutorId, m: DistributiveOmit<DriverCommand, "job" | "attempt">): void;
  sendInput(b: B): void;
  /** Time per batch as the stream runs (the interval, or less when backlogged). */
  batchMs(): number;
  /** Driver-side coordination ms since the last group completed (taken, so counted once). */
  takeCoordinationMs(): number;
  onGroup?(m: GroupMetrics): void;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A group sent to the executors and not yet reported complete by all of them. */
export interface GroupState {
  id: number;
  first: number;
  count: number;
  waiting: Set<ExecutorId>;
  computeMs: number;
  shuffleMs: number;
  /** Executors' coordination ms for this group (the slowest one's). */
  coordMs: number;
  scheduleMs: number;
  reason: string;
}

/**
 * drizzle mode's scheduling: at a group's first batch, one RunGroup per executor covers the
 * next G batches (group scheduling); every batch after that is only its input data. G is fixed
 * or comes from the controller at each group boundary. Lanes snapshot at group ends, so each
 * group's last batch is a checkpoint the tracker waits for.
 */
export class GroupScheduler<B extends GroupBatch> {
  /** The group batches are dispatched into now (the newest). */
  #current: GroupState | null = null;
  #open = new Map<number, GroupState>();
  #sent = 0;
  #size: number;
  readonly #host: GroupHost<B>;
  readonly #controller: GroupSizeController | null;

  /** `size`: a fixed group size, or the controller that decides it at every group start. */
  constructor(host: GroupHost<B>, size: number | GroupSizeController) {
    this.#host = host;
    this.#controller = typeof size === "number" ? null : size;
    this.#size = typeof size === "number" ? Math.max(1, size) : size.size;
  }

  /** The group size now (fixed, or the controller's latest decision). */
  get size(): number {
    return this.#size;
  }

  /** Groups started so far. */
  get sent(): number {
    return this.#sent;
  }

  /** The newest group (batches are dispatched into it until its last). */
  get current(): GroupState | null {
    return this.#current;
  }

  /** Sends a batch: first a new group to every executor if the batch starts one, then its input. */
  dispatch(b: B): void {
    const g = this.#current;
    if (!g || b.id >= g.first + g.count) this.#start(b.id);
    b.group = this.#current!.id;
    this.#host.sendInput(b);
  }

  #start(first: number): void {
    const t0 = performance.now();
    const decision = this.#controller?.decide() ?? { size: this.#size, reason: "fixed (--group-size)" };
    this.#size = decision.size;
    const group: GroupState = {
      id: this.#sent++,
      first,
      count: decision.size,
      waiting: new Set(this.#host.alive()),
      computeMs: 0,
      shuffleMs: 0,
      coordMs: 0,
      scheduleMs: 0,
      reason: decision.reason,
    };
    this.#current = group;
    this.#open.set(group.id, group);
    const { ckpt } = this.#host;
    ckpt.expect(group.first + group.count - 1);
    for (const id of this.#host.alive()) {
      this.#host.schedule(id, {
        type: "RunGroup",
        group: group.id,
        first: group.first,
        count: group.count,
        placement: this.#host.placement(),
        releaseBefore: ckpt.latest.batch + 1,
      });
    }
    group.scheduleMs = performance.now() - t0;
  }

  /**
   * The input buffer is full before the current group's end was cut: only a checkpoint frees
   * input, and checkpoints are at group ends, so the group ends at `last`, the newest batch cut
   * (else the run would wait forever).
   */
  endEarly(last: number): void {
    const g = this.#current;
    if (!g || last >= g.first + g.count - 1) return;
    this.#host.ckpt.cancel(g.first + g.count - 1);
    g.count = last - g.first + 1;
    this.#host.ckpt.expect(last);
    for (const id of this.#host.alive()) this.#host.schedule(id, { type: "EndGroup", group: g.id, last });
  }

  /**
   * An executor finished its part of a group. When all have, the group's coordination cost is
   * what the controller learns from, and the group is reported.
   */
  completed(
    from: ExecutorId,
    group: number,
    last: number,
    t: { compute: number; shuffle: number; coord: number },
  ): void {
    const g = this.#open.get(group);
    if (!g) return;
    g.computeMs += t.compute;
    g.shuffleMs += t.shuffle;
    g.coordMs = Math.max(g.coordMs, t.coord);
    g.waiting.delete(from);
    if (g.waiting.size > 0) return;
    this.#open.delete(g.id);
    // Executors coordinate in parallel: the slowest one's share counts, plus the driver's.
    const coordinationMs = g.scheduleMs + g.coordMs + this.#host.takeCoordinationMs();
    this.#controller?.observe(coordinationMs, this.#host.batchMs());
    this.#host.onGroup?.({
      group: g.id,
      first: g.first,
      size: Math.min(g.count, last - g.first + 1),
      executors: this.#host.alive().length,
      computeMs: g.computeMs,
      shuffleMs: g.shuffleMs,
      scheduleMs: g.scheduleMs,
      coordinationMs,
      reason: g.reason,
    });
  }

  /** An executor is gone: no group waits for it any more. */
  forget(id: ExecutorId): void {
    for (const g of this.#open.values()) g.waiting.delete(id);
  }

  /** A global restart: every group is dropped; the next batch dispatched starts a new one. */
  reset(): void {
    this.#open.clear();
    this.#current = null;
  }
}
