import { pathToFileURL } from "node:url";
import type { PhysicalPlan, UdfStepPlan } from "../plan/plan.ts";

/**
 * User-defined functions: named exports of local modules, used by `udf` steps. Importing is
 * asynchronous, so a process imports every module its plan uses once, up front
 * (`await loadUdfs(plan)`), and the fused step then finds its function synchronously here.
 *
 * @example
 * ```ts
 * // ./enrich.ts
 * export function tag(r: { n: number }) { return { ...r, big: r.n > 10 }; }
 * // pipeline: - udf: { module: ./enrich.ts, export: tag, kind: map }
 * await loadUdfs(plan); // in every process that runs the plan's tasks
 * ```
 */

export type UdfFunction = (record: unknown) => unknown;

const registry = new Map<string, UdfFunction>();
const udfId = (s: Pick<UdfStepPlan, "module" | "export">) => `${s.module}#${s.export}`;

/**
 * Imports every module the plan's udf steps use and registers their exports. Rejects, naming
 * the step, if a module cannot be imported or the export is not a function.
 */
export async function loadUdfs(plan: PhysicalPlan): Promise<void> {
  for (const step of plan.stages.flatMap((s) => s.steps)) {
    if (step.kind !== "udf" || registry.has(udfId(step))) continue;
    let mod: Record<string, unknown>;
    try {
      mod = await import(pathToFileURL(step.module).href);
    } catch (e) {
      throw new Error(`${step.label}: cannot import ${step.module}: ${(e as Error).message}`);
    }
    const fn = mod[step.export];
    if (typeof fn !== "function") {
      const found = Object.keys(mod).filter((k) => typeof mod[k] === "function");
      throw new Error(
        `${step.label}: ${step.module} has no exported function '${step.export}'` +
          (found.length ? ` (it exports ${found.join(", ")})` : ""),
      );
    }
    registry.set(udfId(step), fn as UdfFunction);
  }
}

/** Registers a function directly (tests, or functions defined in code). */
export function registerUdf(step: Pick<UdfStepPlan, "module" | "export">, fn: UdfFunction): void {
  registry.set(udfId(step), fn);
}

/** The function of a udf step. Throws if loadUdfs has not loaded it in this process. */
export function udfFor(step: UdfStepPlan): UdfFunction {
  const fn = registry.get(udfId(step));
  if (!fn) {
    throw new Error(
      `${step.label}: '${step.export}' from ${step.module} is not loaded in this process (call loadUdfs(plan) first)`,
    );
  }
  return fn;
}

/** Forgets every registered function (tests). */
export function clearUdfs(): void {
  registry.clear();
}
