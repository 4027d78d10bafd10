import { dirname } from "node:path";
import { type Document, isScalar, LineCounter, type Node, parseDocument, visit } from "yaml";
import type { z } from "zod";
import { expressionError } from "../ops/expr.ts";
import { checkAggregateColumns } from "./check_aggregate.ts";
import { checkJoin, checkParse, checkUdf, checkWindow, type FileCheck, type WindowDurations } from "./check_steps.ts";
import { parseDuration } from "./duration.ts";
import { PipelineError, type PipelineIssue, showValue as show, type SourcePos } from "./errors.ts";
import {
  FileSink,
  FileSource,
  GenerateSource,
  ParseCsv,
  ParseJson,
  ParseRegex,
  ParseTsv,
  Pipeline,
  SessionWindow,
  SlidingWindow,
  StdinSource,
  StdoutSink,
  type Step,
  STEP_KINDS,
  STEP_SCHEMAS,
  TumblingWindow,
} from "./spec.ts";
import type { AggregateColumnPlan } from "./plan.ts";

/** A validated pipeline plus what is needed to point at its parts in error messages. */
export interface LoadedPipeline {
  file: string;
  spec: Pipeline;
  /** Normalised aggregate columns per step index (only for aggregate steps). */
  aggregates: Map<number, AggregateColumnPlan[]>;
  /** Absolute path of the file a join (table) or udf (module) step reads, per step index. */
  files: Map<number, string>;
  /** Durations of each window step, in ms, per step index. */
  windows: Map<number, WindowDurations>;
  /** Position of each step, for errors found after validation (planning). */
  stepPos: SourcePos[];
}

export interface LoadOptions {
  /**
   * Checks that the files steps name (join tables, udf modules) can be read, so a missing one
   * is reported here with file:line:col. plan/ does no I/O itself: the caller passes the check,
   * e.g. `(p) => { try { accessSync(p, constants.R_OK); return null } catch (e) { return e.code } }`.
   * Without it files are not checked until loadTables/loadUdfs (ops/) read them.
   */
  checkFile?: FileCheck;
}

type Path = (string | number)[];

