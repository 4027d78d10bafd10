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
/**
 * Synthetic input made on the executors themselves (no bytes cross the driver): the Yahoo
 * Streaming Benchmark's events as JSON lines, deterministic for a seed, at `rate` events per
 * second of processing time (0: as fast as the pipeline goes), `events` in all.
 */
export const GenerateSource = z.strictObject({
  generate: z.strictObject({
    ysb: z.strictObject({
      events: z.number().int().positive(),
      rate: z.number().nonnegative().default(0),
      seed: z.number().int().default(1),
      skew: z.boolean().default(false),
      /** Event time of event 0, epoch ms (default: when the run starts). */
      startTime: z.number().int().optional(),
    }),
  }),
});
export const Source = z.union([StdinSource, FileSource, GenerateSource]);
export type Source = z.infer<typeof Source>;

const sinkOptions = { format: Format.default("tsv") };
export const StdoutSink = z.strictObject({ stdout: z.strictObject(sinkOptions) });
export const FileSink = z.strictObject({ file: z.strictObject({ path: z.string().min(1), ...sinkOptions }) });
export const Sink = z.union([StdoutSink, FileSink]);
export type Sink = z.infer<typeof Sink>;

const identifier = z.string().regex(/^[A-Za-z_$][\w$]*$/, "expected a JavaScript identifier");
const as = identifier.optional();

export const MapStep = z.strictObject({ map: expression, as });
export const FilterStep = z.strictObject({ filter: expression, as });
export const FlatMapStep = z.strictObject({ flatMap: expression, as });
export const KeyByStep = z.strictObject({ keyBy: expression, as });
/** Blanks, as awk splits fields by default. */
export const DEFAULT_SPLIT_ON = " \t";
export const SplitStep = z.strictObject({
  split: expression.describe("the text to cut (a string)"),
  on: z.string().min(1).default(DEFAULT_SPLIT_ON).describe(
    "the characters that separate pieces (default space and tab)",
  ),
  as,
}).describe("text to its pieces: every run of characters not in `on` is a record (a string)");

export const AGGREGATORS = ["count", "sum", "min", "max", "avg", "distinct", "topK"] as const;
export type AggregatorKind = (typeof AGGREGATORS)[number];
/** How many values `topK` keeps when `k` is not given. */
export const DEFAULT_TOP_K = 10;

const topK = z.strictObject({
  of: expression,
  k: z.number().int().min(1).default(DEFAULT_TOP_K).describe("how many of the most frequent values"),
});

/**
 * One output column of an aggregate: `count: {}` (column named after the aggregator) with an
 * optional `of` expression, or `name: { sum: "expr" }` for a column of any name.
 */
export const AggregateColumn = z.union([
  z.strictObject({
    of: expression.optional(),
    k: z.number().int().min(1).optional().describe("topK only: how many values (default 10)"),
  }),
  z.strictObject({ count: z.union([z.strictObject({}), z.literal(true), expression]) }),
  z.strictObject({ sum: expression }),
  z.strictObject({ min: expression }),
  z.strictObject({ max: expression }),
  z.strictObject({ avg: expression }),
  z.strictObject({ distinct: expression }).describe("exact number of distinct non-null values"),
  z.strictObject({ topK: z.union([expression, topK]) }).describe(
    "the k most frequent non-null values as [value, count], most frequent first, ties by value",
  ),
]);

export const AggregateStep = z.strictObject({
  aggregate: z.record(z.string(), AggregateColumn),
  emit: z.enum(["final", "updates"]).default("final"),
  as,
});

const names = z.array(z.string().min(1), { error: "expected a list of names such as '[a, b]'" }).min(1);

/** `parse: { json: "<expr>", fields: [a, b] }`: JSON text to a value (only the fields, if given). */
export const ParseJson = z.strictObject({ json: expression, fields: names.optional() });
/** `parse: { csv: "<expr>", columns: [a, b] }`: one CSV line (RFC 4180 quotes) to an object. */
export const ParseCsv = z.strictObject({ csv: expression, columns: names });
/** `parse: { tsv: "<expr>", columns: [a, b] }`: one tab-separated line to an object. */
export const ParseTsv = z.strictObject({ tsv: expression, columns: names });
/** `parse: { regex: "<pattern>", from: "<expr>" }`: the named groups of a match, as an object. */
export const ParseRegex = z.strictObject({ regex: z.string().min(1), from: expression });
export const PARSE_FORMATS = ["json", "csv", "tsv", "regex"] as const;
export type ParseFormat = (typeof PARSE_FORMATS)[number];
export const ParseStep = z.strictObject({
  parse: z.union([ParseJson, ParseCsv, ParseTsv, ParseRegex]),
  as,
}).describe("text to a record; input that does not parse is rejected");

