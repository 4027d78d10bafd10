import { expressionError } from "../ops/expr.ts";
import { showValue as show } from "./errors.ts";
import type { AggregateColumnPlan } from "./plan.ts";
import { type AggregatorKind, AGGREGATORS, DEFAULT_TOP_K } from "./spec.ts";

/** Reports a problem at a path below the thing being checked (for file:line:col). */
export type Report = (path: (string | number)[], message: string) => void;

const isKind = (k: string): k is AggregatorKind => (AGGREGATORS as readonly string[]).includes(k);
const isMapping = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Checks the columns of an aggregate step by hand, for messages more precise than the schema's
 * union errors, and normalises them: `count: {}`, `total: { sum: "r.n" }`, `topK: { of, k }`,
 * `top: { topK: { of, k } }`. Paths given to `report` are relative to the aggregate mapping.
 * Returns null when a column is wrong.
 */
export function checkAggregateColumns(spec: unknown, report: Report): AggregateColumnPlan[] | null {
  if (!isMapping(spec) || Object.keys(spec).length === 0) {
    report([], `expected a mapping of columns such as '{ count: {} }', got ${show(spec)}`);
    return null;
  }
  const cols: AggregateColumnPlan[] = [];
  let ok = true;
  for (const [name, v] of Object.entries(spec)) {
    const col = checkColumn(name, v, (message) => {
      report([name], `column '${name}': ${message}`);
      ok = false;
    });
    if (col) cols.push(col);
  }
  return ok ? cols : null;
}

function checkColumn(name: string, v: unknown, fail: (message: string) => void): AggregateColumnPlan | null {
  if (name === "key") {
    fail("'key' is the name of the grouping column; choose another name");
    return null;
  }
  if (!isMapping(v)) {
    fail(`expected a mapping such as '{ sum: "expression" }', got ${show(v)}`);
    return null;
  }
  const keys = Object.keys(v);
  const aggKeys = keys.filter(isKind);
  let kind: AggregatorKind;
  let of: unknown;
  let k: unknown;
  /** Options of `{ of, k }` (the column named after its kind, or the value of `topK:`). */
  const options = (o: Record<string, unknown>, kind: AggregatorKind): boolean => {
    const allowed = kind === "topK" ? ["of", "k"] : ["of"];
    const extra = Object.keys(o).filter((x) => !allowed.includes(x));
    if (extra.length) {
      fail(`unknown option '${extra[0]}': expected ${allowed.map((a) => `'${a}'`).join(" or ")}`);
      return false;
    }
    of = o.of;
    k = o.k;
    return true;
  };
  if (isKind(name) && aggKeys.length === 0) {
    kind = name;
    if (!options(v, kind)) return null;
  } else if (aggKeys.length === 1 && keys.length === 1) {
    kind = aggKeys[0];
    const e = v[kind];
    if (kind === "topK" && isMapping(e)) {
      if (!options(e, kind)) return null;
    } else if (typeof e === "string") {
      of = e;
    } else if (kind !== "count") {
      fail(`'${kind}' needs an expression, got ${show(e)}`);
      return null;
    }
  } else {
    fail(`expected one of ${AGGREGATORS.join(", ")} with an expression, e.g. '{ sum: "r.bytes" }'`);
    return null;
  }
  if (kind !== "count" && of === undefined) {
    fail(`'${kind}' needs 'of: <expression>'`);
    return null;
  }
  if (of !== undefined) {
    if (typeof of !== "string" || of.length === 0) {
      fail(`expected an expression, got ${show(of)}`);
      return null;
    }
    const err = expressionError(of, "x");
    if (err) {
      fail(`cannot compile expression ${JSON.stringify(of)}: ${err}`);
      return null;
    }
  }
  if (k !== undefined && (typeof k !== "number" || !Number.isInteger(k) || k < 1)) {
    fail(`'k' must be a whole number of at least 1, got ${show(k)}`);
    return null;
  }
  const col: AggregateColumnPlan = { name, kind };
  if (of !== undefined) col.of = of as string;
  if (kind === "topK") col.k = (k as number | undefined) ?? DEFAULT_TOP_K;
  return col;
}
