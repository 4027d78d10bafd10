/**
 * Records that a step could not process (bad input, an expression that threw): counted per step
 * with the first example kept, so the run goes on and the user learns what was dropped and why.
 */
export interface RejectCount {
  count: number;
  sample: string;
}

/** One rejected record, as the dead-letter output gets it. */
export interface DeadLetter {
  step: string;
  error: string;
  record: unknown;
}

export class Rejects {
  readonly byStep: Record<string, RejectCount> = {};
  total = 0;
  /** With a dead-letter output: every rejected record, until taken. */
  readonly kept: DeadLetter[] = [];

  constructor(readonly keep = false) {}

  add(step: string, record: unknown, error: unknown): void {
    this.total++;
    if (this.keep) {
      this.kept.push({ step, error: error instanceof Error ? error.message : String(error), record });
    }
    const r = this.byStep[step];
    if (r) {
      r.count++;
      return;
    }
    const why = error instanceof Error ? error.message : String(error);
    let shown: string;
    try {
      shown = typeof record === "string" ? record : JSON.stringify(record);
    } catch {
      shown = String(record);
    }
    if (shown.length > 120) shown = shown.slice(0, 117) + "...";
    this.byStep[step] = { count: 1, sample: `${why} (record: ${shown})` };
  }

  /** Adds counts reported by another task or executor. */
  merge(other: Record<string, RejectCount>): void {
    for (const [step, r] of Object.entries(other)) {
      this.total += r.count;
      const mine = this.byStep[step];
      if (mine) mine.count += r.count;
      else this.byStep[step] = { ...r };
    }
  }

  /** Returns the counts so far and starts afresh. */
  take(): Record<string, RejectCount> {
    const out = { ...this.byStep };
    for (const k of Object.keys(this.byStep)) delete this.byStep[k];
    this.total = 0;
    return out;
  }
}
