/** Where in a pipeline file something is: 1-based line and column. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export interface PipelineIssue {
  pos: SourcePos;
  /** The step it concerns, as "step 3 'filter'", when it concerns one. */
  step?: string;
  message: string;
}

/**
 * A pipeline that cannot run as written. Carries every issue found, each with file:line:col,
 * so `drizzle validate` can list them all at once.
 */
export class PipelineError extends Error {
  override name = "PipelineError";
  constructor(readonly issues: PipelineIssue[]) {
    super(issues.map(formatIssue).join("\n"));
  }
}

export function formatIssue(i: PipelineIssue): string {
  const where = `${i.pos.file}:${i.pos.line}:${i.pos.col}`;
  return i.step ? `${where}: ${i.step}: ${i.message}` : `${where}: ${i.message}`;
}

/** A value as an error message shows it: JSON, cut short. */
export function showValue(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}