/** Reads and validates a pipeline; throws PipelineError listing every problem with file:line:col. */
export function loadPipeline(
  text: string,
  file: string,
  env: Record<string, string | undefined> = process.env,
  options: LoadOptions = {},
): LoadedPipeline {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): SourcePos => {
    const { line, col } = lines.linePos(offset);
    return { file, line, col };
  };
  const issues: PipelineIssue[] = [];
  for (const e of doc.errors) {
    issues.push({ pos: at(e.pos[0]), message: e.message.split("\n")[0] });
  }
  if (issues.length) throw new PipelineError(issues);

  interpolate(doc, env, (node, message) => issues.push({ pos: at(node.range?.[0] ?? 0), message }));

  const posOf = (path: Path): SourcePos => at(nodeAt(doc, path)?.range?.[0] ?? 0);
  const stepLabel = (i: number, kind?: string) => `step ${i + 1}${kind ? ` '${kind}'` : ""}`;
  const raw = doc.toJS() as unknown;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    issues.push({ pos: at(0), message: "expected a mapping with 'source', 'steps' and 'sink'" });
    throw new PipelineError(issues);
  }

  // Steps are checked one by one so that an error names the step and its kind; the rest of
  // the document goes through the Pipeline schema.
  const rawSteps = (raw as Record<string, unknown>).steps;
  const steps: Step[] = [];
  const aggregates = new Map<number, AggregateColumnPlan[]>();
  const files = new Map<number, string>();
  const windows = new Map<number, WindowDurations>();
  const stepPos: SourcePos[] = [];
  const ctx = { dir: dirname(file), checkFile: options.checkFile };
  if (rawSteps !== undefined && !Array.isArray(rawSteps)) {
    issues.push({ pos: posOf(["steps"]), message: "'steps' must be a list of steps" });
  } else {
    (rawSteps ?? []).forEach((s: unknown, i: number) => {
      stepPos.push(posOf(["steps", i]));
      const step = checkStep(s, i);
      if (step) steps.push(step);
    });
  }

  function checkStep(s: unknown, i: number): Step | null {
    const path = ["steps", i];
    if (s === null || typeof s !== "object" || Array.isArray(s)) {
      issues.push({
        pos: posOf(path),
        step: stepLabel(i),
        message: `expected a mapping such as 'map: <expression>', got ${show(s)}`,
      });
      return null;
    }
    const kinds = Object.keys(s).filter((k) => (STEP_KINDS as readonly string[]).includes(k));
    if (kinds.length !== 1) {
      const others = Object.keys(s).filter((k) => !["as", "emit"].includes(k));
      const message = kinds.length === 0
        ? `unknown step '${others[0] ?? Object.keys(s)[0] ?? ""}': expected one of ${STEP_KINDS.join(", ")}`
        : `a step has exactly one kind, got ${kinds.join(" and ")}`;
      issues.push({ pos: posOf(path), step: stepLabel(i), message });
      return null;
    }
    const kind = kinds[0] as keyof typeof STEP_SCHEMAS;
    const label = stepLabel(i, kind);
    const report = (rel: Path, message: string) => issues.push({ pos: posOf([...path, ...rel]), step: label, message });
    if (kind === "aggregate") {
      // Columns are checked by hand for precise messages; the schema checks the rest.
      const parsed = STEP_SCHEMAS.aggregate.safeParse({ ...(s as Record<string, unknown>), aggregate: {} });
      if (!parsed.success) zodIssues(parsed.error, path, label);
      const cols = checkAggregateColumns(
        (s as Record<string, unknown>).aggregate,
        (rel, message) => report(["aggregate", ...rel], message),
      );
      if (!parsed.success || !cols) return null;
      aggregates.set(i, cols);
      return { ...parsed.data, aggregate: (s as { aggregate: never }).aggregate };
    }
    const parsed = STEP_SCHEMAS[kind].safeParse(s);
    if (!parsed.success) {
      zodIssues(parsed.error, path, label);
      return null;
    }
    const step = parsed.data as Step;
    if ("parse" in step) return checkParse(step, report) ? step : null;
    if ("window" in step) {
      const durations = checkWindow(step, report);
      if (durations) windows.set(i, durations);
      return durations ? step : null;
    }
    if ("join" in step) {
      const table = checkJoin(step, ctx, report);
      if (!table) return null;
      files.set(i, table.file);
      return { ...step, join: { ...step.join, format: table.format } };
    }
    if ("udf" in step) {
      const module = checkUdf(step, ctx, report);
      if (module) files.set(i, module);
      return module ? step : null;
    }
    const expr = (step as Record<string, unknown>)[kind] as string;
    const err = expressionError(expr, (step as { as?: string }).as ?? "x");
    if (err) {
      report([kind], `cannot compile expression ${JSON.stringify(expr)}: ${err}`);
      return null;
    }
    return step;
  }

  function zodIssues(error: z.ZodError, prefix: Path, step?: string): void {
    for (const iss of error.issues) {
      const path = [...prefix, ...(iss.path as Path)];
      let message = iss.message;
      if (iss.code === "unrecognized_keys") message = `unknown option ${iss.keys.map((k) => `'${k}'`).join(", ")}`;
      if (iss.code === "invalid_union") {
        // Source, sink, parse and window are unions keyed by their kind: report against the kind written.
        const specific = specificSchema(path, valueAt(raw, path));
        const r = specific?.safeParse(valueAt(raw, path));
        if (r && !r.success) {
          zodIssues(r.error, path, step);
          continue;
        }
        const name = String(path[path.length - 1] ?? "value");
        const hint = unionHint(path);
        message = valueAt(raw, path) !== undefined
          ? `not a valid ${name}: ${hint}`
          : hint === GENERIC_HINT
          ? `missing '${name}'`
          : `missing '${name}': ${hint}`;
      }
      const got = valueAt(raw, path);
      if (iss.code !== "unrecognized_keys" && iss.code !== "invalid_union" && got !== undefined) {
        message += `, got ${show(got)}`;
      }
      const last = path[path.length - 1];
      if (iss.code === "invalid_type" && got === undefined && typeof last === "string") {
        const plain = /^Invalid input: expected (\w+), received undefined$/.exec(message);
        message = plain ? `missing '${last}' (a ${plain[1]})` : `missing '${last}': ${message}`;
      }
      issues.push({ pos: posOf(path), step, message });
    }
  }

  const rest = { ...(raw as Record<string, unknown>), steps: [] };
  const top = Pipeline.safeParse(rest);
  if (!top.success) zodIssues(top.error, []);
  if (top.success && top.data.interval !== undefined && parseDuration(top.data.interval) === null) {
    issues.push({
      pos: posOf(["interval"]),
      message: `'interval' must be a duration such as "100ms" or "1s", got ${show(top.data.interval)}`,
    });
  }
  if (issues.length || !top.success) throw new PipelineError(issues);
  return { file, spec: { ...top.data, steps }, aggregates, files, windows, stepPos };
}

