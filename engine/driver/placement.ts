import type { ExecutorId, Placement } from "../wire/mod.ts";
import type { PhysicalPlan } from "../plan/plan.ts";

/**
 * Spreads every stage's partitions round-robin over the executors. Partition p of every stage
 * lands on the same executor, so a keyed stage's output often stays local.
 */
export function roundRobin(plan: PhysicalPlan, executors: ExecutorId[]): Placement {
  return plan.stages.map((s) => Array.from({ length: s.partitions }, (_, p) => executors[p % executors.length]));
}

/** The (stage, partition) pairs placed on one executor. */
export function tasksOf(placement: Placement, e: ExecutorId): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  placement.forEach((parts, s) => parts.forEach((owner, p) => owner === e && out.push([s, p])));
  return out;
}

/**
 * Moves every lane of a lost executor to the survivors, spread round-robin so that recovery
 * work runs in parallel; lanes on survivors stay where they are.
 */
export function reassign(placement: Placement, lost: ExecutorId, alive: ExecutorId[]): Placement {
  let i = 0;
  return placement.map((parts) => parts.map((owner) => (owner === lost ? alive[i++ % alive.length] : owner)));
}

/**
 * Gives a newly joined executor its share of every stage's partitions, taken from the
 * executors holding the most; everything else stays where it is.
 */
export function rebalance(placement: Placement, newcomer: ExecutorId, alive: ExecutorId[]): Placement {
  const n = alive.length;
  return placement.map((parts) => {
    const out = [...parts];
    const share = Math.floor(parts.length / n);
    for (let taken = 0; taken < share; taken++) {
      const counts = new Map<ExecutorId, number>();
      for (const o of out) if (o !== newcomer) counts.set(o, (counts.get(o) ?? 0) + 1);
      const [busiest] = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0] ?? [];
      if (busiest === undefined) break;
      out[out.lastIndexOf(busiest)] = newcomer;
    }
    return out;
  });
}
