import type { AggregatorKind, Format } from "./spec.ts";

/**
 * The physical plan: the pipeline cut into stages at each keyBy. It is plain data (sent to every
 * executor once, in StartJob) and says everything a task needs to run.
 */

export interface ExprPlan {
  expr: string;
  as: string;
  /** "step 3 'filter'": how errors and rejected-record counts name it. */
  label: string;
}

export interface NarrowStepPlan extends ExprPlan {
  kind: "map" | "filter" | "flatMap";
}

export interface AggregateColumnPlan {
  name: string;
  kind: AggregatorKind;
  /** Expression over the record for the value aggregated; absent for a plain count. */
  of?: string;
}

export interface AggregatePlan {
  columns: AggregateColumnPlan[];
  emit: "final" | "updates";
  /** Name the record is bound to in `of` expressions (the keyBy's input name). */
  as: string;
  label: string;
}

export type StageOutput =
  | { kind: "shuffle"; key: ExprPlan; combine?: AggregatePlan }
  | { kind: "sink" };

export interface StagePlan {
  id: number;
  partitions: number;
  /** Reduce side of an aggregate: merges the map-side partials by key, holds the state. */
  head?: AggregatePlan;
  steps: NarrowStepPlan[];
  output: StageOutput;
}

export interface SourcePlan {
  kind: "stdin" | "file";
  paths: string[];
  format: Format;
  header: boolean;
  /** Name the input records are bound to by default ("line" for lines, else "record"). */
  as: string;
}

export interface SinkPlan {
  kind: "stdout" | "file";
  path?: string;
  format: Format;
}

export interface PhysicalPlan {
  name: string;
  intervalMs?: number;
  source: SourcePlan;
  stages: StagePlan[];
  sink: SinkPlan;
}

/** True when the stage keeps keyed state across batches. */
export function isStateful(stage: StagePlan): boolean {
  return stage.head !== undefined;
}
