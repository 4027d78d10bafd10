/**
 * A histogram of non-negative integers that answers percentiles to 3 significant digits in
 * constant memory (the layout of an HDR histogram): values below 2048 have a bucket each; above,
 * every power-of-two range [2^k, 2^(k+1)) is cut into 1024 equal buckets, so a bucket is never
 * wider than 1/1024 of the values in it. It replaced the `hdr-histogram-js` package, whose
 * loading (with its WebAssembly and compression dependencies) took about 30 ms of every run's
 * start.
 */

/** Values below this are exact. */
const EXACT = 2048;
/** Buckets per power of two above EXACT. */
const SUB = 1024;
const SUB_BITS = 10;

export class Histogram {
  #counts: Float64Array;
  #total = 0;
  #max = 0;
  #min = Infinity;

  /** `highest`: the largest value it must keep apart from the others (larger ones are clamped). */
  constructor(readonly highest: number) {
    this.#counts = new Float64Array(bucketOf(Math.max(EXACT, Math.floor(highest))) + 1);
  }

  get totalCount(): number {
    return this.#total;
  }

  /** The largest value recorded (0 when empty). */
  get maxValue(): number {
    return this.#max;
  }

  /** The smallest value recorded (0 when empty). */
  get minValue(): number {
    return this.#total === 0 ? 0 : this.#min;
  }

  record(value: number): void {
    const v = Math.max(0, Math.min(Math.floor(value), this.highest));
    this.#counts[bucketOf(v)]++;
    this.#total++;
    if (v > this.#max) this.#max = v;
    if (v < this.#min) this.#min = v;
  }

  /**
   * The value at percentile q (0-100): the top of the bucket holding the ceil(q% of n)-th
   * smallest value, but never above the largest value recorded. 0 when empty.
   */
  valueAtPercentile(q: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, q)) / 100) * this.#total));
    let seen = 0;
    const counts = this.#counts;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i];
      if (seen >= rank) return Math.min(topOf(i), this.#max);
    }
    return this.#max;
  }
}

/** The bucket of a non-negative integer. */
export function bucketOf(v: number): number {
  if (v < EXACT) return v;
  // Bits above the top SUB_BITS + 1 (the leading one and the bucket within its power of two).
  const shift = Math.floor(Math.log2(v)) - SUB_BITS;
  // log2 of a double can round up just below a power of two: the sub-bucket corrects it.
  let sub = Math.floor(v / 2 ** shift);
  let s = shift;
  if (sub < SUB) {
    s--;
    sub = Math.floor(v / 2 ** s);
  } else if (sub >= 2 * SUB) {
    s++;
    sub = Math.floor(v / 2 ** s);
  }
  return EXACT + (s - 1) * SUB + (sub - SUB);
}

/** The largest value in bucket i. */
export function topOf(i: number): number {
  if (i < EXACT) return i;
  const s = Math.floor((i - EXACT) / SUB) + 1;
  const sub = SUB + ((i - EXACT) % SUB);
  return (sub + 1) * 2 ** s - 1;
}
