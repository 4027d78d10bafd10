/**
 * Deterministic text for the benchmarks: lines of 6-14 pseudo-words drawn from a Zipf-like
 * vocabulary, separated by a space (sometimes a tab or two spaces, so `[ \t]+` splitting is
 * exercised), never a blank at either end of a line. The same (bytes, seed) always gives the
 * same bytes, so every tool in a comparison reads identical input.
 *
 * As a program it writes the text to stdout (on the fly, nothing stored), honouring pipe
 * backpressure:
 *
 *     bun bench/gen_text.ts 500000000 [seed] [--cycle] | drizzle run ...
 *
 * (`--cycle` repeats 16 MB of generated text: gigabytes at pipe speed.)
 *
 * @module
 */
import { mulberry32 } from "../engine/io/prng.ts";

const VOCABULARY = 30_000;
const SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "qu", "ze", "an", "el", "or", "is", "um", "ba"];
/** Uniform draws map to word ranks through this table (Zipf s=1 over the vocabulary). */
const TABLE_BITS = 16;

/** mulberry32 (32-bit words): never Math.random, runs must match. */
export const prng = mulberry32;

function vocabulary(next: () => number): Uint8Array[] {
  const enc = new TextEncoder();
  const seen = new Set<string>();
  const words: Uint8Array[] = [];
  while (words.length < VOCABULARY) {
    let w = "";
    const n = 1 + (next() % 4);
    for (let i = 0; i < n; i++) w += SYLLABLES[next() % SYLLABLES.length];
    if (next() % 3 === 0) w += String(next() % 100);
    if (seen.has(w)) continue;
    seen.add(w);
    words.push(enc.encode(w));
  }
  return words;
}

function zipfTable(): Uint32Array {
  const weights = Array.from({ length: VOCABULARY }, (_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const table = new Uint32Array(1 << TABLE_BITS);
  let rank = 0;
  let acc = weights[0] / total;
  for (let i = 0; i < table.length; i++) {
    const u = (i + 0.5) / table.length;
    while (acc < u && rank < VOCABULARY - 1) acc += weights[++rank] / total;
    table[i] = rank;
  }
  return table;
}

/** `bytes` bytes of text (whole lines; the last line may be cut short by less than a line), in chunks. */
export function* textChunks(bytes: number, seed = 1, chunkBytes = 1 << 20): Generator<Uint8Array> {
  const next = prng(seed);
  const words = vocabulary(next);
  const table = zipfTable();
  const mask = (1 << TABLE_BITS) - 1;
  let left = bytes;
  while (left > 0) {
    const size = Math.min(chunkBytes, left);
    const buf = new Uint8Array(size);
    let pos = 0;
    // Fill with whole lines; a line that does not fit ends the chunk.
    for (;;) {
      const n = 6 + (next() % 9);
      const start = pos;
      let fits = true;
      for (let i = 0; i < n; i++) {
        const w = words[table[next() & mask] + (next() % 8 === 0 ? next() % 64 : 0)] ?? words[0];
        const sep = i === n - 1 ? 0 : 1 + (next() % 16 === 0 ? 1 : 0);
        if (pos + w.length + sep + 1 > size) {
          fits = false;
          break;
        }
        buf.set(w, pos);
        pos += w.length;
        if (sep === 2) {
          buf[pos++] = next() % 2 ? 9 : 32;
          buf[pos++] = 32;
        } else if (sep === 1) buf[pos++] = 32;
      }
      if (!fits) {
        pos = start;
        break;
      }
      buf[pos++] = 10;
    }
    if (pos === 0) {
      // Less room than one line: pad with a one-word line so the byte count is exact.
      buf.fill(97, 0, size - 1);
      buf[size - 1] = 10;
      pos = size;
    }
    // Pad the chunk's tail with a short line of "x"s so chunks are exactly `size` bytes.
    if (pos < size) {
      if (size - pos >= 2) {
        buf.fill(120, pos, size - 1);
        buf[size - 1] = 10;
      } else buf[pos] = 10;
      pos = size;
    }
    left -= size;
    yield buf;
  }
}

/**
 * Like textChunks, but cycles through `pool` generated chunks: the same statistics at a fraction
 * of the CPU, for inputs of gigabytes streamed next to the engine on a small machine.
 */
export function* cycledChunks(bytes: number, seed = 1, pool = 16): Generator<Uint8Array> {
  const chunks = [...textChunks(pool << 20, seed)];
  let left = bytes;
  for (let i = 0; left > 0; i++) {
    const c = chunks[i % chunks.length];
    const part = left >= c.length ? c : c.subarray(0, left);
    left -= part.length;
    yield part;
  }
}

/** Writes `bytes` bytes of text to `out`, waiting for it to drain (a slow reader slows us). */
export async function writeText(
  out: NodeJS.WritableStream,
  bytes: number,
  seed = 1,
  cycled = false,
): Promise<void> {
  for (const chunk of (cycled ? cycledChunks : textChunks)(bytes, seed)) {
    if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const cycled = args.includes("--cycle");
  const [bytes, seed] = args.filter((a) => !a.startsWith("--")).map(Number);
  process.stdout.on("error", () => process.exit(0));
  await writeText(process.stdout, bytes ?? 1e6, seed ?? 1, cycled);
}
