/**
 * Chooses the group size G at every group boundary. Each group costs a fixed amount of
 * coordination (the driver's RunGroup, executors registering the group's tasks, lane
 * snapshots and the checkpoint); spread over G batches of length T it is an overhead of
 * cost / (G * T). The controller keeps that under `maxOverhead` with the smallest G, capped so
 * a group spans at most `maxGroupTimeMs` (which bounds what a failure replays and how late a
 * change takes effect). Measurements are smoothed; when they are too noisy to trust, it falls
 * back to the paper's AIMD rule.
 */
export interface GroupSizeOptions {
  maxOverhead: number;
  maxGroupTimeMs: number;
  /** Upper bound whatever the measurements say. */
  maxGroupSize: number;
}

export interface GroupDecision {
  size: number;
  reason: string;
}

const ALPHA = 0.3;

export class GroupSizeController {
  #size = 1;
  #cost: number | null = null;
  #costVar = 0;
  #batchMs: number | null = null;

  constructor(readonly o: GroupSizeOptions) {}

  get size(): number {
    return this.#size;
  }

  /** A group finished: `costMs` of coordination was spent on it, its batches took `batchMs` each. */
  observe(costMs: number, batchMs: number): void {
    if (this.#cost === null) {
      this.#cost = costMs;
    } else {
      const d = costMs - this.#cost;
      this.#cost += ALPHA * d;
      this.#costVar = (1 - ALPHA) * (this.#costVar + ALPHA * d * d);
    }
    if (batchMs > 0) {
      this.#batchMs = this.#batchMs === null ? batchMs : this.#batchMs + ALPHA * (batchMs - this.#batchMs);
    }
  }

  /** The size of the next group, and why. */
  decide(): GroupDecision {
    const { maxOverhead, maxGroupTimeMs, maxGroupSize } = this.o;
    const cost = this.#cost;
    const t = this.#batchMs;
    if (cost === null || t === null) return { size: this.#size, reason: "auto: no measurement yet" };
    const cap = Math.max(1, Math.min(maxGroupSize, Math.floor(maxGroupTimeMs / Math.max(t, 1e-3))));
    const overhead = cost / (this.#size * t);
    const noisy = Math.sqrt(this.#costVar) > cost;
    let size: number;
    let rule: string;
    if (noisy) {
      // AIMD: double above the bound, step down below half of it.
      size = overhead > maxOverhead ? this.#size * 2 : overhead < maxOverhead / 2 ? this.#size - 1 : this.#size;
      rule = "AIMD (noisy measurements)";
    } else {
      size = Math.ceil(cost / (maxOverhead * t));
      rule = "smallest G within the overhead target";
    }
    size = Math.max(1, Math.min(cap, size));
    const reason = `auto: ${rule}; coordination ${cost.toFixed(2)}ms/group, batch ${t.toFixed(1)}ms, ` +
      `overhead ${(100 * cost / (size * t)).toFixed(1)}% at G=${size}${
        size === cap ? ` (capped by max group time)` : ""
      }`;
    this.#size = size;
    return { size, reason };
  }
}
