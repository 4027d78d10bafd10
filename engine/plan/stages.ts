import { parseDuration } from "./duration.ts";
import { PipelineError, type PipelineIssue } from "./errors.ts";
import type { LoadedPipeline } from "./load.ts";
import type { AggregatePlan, ExprPlan, NarrowStepPlan, PhysicalPlan, SinkPlan, SourcePlan, StagePlan } from "./plan.ts";

export interface PlanOptions {
  /** Partitions of every stage. */
  partitions: number;
}

/**
 * Cuts a validated pipeline into stages: a new stage starts after every keyBy (a shuffle). An
 * aggregate directly after a keyBy is split in two: the map side combines per key before the
 * shuffle (the `combine` of the stage's output) and the reduce side merges partials and holds
 * the state (the `head` of the next stage).
 */
export function buildPlan(p: LoadedPipeline, opts: PlanOptions): PhysicalPlan {
  const { spec } = p;
  const issues: PipelineIssue[] = [];
  const src = "stdin" in spec.source ? spec.source.stdin : spec.source.file;
  const source: SourcePlan = {
    kind: "stdin" in spec.source ? "stdin" : "file",
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

  for (let i = 0; i < spec.steps.length; i++) {
    const step = spec.steps[i];
    if ("keyBy" in step) {
      const key: ExprPlan = { expr: step.keyBy, as: step.as ?? name, label: label(i, "keyBy") };
      name = key.as;
      let combine: AggregatePlan | undefined;
      const next = spec.steps[i + 1];
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
      issues.push({
        pos: p.stepPos[i],
        step: label(i, "aggregate"),
        message: "an aggregate needs a keyBy right before it (use 'keyBy: \"0\"' for one global group)",
      });
    } else {
      const kind = "map" in step ? "map" : "filter" in step ? "filter" : "flatMap";
      const expr = (step as Record<string, string>)[kind];
      const as = step.as ?? name;
      const narrow: NarrowStepPlan = { kind, expr, as, label: label(i, kind) };
      current.steps.push(narrow);
      name = as;
    }
  }
  stages.push(current);
  if (issues.length) throw new PipelineError(issues);
  const intervalMs = spec.interval === undefined ? undefined : parseDuration(spec.interval) ?? undefined;
  return { name: spec.name ?? "pipeline", intervalMs, source, stages, sink };
}

/** Human-readable description of the stages, for `drizzle plan`. */
export function describePlan(plan: PhysicalPlan): string {
  const out: string[] = [];
  const src = plan.source.kind === "stdin" ? "stdin" : `file ${plan.source.paths.join(", ")}`;
  out.push(`pipeline ${plan.name}: ${plan.stages.length} stage(s), source ${src} (${plan.source.format})`);
  for (const s of plan.stages) {
    const input = s.id === 0 ? "source" : `shuffle from stage ${s.id - 1}`;
    out.push(`stage ${s.id}: ${s.partitions} partition(s), input: ${input}`);
    if (s.head) out.push(`  reduce ${s.head.label}: ${describeColumns(s.head)} (emit ${s.head.emit}, keyed state)`);
    for (const st of s.steps) out.push(`  ${st.label}: ${st.kind} (${st.as}) => ${st.expr}`);
    if (s.output.kind === "shuffle") {
      const combine = s.output.combine ? `, map-side combine ${describeColumns(s.output.combine)}` : "";
      out.push(`  output: shuffle by ${s.output.key.label} (${s.output.key.as}) => ${s.output.key.expr}${combine}`);
    } else {
      const sink = plan.sink.kind === "stdout" ? "stdout" : `file ${plan.sink.path}`;
      out.push(`  output: sink ${sink} (${plan.sink.format})`);
    }
  }
  return out.join("\n");
}

function describeColumns(a: AggregatePlan): string {
  return a.columns.map((c) => (c.of ? `${c.name}=${c.kind}(${c.of})` : `${c.name}=${c.kind}`)).join(", ");
}
