import { formatDuration, parseDuration } from "./duration.ts";
import { PipelineError, type PipelineIssue } from "./errors.ts";
import type { LoadedPipeline } from "./load.ts";
import type {
  AggregatePlan,
  ExprPlan,
  NarrowStepPlan,
  PhysicalPlan,
  SinkPlan,
  SourcePlan,
  StagePlan,
  WindowPlan,
} from "./plan.ts";
import type { Step } from "./spec.ts";

export interface PlanOptions {
  /** Partitions of every stage. */
  partitions: number;
}

/**
 * Cuts a validated pipeline into stages: a new stage starts after every keyBy (a shuffle). An
 * aggregate directly after a keyBy is split in two: the map side combines per key before the
 * shuffle (the `combine` of the stage's output) and the reduce side merges partials and holds
 * the state (the `head` of the next stage). A keyBy + window + aggregate shuffles the records
 * themselves (with the event-time expression, `time`, for the map side's watermark) and the next
 * stage's `window` aggregates them per key and window.
 */
export function buildPlan(p: LoadedPipeline, opts: PlanOptions): PhysicalPlan {
  const { spec } = p;
  const issues: PipelineIssue[] = [];
  const src = "stdin" in spec.source
    ? spec.source.stdin
    : "file" in spec.source
    ? spec.source.file
    : { format: "lines" as const, header: false };
  const source: SourcePlan = {
    kind: "stdin" in spec.source ? "stdin" : "file" in spec.source ? "file" : "generate",
    generate: "generate" in spec.source ? { workload: "ysb", ...spec.source.generate.ysb } : undefined,
    paths: "file" in spec.source ? [spec.source.file.path].flat() : [],
    format: src.format,
    header: src.header,
    as: src.format === "lines" ? "line" : "record",
  };
  const sink: SinkPlan = "stdout" in spec.sink
    ? { kind: "stdout", format: spec.sink.stdout.format }
    : { kind: "file", path: spec.sink.file.path, format: spec.sink.file.format };

  const stages: StagePlan[] = [];
  let current: StagePlan = { id: 0, partitions: opts.partitions, steps: [], output: { kind: "sink" } };
  let name = source.as;
  const label = (i: number, kind: string) => `step ${i + 1} '${kind}'`;
  const issue = (i: number, kind: string, message: string) =>
    issues.push({ pos: p.stepPos[i], step: label(i, kind), message });

  for (let i = 0; i < spec.steps.length; i++) {
    const step = spec.steps[i];
    if ("keyBy" in step) {
      const key: ExprPlan = { expr: step.keyBy, as: step.as ?? name, label: label(i, "keyBy") };
      name = key.as;
      const next = spec.steps[i + 1];
      if (next && "window" in next) {
        const window = windowPlan(p, i + 1, name, issue);
        current.output = window?.time ? { kind: "shuffle", key, time: window.time } : { kind: "shuffle", key };
        stages.push(current);
        current = { id: stages.length, partitions: opts.partitions, steps: [], output: { kind: "sink" } };
        if (window) current.window = window;
        name = "record";
        // Past the window and its aggregate (when the aggregate is missing, only the window).
        const agg = spec.steps[i + 2];
        i += agg && "aggregate" in agg ? 2 : 1;
        continue;
      }
      let combine: AggregatePlan | undefined;
      if (next && "aggregate" in next) {
        combine = {
          columns: p.aggregates.get(i + 1)!,
          emit: next.emit,
          as: next.as ?? name,
          label: label(i + 1, "aggregate"),
        };
        i++;
      }
      current.output = { kind: "shuffle", key, combine };
      stages.push(current);
      current = { id: stages.length, partitions: opts.partitions, head: combine, steps: [], output: { kind: "sink" } };
      if (combine) name = "record";
    } else if ("aggregate" in step) {
      issue(i, "aggregate", "an aggregate needs a keyBy right before it (use 'keyBy: \"0\"' for one global group)");
    } else if ("window" in step) {
      issue(i, "window", "a window needs a keyBy right before it (use 'keyBy: \"0\"' for one global group)");
    } else {
      const narrow = narrowPlan(p, i, step, name, label);
      current.steps.push(narrow);
      name = narrow.as;
    }
  }
  stages.push(current);
  if (issues.length) throw new PipelineError(issues);
  const intervalMs = spec.interval === undefined ? undefined : parseDuration(spec.interval) ?? undefined;
  const deadLetter = spec.deadLetter ? { path: spec.deadLetter.file.path } : undefined;
  return { name: spec.name ?? "pipeline", intervalMs, source, stages, sink, deadLetter };
}

