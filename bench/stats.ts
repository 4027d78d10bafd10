/**
 * Summaries of repeated measurements: the machine is noisy, so every figure is a median with
 * its spread (min-max and the interquartile range) over the repetitions, never one time.
 * @module
 */

export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
  p25: number;
  p75: number;
  values: number[];
}

/** The q-quantile (0..1) of sorted values, linearly interpolated. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
}

export function spread(values: number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x));
  const s = [...v].sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    min: s[0] ?? NaN,
    max: s[s.length - 1] ?? NaN,
    p25: quantile(s, 0.25),
    p75: quantile(s, 0.75),
    values: v,
  };
}

/**
 * The ratio a/b with a spread: the median of the ratios of runs paired by repetition (the runs
 * of one repetition ran back to back, so they saw the same machine), and the range of those.
 */
export function ratio(a: number[], b: number[]): Spread {
  const n = Math.min(a.length, b.length);
  const r: number[] = [];
  for (let i = 0; i < n; i++) r.push(a[i] / b[i]);
  return spread(r);
}

/** Three significant digits, with k/M suffixes for big numbers. */
export function fmt(x: number, unit = ""): string {
  if (!Number.isFinite(x)) return "n/a";
  const a = Math.abs(x);
  let s: string;
  if (Number.isInteger(x) && a < 1e4) s = String(x);
  else if (a >= 1e9) s = `${(x / 1e9).toPrecision(3)}G`;
  else if (a >= 1e6) s = `${(x / 1e6).toPrecision(3)}M`;
  else if (a >= 1e4) s = `${(x / 1e3).toPrecision(3)}k`;
  else if (a >= 100) s = x.toFixed(0);
  else s = x.toPrecision(3);
  return unit ? `${s} ${unit}` : s;
}

/** "median (min-max)", e.g. "12.3 ms (11.9-13.0)". */
export function fmtSpread(s: Spread, unit = ""): string {
  if (s.n === 0) return "n/a";
  if (s.n === 1) return `${fmt(s.median, unit)} (1 run)`;
  return `${fmt(s.median, unit)} (${fmt(s.min)}–${fmt(s.max)})`;
}

/** Percentiles of a sample, for latency CDFs. */
export function percentiles(values: number[], qs = [0.5, 0.9, 0.99, 1]): Record<string, number> {
  const s = [...values].sort((a, b) => a - b);
  const out: Record<string, number> = {};
  for (const q of qs) out[q === 1 ? "max" : `p${Math.round(q * 1000) / 10}`] = quantile(s, q);
  return out;
}
