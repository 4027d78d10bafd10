import { z } from "zod";

/**
 * The pipeline language as zod schemas: the single source of truth for validation, for the
 * TypeScript types the planner uses, and for `drizzle schema` (JSON Schema for editors).
 */

export const FORMATS = ["lines", "jsonl", "csv", "tsv"] as const;
export const Format = z.enum(FORMATS);
export type Format = z.infer<typeof Format>;

const expression = z.string().min(1, "expected a JavaScript expression");
const duration = z.union([z.string(), z.number()]).describe('a duration such as "100ms", "1s", "2m"');

const sourceOptions = {
  format: Format.default("lines"),
  /** csv/tsv: the first line names the columns; records become objects. */
  header: z.boolean().default(false),
};

export const StdinSource = z.strictObject({ stdin: z.strictObject(sourceOptions) });
export const FileSource = z.strictObject({
  file: z.strictObject({
    path: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    ...sourceOptions,
  }),
});
export const Source = z.union([StdinSource, FileSource]);
export type Source = z.infer<typeof Source>;

const sinkOptions = { format: Format.default("tsv") };
export const StdoutSink = z.strictObject({ stdout: z.strictObject(sinkOptions) });
export const FileSink = z.strictObject({ file: z.strictObject({ path: z.string().min(1), ...sinkOptions }) });
export const Sink = z.union([StdoutSink, FileSink]);
export type Sink = z.infer<typeof Sink>;

const as = z.string().regex(/^[A-Za-z_$][\w$]*$/, "expected a JavaScript identifier").optional();

export const MapStep = z.strictObject({ map: expression, as });
export const FilterStep = z.strictObject({ filter: expression, as });
export const FlatMapStep = z.strictObject({ flatMap: expression, as });
export const KeyByStep = z.strictObject({ keyBy: expression, as });

export const AGGREGATORS = ["count", "sum", "min", "max", "avg"] as const;
export type AggregatorKind = (typeof AGGREGATORS)[number];

/**
 * One output column of an aggregate: `count: {}` (column named after the aggregator) with an
 * optional `of` expression, or `name: { sum: "expr" }` for a column of any name.
 */
export const AggregateColumn = z.union([
  z.strictObject({ of: expression.optional() }),
  z.strictObject({ count: z.union([z.strictObject({}), z.literal(true), expression]) }),
  z.strictObject({ sum: expression }),
  z.strictObject({ min: expression }),
  z.strictObject({ max: expression }),
  z.strictObject({ avg: expression }),
]);

export const AggregateStep = z.strictObject({
  aggregate: z.record(z.string(), AggregateColumn),
  emit: z.enum(["final", "updates"]).default("final"),
  as,
});

export const STEP_KINDS = ["map", "filter", "flatMap", "keyBy", "aggregate"] as const;
export type StepKind = (typeof STEP_KINDS)[number];
export const STEP_SCHEMAS = {
  map: MapStep,
  filter: FilterStep,
  flatMap: FlatMapStep,
  keyBy: KeyByStep,
  aggregate: AggregateStep,
} as const;
export const Step = z.union([MapStep, FilterStep, FlatMapStep, KeyByStep, AggregateStep]);
export type Step = z.infer<typeof Step>;

export const Pipeline = z.strictObject({
  name: z.string().min(1).optional(),
  /** Micro-batch interval for this pipeline; `--interval` overrides it. */
  interval: duration.optional(),
  source: Source,
  steps: z.array(Step).default([]),
  sink: Sink.default({ stdout: { format: "tsv" } }),
});
export type Pipeline = z.infer<typeof Pipeline>;