type NarrowStep = Exclude<Step, { keyBy: unknown } | { aggregate: unknown } | { window: unknown }>;

function narrowPlan(
  p: LoadedPipeline,
  i: number,
  step: NarrowStep,
  name: string,
  label: (i: number, kind: string) => string,
): NarrowStepPlan {
  const as = step.as ?? name;
  if ("split" in step) return { kind: "split", from: step.split, on: step.on, as, label: label(i, "split") };
  if ("parse" in step) {
    const x = step.parse;
    const l = label(i, "parse");
    if ("json" in x) {
      return { kind: "parse", format: "json", from: x.json, ...(x.fields && { fields: x.fields }), as, label: l };
    }
    if ("csv" in x) return { kind: "parse", format: "csv", from: x.csv, fields: x.columns, as, label: l };
    if ("tsv" in x) return { kind: "parse", format: "tsv", from: x.tsv, fields: x.columns, as, label: l };
    return { kind: "parse", format: "regex", from: x.from, pattern: x.regex, as, label: l };
  }
  if ("join" in step) {
    const j = step.join;
    return {
      kind: "join",
      file: p.files.get(i)!,
      format: j.format!, // filled in by loadPipeline
      key: j.key,
      on: j.on,
      unmatched: j.unmatched,
      as,
      label: label(i, "join"),
    };
  }
  if ("udf" in step) {
    const u = step.udf;
    return { kind: "udf", module: p.files.get(i)!, export: u.export, udfKind: u.kind, as, label: label(i, "udf") };
  }
  const kind = "map" in step ? "map" : "filter" in step ? "filter" : "flatMap";
  const expr = (step as Record<string, string>)[kind];
  return { kind, expr, as, label: label(i, kind) };
}

/** The windowed aggregation of `keyBy` (before i), `window` (at i) and `aggregate` (at i + 1). */
function windowPlan(
  p: LoadedPipeline,
  i: number,
  name: string,
  issue: (i: number, kind: string, message: string) => void,
): WindowPlan | null {
  const step = p.spec.steps[i] as Extract<Step, { window: unknown }>;
  const agg = p.spec.steps[i + 1];
  const l = `step ${i + 1} 'window'`;
  if (!agg || !("aggregate" in agg)) {
    issue(i, "window", "a window must be followed directly by an aggregate (what to compute per window)");
    return null;
  }
  const columns = p.aggregates.get(i + 1)!;
  let ok = true;
  if (agg.emit === "updates") {
    issue(
      i + 1,
      "aggregate",
      "'emit: updates' does not apply after a window: each window is output once, when it closes",
    );
    ok = false;
  }
  for (const c of columns.filter((c) => c.name === "start" || c.name === "end")) {
    issue(
      i + 1,
      "aggregate",
      `column '${c.name}': '${c.name}' is a column of every window's output; choose another name`,
    );
    ok = false;
  }
  if (!ok) return null;
  const w = step.window;
  const as = step.as ?? name;
  const d = p.windows.get(i)!;
  const kind = "tumbling" in w ? "tumbling" : "sliding" in w ? "sliding" : "session";
  return {
    kind,
    ...(d.sizeMs !== undefined && { sizeMs: d.sizeMs }),
    ...(d.slideMs !== undefined && { slideMs: d.slideMs }),
    ...(d.gapMs !== undefined && { gapMs: d.gapMs }),
    time: w.time === undefined ? null : { expr: w.time, as, label: l },
    maxDelayMs: d.maxDelayMs,
    allowedLatenessMs: d.allowedLatenessMs,
    idleTimeoutMs: d.idleTimeoutMs,
    aggregate: { columns, emit: "final", as: agg.as ?? as, label: `step ${i + 2} 'aggregate'` },
    label: l,
  };
}

