// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** JavaScriptCore's own controls, under Bun. */
const jsc = g.Bun ? await import("bun:jsc") : null;

/** Collect after at least this many bytes of buffers went through since the last collection. */
const EVERY_BYTES = 4 << 20;

/**
 * A heap with more in it than this (live objects) is collected concurrently instead: a
 * synchronous collection of it would stall the process long enough to miss heartbeats.
 */
const PAUSE_HEAP_BYTES = 32 << 20;

/**
 * At most this often, the collection is `Bun.gc(true)`: it also shrinks JavaScriptCore's heap
 * and, with the allocator's default setting, returns freed pages to the system. Executors run
 * with `MIMALLOC_PURGE_DELAY=-1` (see processEnv), and then the allocator keeps its pages even
 * so: a process that freed 450 MB of buffers stayed at 474 MB resident after `Bun.gc(true)`
 * (36 MB with the default). Since this runs, the executors' resident size no longer creeps up
 * from 1 GB to 5 GB of input (481 and 466 MB; it had grown by 15%), which points at the heap
 * shrink rather than at returned pages.
 */
const RETURN_EVERY_MS = 10_000;

let since = 0;
let returned = performance.now();
let threshold = EVERY_BYTES;
let heapObjects = 0;

/**
 * Notes that `bytes` of short-lived buffers went through this process (input read, a frame
 * received); collects garbage once enough have.
 *
 * Why: Bun's collector (JavaScriptCore) paces itself by the growth of its own heap, and the
 * megabyte-sized Uint8Arrays a streaming process allocates and drops many times a second
 * (input chunks, encoded and decoded frames, batch output) weigh little in that, so hundreds
 * of MB of dead buffers pile up before a collection frees them. Collecting after every 4 MB
 * (or, for a larger heap, after as many bytes as its objects took after the last collection,
 * so the time spent collecting stays proportional to the data) keeps that garbage small.
 * A plain collection, not `Bun.gc(true)`: with the allocator's default setting (the driver's)
 * that one also hands freed pages back to the OS, and taking them again for the next buffers
 * costs far more than the collection itself; only every RETURN_EVERY_MS is it the one.
 * Other runtimes (V8) count external buffers themselves: there it does nothing.
 */
export function buffersPassed(bytes: number): void {
  if (!jsc) return;
  since += bytes;
  if (since < threshold) return;
  since = 0;
  const now = performance.now();
  if (heapObjects >= PAUSE_HEAP_BYTES) g.Bun.gc(false);
  else if (now - returned < RETURN_EVERY_MS) jsc.fullGC();
  else {
    returned = now;
    g.Bun.gc(true);
  }
  // Buffers are "external" to the heap: what a collection has to trace is the rest.
  const m = process.memoryUsage();
  heapObjects = m.heapUsed - m.external;
  threshold = Math.max(EVERY_BYTES, heapObjects);
}
