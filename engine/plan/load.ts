import { type Document, isScalar, LineCounter, type Node, parseDocument, visit } from "yaml";
import type { z } from "zod";
import { expressionError } from "../ops/expr.ts";
import { parseDuration } from "./duration.ts";
import { PipelineError, type PipelineIssue, type SourcePos } from "./errors.ts";
import {
  type AggregatorKind,
  AGGREGATORS,
  FileSink,
  FileSource,
  Pipeline,
  StdinSource,
  StdoutSink,
  type Step,
  STEP_KINDS,
  STEP_SCHEMAS,
} from "./spec.ts";
import type { AggregateColumnPlan } from "./plan.ts";

/** A validated pipeline plus what is needed to point at its parts in error messages. */
export interface LoadedPipeline {
  file: string;
  spec: Pipeline;
  /** Normalised aggregate columns per step index (only for aggregate steps). */
  aggregates: Map<number, AggregateColumnPlan[]>;
  /** Position of each step, for errors found after validation (planning). */
  stepPos: SourcePos[];
}

type Path = (string | number)[];

/** Reads and validates a pipeline; throws PipelineError listing every problem with file:line:col. */
export function loadPipeline(
  text: string,
  file: string,
  env: Record<string, string | undefined> = process.env,
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
  const stepPos: SourcePos[] = [];
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
    if (kind === "aggregate") {
      // Columns are checked by hand for precise messages; the schema checks the rest.
      const parsed = STEP_SCHEMAS.aggregate.safeParse({ ...(s as Record<string, unknown>), aggregate: {} });
      if (!parsed.success) zodIssues(parsed.error, path, stepLabel(i, kind));
      const cols = checkAggregate((s as Record<string, unknown>).aggregate, i);
      if (!parsed.success || !cols) return null;
      aggregates.set(i, cols);
      return { ...parsed.data, aggregate: (s as { aggregate: never }).aggregate };
    }
    const parsed = STEP_SCHEMAS[kind].safeParse(s);
    if (!parsed.success) {
      zodIssues(parsed.error, path, stepLabel(i, kind));
      return null;
    }
    const step = parsed.data as Step;
    const expr = (step as Record<string, unknown>)[kind] as string;
    const err = expressionError(expr, (step as { as?: string }).as ?? "x");
    if (err) {
      issues.push({
        pos: posOf([...path, kind]),
        step: stepLabel(i, kind),
        message: `cannot compile expression ${JSON.stringify(expr)}: ${err}`,
      });
      return null;
    }
    return step;
  }

  function checkAggregate(spec: unknown, i: number): AggregateColumnPlan[] | null {
    const path = ["steps", i, "aggregate"];
    const label = stepLabel(i, "aggregate");
    if (spec === null || typeof spec !== "object" || Array.isArray(spec) || Object.keys(spec).length === 0) {
      issues.push({
        pos: posOf(path),
        step: label,
        message: `expected a mapping of columns such as '{ count: {} }', got ${show(spec)}`,
      });
      return null;
    }
    const cols: AggregateColumnPlan[] = [];
    let ok = true;
    for (const [name, v] of Object.entries(spec)) {
      const colPath = [...path, name];
      const fail = (message: string) => {
        issues.push({ pos: posOf(colPath), step: label, message: `column '${name}': ${message}` });
        ok = false;
      };
      if (name === "key") {
        fail("'key' is the name of the grouping column; choose another name");
        continue;
      }
      const isKind = (k: string): k is AggregatorKind => (AGGREGATORS as readonly string[]).includes(k);
      let kind: AggregatorKind;
      let of: string | undefined;
      if (v === null || typeof v !== "object" || Array.isArray(v)) {
        fail(`expected a mapping such as '{ sum: "expression" }', got ${show(v)}`);
        continue;
      }
      const keys = Object.keys(v);
      const aggKeys = keys.filter(isKind);
      if (isKind(name) && aggKeys.length === 0) {
        kind = name;
        const extra = keys.filter((k) => k !== "of");
        if (extra.length) {
          fail(`unknown option '${extra[0]}': expected 'of'`);
          continue;
        }
        of = (v as { of?: unknown }).of as string | undefined;
      } else if (aggKeys.length === 1 && keys.length === 1) {
        kind = aggKeys[0];
        const e = (v as Record<string, unknown>)[kind];
        of = typeof e === "string" ? e : undefined;
        if (kind !== "count" && typeof e !== "string") {
          fail(`'${kind}' needs an expression, got ${show(e)}`);
          continue;
        }
      } else {
        fail(`expected one of ${AGGREGATORS.join(", ")} with an expression, e.g. '{ sum: "r.bytes" }'`);
        continue;
      }
      if (kind !== "count" && of === undefined) {
        fail(`'${kind}' needs 'of: <expression>'`);
        continue;
      }
      if (of !== undefined) {
        if (typeof of !== "string" || of.length === 0) {
          fail(`expected an expression, got ${show(of)}`);
          continue;
        }
        const err = expressionError(of, "x");
        if (err) {
          fail(`cannot compile expression ${JSON.stringify(of)}: ${err}`);
          continue;
        }
      }
      cols.push(of === undefined ? { name, kind } : { name, kind, of });
    }
    return ok ? cols : null;
  }

  function zodIssues(error: z.ZodError, prefix: Path, step?: string): void {
    for (const iss of error.issues) {
      const path = [...prefix, ...(iss.path as Path)];
      let message = iss.message;
      if (iss.code === "unrecognized_keys") message = `unknown option ${iss.keys.map((k) => `'${k}'`).join(", ")}`;
      if (iss.code === "invalid_union") {
        // Source and sink are unions keyed by their kind: report against the kind written.
        const specific = specificSchema(path, valueAt(raw, path));
        const r = specific?.safeParse(valueAt(raw, path));
        if (r && !r.success) {
          zodIssues(r.error, path, step);
          continue;
        }
        message = `not a valid ${String(path[path.length - 1] ?? "value")}: ${unionHint(path)}`;
      }
      const got = valueAt(raw, path);
      if (iss.code !== "unrecognized_keys" && iss.code !== "invalid_union" && got !== undefined) {
        message += `, got ${show(got)}`;
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
  return { file, spec: { ...top.data, steps }, aggregates, stepPos };
}

function specificSchema(path: Path, value: unknown): z.ZodType | undefined {
  if (path.length !== 1 || value === null || typeof value !== "object") return undefined;
  const keys = Object.keys(value);
  if (path[0] === "source" && keys.length === 1) {
    return keys[0] === "stdin" ? StdinSource : keys[0] === "file" ? FileSource : undefined;
  }
  if (path[0] === "sink" && keys.length === 1) {
    return keys[0] === "stdout" ? StdoutSink : keys[0] === "file" ? FileSink : undefined;
  }
  return undefined;
}

function unionHint(path: Path): string {
  const last = path[path.length - 1];
  if (last === "source") return "expected 'stdin: { format }' or 'file: { path, format }'";
  if (last === "sink") return "expected 'stdout: { format }' or 'file: { path, format }'";
  return "see 'drizzle schema'";
}

function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
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
