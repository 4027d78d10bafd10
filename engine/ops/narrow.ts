import type { NarrowStepPlan, SplitStepPlan } from "../plan/plan.ts";
import { compileExpression } from "./expr.ts";
import { joinRecord, tableFor } from "./join.ts";
import { compileParser } from "./parse.ts";
import type { Rejects } from "./reject.ts";
import { udfFor } from "./udf.ts";
import { type PieceSink, separatorTest, splitPieces, splitText } from "./split.ts";

/** Pushes one record downstream. */
export type Emit = (record: unknown) => void;

/**
 * Fuses a run of narrow steps (map, filter, flatMap, parse, join, udf) into one push function:
 * no intermediate arrays, one call per record per step. A step that throws rejects that record
 * only. Join tables and udf functions are looked up here, once: fusing throws if loadTables /
 * loadUdfs have not loaded them in this process.
 */
export function fuseSteps(steps: NarrowStepPlan[], rejects: Rejects, downstream: Emit, pieces?: PieceSink): Emit {
  let next = downstream;
  let last = steps.length - 1;
  const tail = steps[last];
  if (pieces && tail?.kind === "split") {
    // The last step hands its pieces on as positions: see ops/split.ts.
    next = splitStep(tail, rejects, pieces);
    last--;
  }
  for (let i = last; i >= 0; i--) next = fuseOne(steps[i], rejects, next);
  return next;
}

type Fn = (r: unknown) => unknown;

function fuseOne(step: NarrowStepPlan, rejects: Rejects, next: Emit): Emit {
  const label = step.label;
  switch (step.kind) {
    case "map":
      return mapStep(compileExpression(step.expr, step.as), label, rejects, next);
    case "filter":
      return filterStep(compileExpression(step.expr, step.as), label, rejects, next);
    case "flatMap":
      return flatMapStep(compileExpression(step.expr, step.as), label, rejects, next);
    case "split":
      return splitStep(step, rejects, (text, start, end) => next(text.slice(start, end)));
    case "parse": {
      const from = compileExpression(step.from, step.as);
      const parse = compileParser(step);
      return mapStep((r) => parse(from(r)), label, rejects, next);
    }
    case "join": {
      const table = tableFor(step);
      const on = compileExpression(step.on, step.as);
      const keep = step.unmatched === "keep";
      return (r) => {
        let key: unknown;
        try {
          key = on(r);
        } catch (e) {
          rejects.add(label, r, e);
          return;
        }
        const row = table.get(key);
        if (row) next(joinRecord(r, row));
        else if (keep) next(r);
      };
    }
    case "udf": {
      const fn = udfFor(step);
      const sync: Fn = (r) => {
        const v = fn(r);
        if (v instanceof Promise) {
          // Reject asynchronously-failing promises quietly: the record is already counted.
          v.catch(() => {});
          throw new TypeError(`udf '${step.export}' returned a Promise: udfs must be synchronous`);
        }
        return v;
      };
      const make = step.udfKind === "map" ? mapStep : step.udfKind === "filter" ? filterStep : flatMapStep;
      return make(sync, label, rejects, next);
    }
  }
}

function splitStep(step: SplitStepPlan, rejects: Rejects, sink: PieceSink): Emit {
  const from = compileExpression(step.from, step.as);
  const isSeparator = separatorTest(step.on);
  return (r) => {
    let text: string;
    try {
      text = splitText(from(r));
    } catch (e) {
      rejects.add(step.label, r, e);
      return;
    }
    splitPieces(text, isSeparator, sink);
  };
}

function mapStep(fn: Fn, label: string, rejects: Rejects, next: Emit): Emit {
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
}

function filterStep(fn: Fn, label: string, rejects: Rejects, next: Emit): Emit {
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
}

function flatMapStep(fn: Fn, label: string, rejects: Rejects, next: Emit): Emit {
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
