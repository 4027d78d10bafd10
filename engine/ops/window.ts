import type { WindowPlan } from "../plan/plan.ts";
import { AggregateFns, type Slots } from "./aggregate.ts";
import type { Key } from "./partition.ts";
import { compareValues } from "./values.ts";

/**
 * Windowed aggregation, the reduce side of `keyBy` + `window` + `aggregate`: keyed windows of
 * one partition, closed by a watermark. Pure and deterministic: time only enters through the
 * timestamps and watermarks the caller passes, so re-running a batch gives the same output.
 *
 * Per batch the caller adds the batch's records, then advances the watermark; at end of input
 * it flushes. A window [start, end) closes, is emitted once as `{ key, start, end, ...columns }`
 * and is forgotten, when the watermark reaches end + allowedLateness. A record all of whose
 * windows are already closed is late: it goes to the `late` callback, never silently away.
 *
 * @example
 * ```ts
 * const w = new WindowState(stage.window!);            // one per partition
 * for (const [key, t, rec] of batch) w.add(key, t, rec, (r) => rejects.add(label, r, "late"));
 * w.advance(watermark.current(), emit);                 // every batch
 * w.flush(emit);                                        // end of input
 * ```
 */

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/i;

/**
 * An event time in epoch ms: a finite number as it is, or an ISO 8601 string (a date-time
 * without an offset is UTC, so every machine reads it alike). Anything else throws.
 */
export function eventTime(value: unknown): number {
  if (typeof value === "number") {
    if (Number.isFinite(value)) return value;
    throw new TypeError(`event time must be a finite number of ms, got ${value}`);
  }
  if (typeof value === "string" && ISO_TIME.test(value)) {
    const zoned = value.includes("T") && !/(Z|[+-]\d{2}:\d{2})$/i.test(value) ? value + "Z" : value;
    const ms = Date.parse(zoned);
    if (!Number.isNaN(ms)) return ms;
  }
  const shown = typeof value === "string" ? JSON.stringify(value) : value === null ? "null" : typeof value;
  throw new TypeError(`event time must be epoch ms or an ISO 8601 string, got ${shown}`);
}

interface Session {
  start: number;
  /** Latest event time in the session; it ends at last + gap. */
  last: number;
  acc: Slots;
}

/** A window state as plain data (msgpack/JSON-safe), for checkpoints. */
export interface WindowSnapshot {
  /** null: no watermark yet (-Infinity). */
  watermark: number | null;
  /** tumbling/sliding: [start, key, slots]. */
  fixed: Array<[number, Key, Slots]>;
  /** session: [key, start, last event time, slots]. */
  sessions: Array<[Key, number, number, Slots]>;
}

interface Closed {
  key: Key;
  start: number;
  end: number;
  acc: Slots;
}

export class WindowState {
  readonly fns: AggregateFns;
  #watermark = -Infinity;
  /** tumbling and sliding: window start -> key -> accumulator. */
  readonly #fixed = new Map<number, Map<Key, Slots>>();
  /** session: key -> its open sessions (disjoint). */
  readonly #sessions = new Map<Key, Session[]>();
  readonly #size: number;
  readonly #slide: number;
  readonly #gap: number;
  readonly #lateness: number;

  constructor(readonly plan: WindowPlan) {
    const positive = (v: number | undefined, what: string) => {
      if (v === undefined || !(v > 0)) throw new RangeError(`${plan.label}: ${what} must be positive, got ${v}`);
      return v;
    };
    this.#size = plan.kind === "session" ? 0 : positive(plan.sizeMs, "window length");
    this.#slide = plan.kind === "sliding" ? positive(plan.slideMs, "slide") : this.#size;
    this.#gap = plan.kind === "session" ? positive(plan.gapMs, "session gap") : 0;
    this.#lateness = plan.allowedLatenessMs;
    this.fns = new AggregateFns(plan.aggregate);
  }

  /** The highest watermark passed to advance (-Infinity before the first). */
  get watermark(): number {
    return this.#watermark;
  }

