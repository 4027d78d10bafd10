import type { NarrowStepPlan } from "../plan/plan.ts";
import { compileExpression } from "./expr.ts";
import type { Rejects } from "./reject.ts";

/** Pushes one record downstream. */
export type Emit = (record: unknown) => void;

/**
 * Fuses a run of map/filter/flatMap steps into one push function: no intermediate arrays, one
 * call per record per step. A step that throws rejects that record only.
 */
export function fuseSteps(steps: NarrowStepPlan[], rejects: Rejects, downstream: Emit): Emit {
  let next = downstream;
  for (let i = steps.length - 1; i >= 0; i--) next = fuseOne(steps[i], rejects, next);
  return next;
}

function fuseOne(step: NarrowStepPlan, rejects: Rejects, next: Emit): Emit {
  const fn = compileExpression(step.expr, step.as);
  const label = step.label;
  switch (step.kind) {
    case "map":
      return (r) => {
        let v: unknown;
        try {
          v = fn(r);
        } catch (e) {
          rejects.add(label, r, e);
          return;
        }
        next(v);
      };
    case "filter":
      return (r) => {
        let keep: unknown;
        try {
          keep = fn(r);
        } catch (e) {
          rejects.add(label, r, e);
          return;
        }
        if (keep) next(r);
      };
    case "flatMap":
      return (r) => {
        let vs: unknown;
        try {
          vs = fn(r);
        } catch (e) {
          rejects.add(label, r, e);
          return;
        }
        if (Array.isArray(vs)) {
          for (let i = 0; i < vs.length; i++) next(vs[i]);
        } else if (
          vs !== null && vs !== undefined && typeof (vs as Iterable<unknown>)[Symbol.iterator] === "function" &&
          typeof vs !== "string"
        ) {
          for (const v of vs as Iterable<unknown>) next(v);
        } else {
          rejects.add(label, r, new TypeError(`flatMap must return an array, got ${typeof vs}`));
        }
      };
  }
}
