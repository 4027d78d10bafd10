import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { buildPlan, loadPipeline, type PhysicalPlan, PipelineError } from "../engine/plan/mod.ts";

/**
 * Reads, validates and plans a pipeline file. Every problem (an unreadable file included) is
 * a PipelineError with file:line:col, which the CLI reports with exit code 2.
 */
export function loadPlan(file: string, partitions: number): PhysicalPlan {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new PipelineError([{
      pos: { file, line: 1, col: 1 },
      message: `cannot read pipeline: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    }]);
  }
  return buildPlan(loadPipeline(text, file, process.env, { checkFile }), { partitions });
}

/** Null when a file the pipeline names (a join table, a udf module) can be read; else why not. */
export function checkFile(path: string): string | null {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile() ? null : "not a file";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
}