export const JOIN_FORMATS = ["csv", "tsv", "jsonl"] as const;
export type JoinFormat = (typeof JOIN_FORMATS)[number];
export const JoinStep = z.strictObject({
  join: z.strictObject({
    file: z.string().min(1).describe("the table, relative to the pipeline file"),
    format: z.enum(JOIN_FORMATS).optional().describe(
      "csv/tsv with a header line, or jsonl (default: from the file name)",
    ),
    key: z.string().min(1).describe("the table column looked up"),
    on: expression.describe("the lookup key of each record"),
    unmatched: z.enum(["drop", "keep"]).default("drop").describe("what happens to records with no row"),
  }),
  as,
}).describe("adds the columns of the matching row of a static table");

export const UDF_KINDS = ["map", "filter", "flatMap"] as const;
export const UdfStep = z.strictObject({
  udf: z.strictObject({
    module: z.string().regex(/\.(ts|js|mts|mjs)$/, "expected a .ts or .js module").describe(
      "relative to the pipeline file",
    ),
    export: identifier.describe("the named export: a function of one record"),
    kind: z.enum(UDF_KINDS).default("map"),
  }),
  as,
}).describe("a function exported by a local module");

const windowOptions = {
  time: expression.optional().describe("event time (epoch ms or an ISO string); default: processing time"),
  maxDelay: duration.optional().describe("how far event time may run out of order (watermark lag); default 0"),
  allowedLateness: duration.optional().describe("how long a window stays open after the watermark passes it"),
  idleTimeout: duration.optional().describe("after this long without records the watermark follows the clock"),
};
export const TumblingWindow = z.strictObject({ tumbling: duration, ...windowOptions });
export const SlidingWindow = z.strictObject({ sliding: duration, slide: duration, ...windowOptions });
export const SessionWindow = z.strictObject({
  session: duration.describe("the gap that ends a session"),
  ...windowOptions,
});
export const WINDOW_KINDS = ["tumbling", "sliding", "session"] as const;
export type WindowKind = (typeof WINDOW_KINDS)[number];
export const WindowStep = z.strictObject({
  window: z.union([TumblingWindow, SlidingWindow, SessionWindow]),
  as,
}).describe("between a keyBy and an aggregate: aggregate per key and window");

export const STEP_KINDS = [
  "map",
  "filter",
  "flatMap",
  "split",
  "parse",
  "join",
  "udf",
  "keyBy",
  "window",
  "aggregate",
] as const;
export type StepKind = (typeof STEP_KINDS)[number];
export const STEP_SCHEMAS = {
  map: MapStep,
  filter: FilterStep,
  flatMap: FlatMapStep,
  split: SplitStep,
  parse: ParseStep,
  join: JoinStep,
  udf: UdfStep,
  keyBy: KeyByStep,
  window: WindowStep,
  aggregate: AggregateStep,
} as const;
export const Step = z.union([
  MapStep,
  FilterStep,
  FlatMapStep,
  SplitStep,
  ParseStep,
  JoinStep,
  UdfStep,
  KeyByStep,
  WindowStep,
  AggregateStep,
]);
export type Step = z.infer<typeof Step>;

/**
 * Where rejected records go, besides the count on stderr: a file of JSON lines, one per record
 * ({ step, error, record }).
 */
export const DeadLetter = z.strictObject({ file: z.strictObject({ path: z.string().min(1) }) });

export const Pipeline = z.strictObject({
  name: z.string().min(1).optional(),
  /** Micro-batch interval for this pipeline; `--interval` overrides it. */
  interval: duration.optional(),
  source: Source,
  steps: z.array(Step).default([]),
  sink: Sink.default({ stdout: { format: "tsv" } }),
  deadLetter: DeadLetter.optional(),
});
export type Pipeline = z.infer<typeof Pipeline>;