/** Human-readable description of the stages, for `drizzle plan`. */
export function describePlan(plan: PhysicalPlan): string {
  const out: string[] = [];
  const g = plan.source.generate;
  const src = plan.source.kind === "stdin"
    ? "stdin"
    : g
    ? `generate ${g.workload} (${g.events} events${g.rate ? ` at ${g.rate}/s` : ""})`
    : `file ${plan.source.paths.join(", ")}`;
  out.push(`pipeline ${plan.name}: ${plan.stages.length} stage(s), source ${src} (${plan.source.format})`);
  for (const s of plan.stages) {
    const input = s.id === 0 ? "source" : `shuffle from stage ${s.id - 1}`;
    out.push(`stage ${s.id}: ${s.partitions} partition(s), input: ${input}`);
    if (s.head) out.push(`  reduce ${s.head.label}: ${describeColumns(s.head)} (emit ${s.head.emit}, keyed state)`);
    if (s.window) out.push(`  reduce ${s.window.label}: ${describeWindow(s.window)}`);
    for (const st of s.steps) out.push(`  ${st.label}: ${describeStep(st)}`);
    if (s.output.kind === "shuffle") {
      const inPlace = countsPiecesInPlace(s) ? " (pieces counted where they lie in the text)" : "";
      const combine = s.output.combine ? `, map-side combine ${describeColumns(s.output.combine)}${inPlace}` : "";
      const time = s.output.time ? `, event time (${s.output.time.as}) => ${s.output.time.expr}` : "";
      out.push(
        `  output: shuffle by ${s.output.key.label} (${s.output.key.as}) => ${s.output.key.expr}${combine}${time}`,
      );
    } else {
      const sink = plan.sink.kind === "stdout" ? "stdout" : `file ${plan.sink.path}`;
      out.push(`  output: sink ${sink} (${plan.sink.format})`);
    }
  }
  return out.join("\n");
}

function describeColumns(a: AggregatePlan): string {
  return a.columns.map((c) => {
    const k = c.kind === "topK" ? `, k=${c.k}` : "";
    return c.of ? `${c.name}=${c.kind}(${c.of}${k})` : `${c.name}=${c.kind}`;
  }).join(", ");
}

function describeStep(st: NarrowStepPlan): string {
  switch (st.kind) {
    case "parse": {
      const what = st.format === "regex" ? ` /${st.pattern}/` : st.fields ? ` [${st.fields.join(", ")}]` : "";
      return `parse ${st.format}${what} (${st.as}) => ${st.from}`;
    }
    case "join":
      return `join ${st.file} (${st.format}) on ${st.key} (${st.as}) => ${st.on}, unmatched ${st.unmatched}`;
    case "udf":
      return `udf ${st.udfKind} (${st.as}) => ${st.export} from ${st.module}`;
    case "split":
      return `split on ${JSON.stringify(st.on)} (${st.as}) => ${st.from}`;
    default:
      return `${st.kind} (${st.as}) => ${st.expr}`;
  }
}

function describeWindow(w: WindowPlan): string {
  const d = formatDuration;
  const shape = w.kind === "tumbling"
    ? `tumbling ${d(w.sizeMs!)}`
    : w.kind === "sliding"
    ? `sliding ${d(w.sizeMs!)} every ${d(w.slideMs!)}`
    : `session gap ${d(w.gapMs!)}`;
  const time = w.time ? `event time (${w.time.as}) => ${w.time.expr}` : "processing time";
  const idle = w.idleTimeoutMs === null ? "" : `, idle timeout ${d(w.idleTimeoutMs)}`;
  return `${shape} on ${time}, max delay ${d(w.maxDelayMs)}, allowed lateness ${d(w.allowedLatenessMs)}${idle}; ` +
    `${w.aggregate.label}: ${describeColumns(w.aggregate)} (keyed windows)`;
}

/**
 * Whether a stage ends in `split`, keyed by the piece itself and counted (one plain count): its
 * pieces then go to the map-side combine as positions in their text, with no string made per
 * piece (see ops/split.ts).
 */
export function countsPiecesInPlace(stage: StagePlan): boolean {
  const out = stage.output;
  if (out.kind !== "shuffle" || !out.combine || stage.steps.at(-1)?.kind !== "split") return false;
  const cols = out.combine.columns;
  return cols.length === 1 && cols[0].kind === "count" && cols[0].of === undefined &&
    out.key.expr.trim() === out.key.as;
}