  /** How many (key, window) accumulators are open. */
  get openWindows(): number {
    let n = 0;
    for (const byKey of this.#fixed.values()) n += byKey.size;
    for (const list of this.#sessions.values()) n += list.length;
    return n;
  }

  #closed(end: number): boolean {
    return end + this.#lateness <= this.#watermark;
  }

  /**
   * Adds one record at event time `timeMs` to its key's windows. Calls `late(record)` instead
   * when every window it belongs to has closed. Throws (changing nothing) when an aggregate
   * cannot use the record, so the caller can reject it.
   */
  add(key: Key, timeMs: number, record: unknown, late: (record: unknown) => void): void {
    if (!Number.isFinite(timeMs)) throw new TypeError(`event time must be a finite number, got ${timeMs}`);
    if (this.plan.kind === "session") return this.#addSession(key, timeMs, record, late);
    const size = this.#size;
    const slide = this.#slide;
    const lastStart = Math.floor(timeMs / slide) * slide;
    // The latest window ends last: if it has closed, so has every other.
    if (this.#closed(lastStart + size)) return late(record);
    if (slide === size) {
      let byKey = this.#fixed.get(lastStart);
      const acc = byKey?.get(key);
      if (acc) return this.fns.add(acc, record);
      const fresh = this.fns.init();
      this.fns.add(fresh, record);
      if (!byKey) this.#fixed.set(lastStart, byKey = new Map());
      byKey.set(key, fresh);
      return;
    }
    // Sliding: evaluate the record once, then merge it into each of its open windows.
    const one = this.fns.init();
    this.fns.add(one, record);
    for (let start = lastStart; start + size > timeMs; start -= slide) {
      if (this.#closed(start + size)) break; // earlier windows end earlier: closed too
      let byKey = this.#fixed.get(start);
      if (!byKey) this.#fixed.set(start, byKey = new Map());
      const acc = byKey.get(key);
      if (acc) this.fns.merge(acc, one);
      else byKey.set(key, this.fns.clone(one));
    }
  }

  /**
   * Merges a map-side partial (see WindowCombiner) of `count` records into the key's window
   * starting at `start`. When that window has closed, `late(partial, count)` is called instead.
   */
  addPartial(
    key: Key,
    start: number,
    partial: Slots,
    count: number,
    late: (partial: unknown, count: number) => void,
  ): void {
    if (this.#closed(start + this.#size)) return late({ key, start, partial }, count);
    let byKey = this.#fixed.get(start);
    if (!byKey) this.#fixed.set(start, byKey = new Map());
    const acc = byKey.get(key);
    if (acc) this.fns.merge(acc, partial);
    else byKey.set(key, this.fns.clone(partial));
  }

  #addSession(key: Key, t: number, record: unknown, late: (record: unknown) => void): void {
    const gap = this.#gap;
    const list = this.#sessions.get(key) ?? [];
    // The record's own window is [t, t + gap); every open session it overlaps merges with it.
    const overlapping: Session[] = [];
    const rest: Session[] = [];
    for (const s of list) (s.start < t + gap && t < s.last + gap ? overlapping : rest).push(s);
    if (overlapping.length === 0 && this.#closed(t + gap)) return late(record);
    const one = this.fns.init();
    this.fns.add(one, record);
    const merged: Session = overlapping.length ? overlapping[0] : { start: t, last: t, acc: one };
    if (overlapping.length) this.fns.merge(merged.acc, one);
    merged.start = Math.min(merged.start, t);
    merged.last = Math.max(merged.last, t);
    for (let i = 1; i < overlapping.length; i++) {
      const s = overlapping[i];
      this.fns.merge(merged.acc, s.acc);
      merged.start = Math.min(merged.start, s.start);
      merged.last = Math.max(merged.last, s.last);
    }
    rest.push(merged);
    this.#sessions.set(key, rest);
  }

  /**
   * Raises the watermark to `watermarkMs` (a lower one is ignored) and emits every window whose
   * end + allowedLateness it has reached, ordered by end, then key, then start.
   */
  advance(watermarkMs: number, emit: (record: unknown) => void): void {
    if (typeof watermarkMs !== "number" || Number.isNaN(watermarkMs)) {
      throw new TypeError(`watermark must be a number, got ${watermarkMs}`);
    }
    if (watermarkMs <= this.#watermark) return;
    this.#watermark = watermarkMs;
    this.#emitWhere((end) => this.#closed(end), emit);
  }

  /** End of input: emits every open window (same order as advance) and forgets it. */
  flush(emit: (record: unknown) => void): void {
    this.#emitWhere(() => true, emit);
  }

  #emitWhere(done: (end: number) => boolean, emit: (record: unknown) => void): void {
    const out: Closed[] = [];
    for (const [start, byKey] of this.#fixed) {
      const end = start + this.#size;
      if (!done(end)) continue;
      for (const [key, acc] of byKey) out.push({ key, start, end, acc });
      this.#fixed.delete(start);
    }
    for (const [key, list] of this.#sessions) {
      const open = list.filter((s) => {
        const end = s.last + this.#gap;
        if (!done(end)) return true;
        out.push({ key, start: s.start, end, acc: s.acc });
        return false;
      });
      if (open.length) this.#sessions.set(key, open);
      else this.#sessions.delete(key);
    }
    out.sort((a, b) => a.end - b.end || compareValues(a.key, b.key) || a.start - b.start);
    for (const w of out) {
      const record: Record<string, unknown> = { key: w.key, start: w.start, end: w.end };
      emit(Object.assign(record, this.fns.output(w.key, w.acc)));
    }
  }

  snapshot(): WindowSnapshot {
    const clone = (s: Slots) => this.fns.clone(s);
    const fixed: WindowSnapshot["fixed"] = [];
    for (const [start, byKey] of this.#fixed) for (const [key, acc] of byKey) fixed.push([start, key, clone(acc)]);
    const sessions: WindowSnapshot["sessions"] = [];
    for (const [key, list] of this.#sessions) for (const s of list) sessions.push([key, s.start, s.last, clone(s.acc)]);
    return { watermark: this.#watermark === -Infinity ? null : this.#watermark, fixed, sessions };
  }

  /** Replaces the whole state with a snapshot's (which it copies, so the snapshot stays valid). */
  restore(snapshot: unknown): void {
    const s = snapshot as WindowSnapshot;
    if (!s || typeof s !== "object" || !Array.isArray(s.fixed) || !Array.isArray(s.sessions)) {
      throw new TypeError(`${this.plan.label}: not a window snapshot`);
    }
    this.#fixed.clear();
    this.#sessions.clear();
    this.#watermark = s.watermark ?? -Infinity;
    for (const [start, key, acc] of s.fixed) {
      let byKey = this.#fixed.get(start);
      if (!byKey) this.#fixed.set(start, byKey = new Map());
      byKey.set(key, this.fns.clone(acc));
    }
    for (const [key, start, last, acc] of s.sessions) {
      let list = this.#sessions.get(key);
      if (!list) this.#sessions.set(key, list = []);
      list.push({ start, last, acc: this.fns.clone(acc) });
    }
  }
}

/**
 * The event-time watermark: the highest event time seen so far minus maxDelay. To be the same
 * in every partition (and equal to the reference's), feed it the highest event time of every
 * record of the batch, e.g. each map task sends the maximum of its batch with its blocks.
 * With idleTimeoutMs, once no record has been seen for that long (processing time, `nowMs`),
 * the watermark moves on with the clock so a quiet stream's last windows still close.
 */
export class Watermark {
  #max = -Infinity;
  #seenAt: number | null = null;

  constructor(readonly maxDelayMs: number, readonly idleTimeoutMs: number | null = null) {}

  /** Notes an event time (or a batch's highest one); `nowMs` is when it arrived. */
  observe(eventTimeMs: number, nowMs?: number): void {
    if (eventTimeMs > this.#max) this.#max = eventTimeMs;
    if (nowMs !== undefined) this.#seenAt = nowMs;
  }

  /** The watermark now: -Infinity before any event time. */
  current(nowMs?: number): number {
    const wm = this.#max - this.maxDelayMs;
    if (this.idleTimeoutMs === null || nowMs === undefined || this.#seenAt === null) return wm;
    const idle = nowMs - this.#seenAt - this.idleTimeoutMs;
    return idle > 0 ? wm + idle : wm;
  }

  snapshot(): { max: number | null } {
    return { max: this.#max === -Infinity ? null : this.#max };
  }

  restore(s: { max: number | null }): void {
    this.#max = s.max ?? -Infinity;
    this.#seenAt = null;
  }
}

/**
 * Map side of a tumbling or sliding window: folds a task's records into one partial per (key,
 * window) before the shuffle, so a window's thousands of records travel as one entry. Which
 * windows a record belongs to depends only on its time, so both sides agree.
 */
export class WindowCombiner {
  readonly fns: AggregateFns;
  readonly #size: number;
  readonly #slide: number;
  /** window start -> key -> [partial, records folded]. */
  readonly #partials = new Map<number, Map<Key, [Slots, number]>>();

  constructor(readonly plan: WindowPlan) {
    if (plan.kind === "session") throw new TypeError("session windows are not combined before the shuffle");
    this.fns = new AggregateFns(plan.aggregate);
    this.#size = plan.sizeMs!;
    this.#slide = plan.kind === "sliding" ? plan.slideMs! : this.#size;
  }

  /** Folds one record at time `t`. Throws (changing nothing) when the aggregate cannot use it. */
  add(key: Key, t: number, record: unknown): void {
    const last = Math.floor(t / this.#slide) * this.#slide;
    // Tumbling: one window, so the record folds straight into its partial (add either applies
    // the whole record or throws having changed nothing).
    if (this.#slide === this.#size) return this.#addTo(last, key, record);
    const one = this.fns.init();
    this.fns.add(one, record);
    for (let start = last; start + this.#size > t; start -= this.#slide) {
      let byKey = this.#partials.get(start);
      if (!byKey) this.#partials.set(start, byKey = new Map());
      const entry = byKey.get(key);
      if (entry) {
        this.fns.merge(entry[0], one);
        entry[1]++;
      } else {
        byKey.set(key, [this.fns.clone(one), 1]);
      }
    }
  }

  #addTo(start: number, key: Key, record: unknown): void {
    let byKey = this.#partials.get(start);
    const entry = byKey?.get(key);
    if (entry) {
      this.fns.add(entry[0], record);
      entry[1]++;
      return;
    }
    const fresh = this.fns.init();
    this.fns.add(fresh, record);
    if (!byKey) this.#partials.set(start, byKey = new Map());
    byKey.set(key, [fresh, 1]);
  }

  /** Every partial as [key, window start, slots, records]. */
  *entries(): Generator<[Key, number, Slots, number]> {
    for (const [start, byKey] of this.#partials) for (const [key, [slots, n]] of byKey) yield [key, start, slots, n];
  }
}

/** Whether a window's records are combined per (key, window) before the shuffle. */
export function combinesBeforeShuffle(plan: WindowPlan, keepRejected: boolean): boolean {
  // Sessions merge by gaps that only the reduce side can see; with a dead-letter output, late
  // records must reach it one by one, so they travel uncombined.
  return plan.kind !== "session" && !keepRejected;
}