/** Union members by the key that names them: report errors against the variant written. */
const VARIANTS: Record<string, Record<string, z.ZodType>> = {
  source: { stdin: StdinSource, file: FileSource, generate: GenerateSource },
  sink: { stdout: StdoutSink, file: FileSink },
  parse: { json: ParseJson, csv: ParseCsv, tsv: ParseTsv, regex: ParseRegex },
  window: { tumbling: TumblingWindow, sliding: SlidingWindow, session: SessionWindow },
};

function specificSchema(path: Path, value: unknown): z.ZodType | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const isTop = path.length === 1 && (path[0] === "source" || path[0] === "sink");
  const isStep = path.length === 3 && path[0] === "steps" && (path[2] === "parse" || path[2] === "window");
  if (!isTop && !isStep) return undefined;
  const variants = VARIANTS[path[path.length - 1]];
  // Source and sink hold exactly their kind; parse and window hold it among their options.
  const named = Object.keys(value).filter((k) => k in variants);
  if (named.length !== 1 || (isTop && Object.keys(value).length !== 1)) return undefined;
  return variants[named[0]];
}

function unionHint(path: Path): string {
  const last = path[path.length - 1];
  if (last === "source") {
    return "expected 'stdin: { format }', 'file: { path, format }' or 'generate: { ysb: { events, rate } }'";
  }
  if (last === "sink") return "expected 'stdout: { format }' or 'file: { path, format }'";
  if (last === "parse") {
    return "expected one of 'json: <expression>', 'csv: <expression>' or 'tsv: <expression>' with 'columns', " +
      "'regex: <pattern>' with 'from'";
  }
  if (last === "window") {
    return "expected one of 'tumbling: <duration>', 'sliding: <duration>' with 'slide', 'session: <gap>'";
  }
  return GENERIC_HINT;
}

const GENERIC_HINT = "see 'drizzle schema'";

function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

/** The deepest YAML node along `path` (a missing key points at its parent). */
function nodeAt(doc: Document, path: Path): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
    if (node && typeof node === "object" && "range" in node && node.range) return node;
  }
  return doc.contents ?? undefined;
}

/** Replaces ${VAR} and ${VAR:-default} in every string scalar; reports undefined variables. */
function interpolate(
  doc: Document,
  env: Record<string, string | undefined>,
  report: (node: Node, message: string) => void,
): void {
  visit(doc, {
    Scalar(_key, node) {
      if (!isScalar(node) || typeof node.value !== "string" || !node.value.includes("${")) return;
      node.value = node.value.replace(
        /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
        (whole, name: string, dflt?: string) => {
          const v = env[name];
          if (v !== undefined && v !== "") return v;
          if (dflt !== undefined) return dflt;
          report(node, `environment variable ${name} is not set (write \${${name}:-default} to give a default)`);
          return whole;
        },
      );
    },
  });
}
