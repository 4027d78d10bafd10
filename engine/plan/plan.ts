import type { AggregatorKind, Format, JoinFormat, ParseFormat, WindowKind } from "./spec.ts";

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

/** map / filter / flatMap: one JavaScript expression over the record. */
export interface ExprStepPlan extends ExprPlan {
  kind: "map" | "filter" | "flatMap";
}

/** Text to its pieces: each maximal run of characters not in `on` is a record; other values are rejected. */
export interface SplitStepPlan {
  kind: "split";
  /** Expression giving the text. */
  from: string;
  /** The separating characters (UTF-16 code units). */
  on: string;
  as: string;
  label: string;
}

/** Text to a record; a record whose text does not parse is rejected. */
export interface ParseStepPlan {
  kind: "parse";
  format: ParseFormat;
  /** Expression giving the text to parse (json/csv/tsv: the value written; regex: `from`). */
  from: string;
  /** json: the fields kept (all when absent); csv/tsv: the column names, in order. */
  fields?: string[];
  /** regex: the pattern, with named groups. */
  pattern?: string;
  as: string;
  label: string;
}

/** Enriches each record with the row of a static table whose `key` column equals `on`. */
export interface JoinStepPlan {
  kind: "join";
  /** Absolute path of the table (resolved against the pipeline file's folder). */
  file: string;
  format: JoinFormat;
  /** Table column looked up. */
  key: string;
  /** Expression giving the lookup key of a record (compared as text). */
  on: string;
  /** drop: records without a row are dropped; keep: they pass through unchanged. */
  unmatched: "drop" | "keep";
  as: string;
  label: string;
}

/** A function exported by a local module, used as a map, filter or flatMap. */
export interface UdfStepPlan {
  kind: "udf";
  /** Absolute path of the module (resolved against the pipeline file's folder). */
  module: string;
  export: string;
  udfKind: "map" | "filter" | "flatMap";
  as: string;
  label: string;
}

/** A step that runs record by record, fused with its neighbours in one push function. */
export type NarrowStepPlan = ExprStepPlan | SplitStepPlan | ParseStepPlan | JoinStepPlan | UdfStepPlan;

export interface AggregateColumnPlan {
  name: string;
  kind: AggregatorKind;
  /** Expression over the record for the value aggregated; absent for a plain count. */
  of?: string;
  /** topK: how many values are output. */
  k?: number;
}

export interface AggregatePlan {
  columns: AggregateColumnPlan[];
  emit: "final" | "updates";
  /** Name the record is bound to in `of` expressions (the keyBy's input name). */
  as: string;
  label: string;
}

/**
 * A windowed aggregation: the reduce side of `keyBy` + `window` + `aggregate`. Records arrive
 * with their key and time; each window's result is emitted once, when the watermark passes its
 * end plus `allowedLatenessMs` (see ops/window.ts).
 */
export interface WindowPlan {
  kind: WindowKind;
  /** tumbling and sliding: window length. */
  sizeMs?: number;
  /** sliding: distance between window starts (at most sizeMs). */
  slideMs?: number;
  /** session: a key's session ends after this long without a record. */
  gapMs?: number;
  /** Event-time expression (epoch ms or ISO string); null: processing time. */
  time: ExprPlan | null;
  /** Watermark = highest event time seen - maxDelayMs. */
  maxDelayMs: number;
  /** A window closes when the watermark reaches its end + allowedLatenessMs. */
  allowedLatenessMs: number;
  /** Without records for this long (processing time) the watermark advances with the clock. */
  idleTimeoutMs: number | null;
  aggregate: AggregatePlan;
  label: string;
}

export type StageOutput =
  | {
    kind: "shuffle";
    key: ExprPlan;
    combine?: AggregatePlan;
    /** The next stage is an event-time window: its time expression, evaluated on this side. */
    time?: ExprPlan;
  }
  | { kind: "sink" };

export interface StagePlan {
  id: number;
  partitions: number;
  /** Reduce side of an aggregate: merges the map-side partials by key, holds the state. */
  head?: AggregatePlan;
  /** Reduce side of a windowed aggregate (instead of `head`): keyed windows, per partition. */
  window?: WindowPlan;
  steps: NarrowStepPlan[];
  output: StageOutput;
}

export interface SourcePlan {
  kind: "stdin" | "file" | "generate";
  /** generate: what to make (the YSB event stream). */
  generate?: { workload: "ysb"; events: number; rate: number; seed: number; skew: boolean; startTime?: number };
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
  /** Rejected records are also written here, as JSON lines (absent: counted only). */
  deadLetter?: { path: string };
  intervalMs?: number;
  source: SourcePlan;
  stages: StagePlan[];
  sink: SinkPlan;
}

/** True when the stage keeps keyed state across batches. */
export function isStateful(stage: StagePlan): boolean {
  return stage.head !== undefined || stage.window !== undefined;
}

/** Every narrow step of the plan, in stage order (for loading what steps need: udfs, tables). */
export function narrowSteps(plan: PhysicalPlan): NarrowStepPlan[] {
  return plan.stages.flatMap((s) => s.steps);
}
