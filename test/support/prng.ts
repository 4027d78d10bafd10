import { mulberry32 } from "../../engine/io/prng.ts";

/** A seeded PRNG (mulberry32) for tests that want random but repeatable input: floats in [0, 1). */
export function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}
