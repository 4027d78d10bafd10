import { expect, test } from "bun:test";
import { bucketOf, Histogram, topOf } from "../../cli/histogram.ts";
import { mulberry32 } from "../../engine/io/prng.ts";

/** The exact value at percentile q of sorted values, with the histogram's rank rule. */
/** Uniform in [0, 1), the same on every run. */
const uniform = (seed: number) => {
  const next = mulberry32(seed);
  return () => next() / 2 ** 32;
};

const exact = (sorted: number[], q: number) => sorted[Math.max(1, Math.ceil((q / 100) * sorted.length)) - 1];

test("every value lies in its bucket, buckets are ordered and no wider than 1/1024 of their values", () => {
  const rand = uniform(7);
  const values = [0, 1, 2047, 2048, 2049, 4095, 4096, 4099, 4100, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 3.6e9];
  for (let i = 0; i < 20000; i++) values.push(Math.floor(2 ** (rand() * 32)));
  for (const v of values) {
    const b = bucketOf(v);
    const low = b === 0 ? 0 : topOf(b - 1) + 1;
    expect(low).toBeLessThanOrEqual(v);
    expect(topOf(b)).toBeGreaterThanOrEqual(v);
    expect(topOf(b) - low).toBeLessThanOrEqual(Math.max(0, low / 1024));
  }
});

test("percentiles are within 0.1% of the exact ones, the maximum is exact", () => {
  const rand = uniform(11);
  const h = new Histogram(3.6e9);
  const values: number[] = [];
  for (let i = 0; i < 50000; i++) {
    // Latency-like: mostly milliseconds (in µs), a tail up to seconds.
    const v = Math.floor(rand() < 0.95 ? 1000 + rand() * 99000 : 100000 + rand() * 5e6);
    values.push(v);
    h.record(v);
  }
  values.sort((a, b) => a - b);
  for (const q of [0, 1, 10, 50, 90, 99, 99.9, 100]) {
    const want = exact(values, q);
    const got = h.valueAtPercentile(q);
    expect(got).toBeGreaterThanOrEqual(want);
    expect(got - want).toBeLessThanOrEqual(want / 1000);
  }
  expect(h.maxValue).toBe(values[values.length - 1]);
  expect(h.minValue).toBe(values[0]);
  expect(h.totalCount).toBe(values.length);
});

test("empty answers 0; values beyond the highest are clamped to it", () => {
  const h = new Histogram(10000);
  expect(h.valueAtPercentile(50)).toBe(0);
  expect(h.maxValue).toBe(0);
  h.record(5);
  h.record(1e12);
  expect(h.valueAtPercentile(50)).toBe(5);
  expect(h.valueAtPercentile(100)).toBe(10000);
});
