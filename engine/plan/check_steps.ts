import { isAbsolute, resolve } from "node:path";
import { expressionError } from "../ops/expr.ts";
import type { Report } from "./check_aggregate.ts";
import { parseDuration } from "./duration.ts";
import { showValue as show } from "./errors.ts";
import type { JoinFormat, JoinStep, ParseStep, UdfStep, WindowStep } from "./spec.ts";
import type { z } from "zod";

/**
 * Checks of the parse, join, udf and window steps beyond their schema: expressions compile,
 * patterns have named groups, durations are durations, files exist. Paths given to `report` are
 * relative to the step mapping.
 */

/**
 * Whether a file a step needs can be read: null if it can, else why not (e.g. "ENOENT").
 * plan/ does no I/O of its own, so the caller hands this in (see LoadOptions.checkFile).
 */
export type FileCheck = (absolutePath: string) => string | null;

export interface StepCheckContext {
  /** Folder of the pipeline file: relative table and module paths are resolved against it. */
  dir: string;
  checkFile?: FileCheck;
}

function checkExpr(expr: string, as: string | undefined, path: (string | number)[], report: Report): boolean {
  const err = expressionError(expr, as ?? "x");
  if (err) report(path, `cannot compile expression ${JSON.stringify(expr)}: ${err}`);
  return err === null;
}

/** The names of a pattern's groups, or an error message. */
export function regexGroups(pattern: string): string[] | string {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (e) {
    return `cannot compile regex ${JSON.stringify(pattern)}: ${(e as Error).message}`;
  }
  // An empty alternative always matches, and its groups object lists every name.
  const groups = new RegExp(`(?:${re.source})|`).exec("")?.groups;
  const names = groups ? Object.keys(groups) : [];
  return names.length ? names : `regex ${JSON.stringify(pattern)} needs named groups, such as (?<status>\\d+)`;
}

function checkNames(names: string[] | undefined, path: (string | number)[], report: Report): boolean {
  const dup = names?.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) report(path, `'${dup}' is named twice`);
  return dup === undefined;
}

export function checkParse(step: z.infer<typeof ParseStep>, report: Report): boolean {
  const p = step.parse;
  if ("regex" in p) {
    const groups = regexGroups(p.regex);
    if (typeof groups === "string") report(["parse", "regex"], groups);
    const from = checkExpr(p.from, step.as, ["parse", "from"], report);
    return typeof groups !== "string" && from;
  }
  const [format, expr] = "json" in p ? ["json", p.json] : "csv" in p ? ["csv", p.csv] : ["tsv", p.tsv];
  const names = "json" in p ? p.fields : p.columns;
  const exprOk = checkExpr(expr, step.as, ["parse", format], report);
  const namesOk = checkNames(names, ["parse", "json" in p ? "fields" : "columns"], report);
  return exprOk && namesOk;
}

function resolveFile(
  written: string,
  what: string,
  path: (string | number)[],
  ctx: StepCheckContext,
  report: Report,
): string | null {
  const abs = isAbsolute(written) ? written : resolve(ctx.dir, written);
  const why = ctx.checkFile?.(abs);
  if (why) {
    report(path, `cannot read ${what} ${JSON.stringify(written)} (${abs}): ${why}`);
    return null;
  }
  return abs;
}

/** The table format from a file name, or null. */
export function joinFormatOf(file: string): JoinFormat | null {
  const m = /\.(csv|tsv|jsonl|ndjson)$/i.exec(file);
  if (!m) return null;
  const ext = m[1].toLowerCase();
  return ext === "ndjson" ? "jsonl" : ext as JoinFormat;
}

/** Returns the table's format and absolute path, or null after reporting. */
export function checkJoin(
  step: z.infer<typeof JoinStep>,
  ctx: StepCheckContext,
  report: Report,
): { format: JoinFormat; file: string } | null {
  const j = step.join;
  const onOk = checkExpr(j.on, step.as, ["join", "on"], report);
  const format = j.format ?? joinFormatOf(j.file);
  if (!format) {
    report(["join", "file"], `cannot tell the format of ${JSON.stringify(j.file)}: add 'format: csv', tsv or jsonl`);
  }
  const file = resolveFile(j.file, "table", ["join", "file"], ctx, report);
  return onOk && format && file ? { format, file } : null;
}

/** Returns the module's absolute path, or null after reporting. */
export function checkUdf(step: z.infer<typeof UdfStep>, ctx: StepCheckContext, report: Report): string | null {
  return resolveFile(step.udf.module, "module", ["udf", "module"], ctx, report);
}

/** A window's durations in ms, checked. */
export interface WindowDurations {
  sizeMs?: number;
  slideMs?: number;
  gapMs?: number;
  maxDelayMs: number;
  allowedLatenessMs: number;
  idleTimeoutMs: number | null;
}

export function checkWindow(step: z.infer<typeof WindowStep>, report: Report): WindowDurations | null {
  const w = step.window as Record<string, unknown>;
  let ok = true;
  const ms = (name: string, positive: boolean): number | undefined => {
    const v = w[name];
    if (v === undefined) return undefined;
    const d = parseDuration(v as string | number);
    if (d === null || (positive && d <= 0) || !Number.isInteger(d)) {
      const must = positive ? "a duration of at least 1ms" : "a duration";
      report(["window", name], `'${name}' must be ${must} in whole milliseconds, such as "10s", got ${show(v)}`);
      ok = false;
      return undefined;
    }
    return d;
  };
  const out: WindowDurations = {
    sizeMs: ms("tumbling", true) ?? ms("sliding", true),
    slideMs: ms("slide", true),
    gapMs: ms("session", true),
    maxDelayMs: ms("maxDelay", false) ?? 0,
    allowedLatenessMs: ms("allowedLateness", false) ?? 0,
    idleTimeoutMs: ms("idleTimeout", true) ?? null,
  };
  if (ok && out.slideMs !== undefined && out.sizeMs !== undefined && out.slideMs > out.sizeMs) {
    report(["window", "slide"], `'slide' must be at most the window length (${show(w.sliding)}), got ${show(w.slide)}`);
    ok = false;
  }
  if (typeof w.time === "string" && !checkExpr(w.time, step.as, ["window", "time"], report)) ok = false;
  if (!ok) return null;
  for (const k of Object.keys(out) as (keyof WindowDurations)[]) if (out[k] === undefined) delete out[k];
  return out;
}
