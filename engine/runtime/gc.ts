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

/**
 * At a quiet point, a full collection follows the young one while buffers (alive, or dead but
 * kept by the old generation) still take more than this.
 */
const FULL_EXTERNAL_BYTES = 32 << 20;

let since = 0;
let returned = performance.now();
let threshold = EVERY_BYTES;
let heapObjects = 0;
let atQuietPoints = false;
const counts = { young: 0, full: 0 };

/** Collections this module made so far: young-generation (eden) ones, and full ones. */
export function collections(): { young: number; full: number } {
  return { ...counts };
}

/**
 * Notes that `bytes` of short-lived buffers went through this process (input read, a frame
 * received); collects garbage once enough have (or, after `collectAtQuietPoints()`, at the next
 * `quietPoint()`).
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
  if (atQuietPoints || since < threshold) return;
  collect(false);
}

/**
 * From now on this process collects only at `quietPoint()`, which it promises to reach often
 * (an executor: after each run of ready tasks, at most a few ms of work apart).
 *
 * Why: there the input just processed is dead and was allocated since the last collection, so
 * a young-generation (eden) collection frees it, for 1-2 ms where a full one took 5-14 ms
 * (YSB executors, 2 MB of live objects). A collection in the middle of receiving, as
 * `buffersPassed` makes it otherwise, finds the frames of the batch being processed alive; an
 * eden collection then promotes them, and only a full one frees them later. A full collection
 * still follows whenever buffers take more than FULL_EXTERNAL_BYTES after the eden one.
 * A 6M-event YSB backlog through stdin: 7.65 -> 6.74 s, 13.8 -> 12.4 s of CPU (medians of 5
 * interleaved runs), with each executor's peak about 30 MB higher; executors do it only where
 * the allocator keeps its freed memory anyway (executor/process.ts, quietPointCollections).
 */
export function collectAtQuietPoints(): void {
  atQuietPoints = true;
}

/** A point where the buffers of the work just done are dead: collects if enough went through. */
export function quietPoint(): void {
  if (!jsc || !atQuietPoints || since < threshold) return;
  collect(true);
}

function collect(quiet: boolean): void {
  if (!jsc) return;
  since = 0;
  const now = performance.now();
  if (quiet && heapObjects < PAUSE_HEAP_BYTES && now - returned < RETURN_EVERY_MS) {
    counts.young++;
    jsc.edenGC();
    const m = process.memoryUsage();
    if (m.external <= FULL_EXTERNAL_BYTES) return measured(m);
  }
  counts.full++;
  if (heapObjects >= PAUSE_HEAP_BYTES) g.Bun.gc(false);
  else if (now - returned < RETURN_EVERY_MS) jsc.fullGC();
  else {
    returned = now;
    g.Bun.gc(true);
  }
  measured(process.memoryUsage());
}

/** Buffers are "external" to the heap: what a collection has to trace is the rest. */
function measured(m: { heapUsed: number; external: number }): void {
  heapObjects = m.heapUsed - m.external;
  threshold = Math.max(EVERY_BYTES, heapObjects);
}
