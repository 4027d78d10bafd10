/**
 * The local scheduler of one executor: it tracks, for every (batch, stage, partition) task this
 * executor owns, which upstream partitions it has heard from, and hands out a task once it heard
 * from all of them. Tasks of one (stage, partition) run strictly in batch order (they share keyed
 * state); among ready tasks the earliest batch goes first. Inputs may arrive before the task is
 * known (a peer can be faster than the driver's RunGroup); they wait here. After a recovery the
 * same input may be sent again: an input from an upstream partition already heard from, or for a
 * batch the lane already ran, is ignored, so re-sending is always safe.
 *
 * The scheduler only counts arrivals; what arrived is gathered by the caller in a per-task input
 * accumulator (made by `newInput`), which `arrive` hands out for every input that is new. Empty
 * shuffle blocks thus cost one bit each and no allocation.
 */

export interface ReadyTask<A> {
  batch: number;
  stage: number;
  partition: number;
  input: A;
  final: boolean;
}

interface Entry<A> {
  batch: number;
  stage: number;
  partition: number;
  /** Inputs needed; -1 until the task is expected. */
  needed: number;
  /** Distinct upstream partitions heard from. */
  count: number;
  /** Bit per upstream partition heard from (duplicates are dropped); grows as needed. */
  heard: Uint8Array;
  input: A;
  final: boolean;
  /** Already in the ready heap. */
  queued: boolean;
}

/** Lanes are keyed by one number: stage * LANE_STRIDE + partition. */
const LANE_STRIDE = 2 ** 20;
const laneOf = (stage: number, partition: number) => stage * LANE_STRIDE + partition;

export class LocalScheduler<A> {
  /** Tasks not yet taken: batch -> lane -> entry. */
  readonly #entries = new Map<number, Map<number, Entry<A>>>();
  #size = 0;
  /** Lanes declared by `expectThrough`: the last batch declared, and the inputs each task needs. */
  readonly #expected = new Map<number, { through: number; needed: number }>();
  /** Next batch each lane may run. */
  readonly #next = new Map<number, number>();
  /** Ready tasks, a binary heap on (batch, stage, partition). */
  readonly #heap: Entry<A>[] = [];
  /** Last batch of the input, once known: tasks after it are dropped. */
  #finalBatch = Infinity;
  /** The entry `arrive` found last: arrivals come in runs for one task. Reset by every change. */
  #recent: Entry<A> | null = null;

  constructor(readonly newInput: (stage: number) => A) {}

  /**
   * Declares every task of a lane up to batch `through` (from the lane's next batch on), each
   * waiting for `needed` inputs (at least one). A task's entry is made when its first input
   * arrives, so declaring a long group of batches costs nothing per batch.
   */
  expectThrough(stage: number, partition: number, through: number, needed: number): void {
    const l = laneOf(stage, partition);
    const x = this.#expected.get(l);
    // Tasks up to the earlier end know what they need already.
    const from = x ? x.through + 1 : (this.#next.get(l) ?? -Infinity);
    if (x) {
      x.through = Math.max(x.through, through);
      x.needed = needed;
    } else this.#expected.set(l, { through, needed });
    // Tasks whose inputs came first learn what they need.
    const learn = (e: Entry<A> | undefined) => {
      if (e && e.needed < 0) {
        e.needed = needed;
        this.#check(e);
      }
    };
    if (through - from < this.#entries.size) {
      for (let b = from; b <= through; b++) learn(this.#entries.get(b)?.get(l));
    } else {
      for (const [b, lanes] of this.#entries) if (b >= from && b <= through) learn(lanes.get(l));
    }
  }

  /** Declares a task this executor runs, and how many inputs it waits for. */
  expect(batch: number, stage: number, partition: number, needed: number, final = false): void {
    if (batch > this.#finalBatch) return;
    this.#recent = null;
    const e = this.#entry(batch, stage, partition);
    e.needed = needed;
    if (final) e.final = true;
    const l = laneOf(stage, partition);
    if (!this.#next.has(l)) this.#next.set(l, batch);
    this.#check(e);
  }

  /**
   * Marks the input from upstream partition `from` of a task (known or not yet known) as
   * arrived. Returns the task's input accumulator when the input is new, for the caller to add
   * it to at once; undefined when it is a duplicate or for a batch the lane already ran.
   */
  arrive(batch: number, stage: number, partition: number, from: number, final: boolean): A | undefined {
    const e = this.#waiting(batch, stage, partition);
    if (e === undefined || !hear(e, from)) return undefined;
    return this.#heard(e, final);
  }

  /**
   * `arrive` for every upstream partition in the bit set `froms` (bit f & 7 of byte f >> 3).
   * Returns the task's input accumulator when at least one of them is new.
   */
  arriveAll(batch: number, stage: number, partition: number, froms: Uint8Array, final: boolean): A | undefined {
    const e = this.#waiting(batch, stage, partition);
    if (e === undefined) return undefined;
    if (e.heard.length < froms.length) grow(e, froms.length);
    const heard = e.heard;
    let fresh = 0;
    for (let i = 0; i < froms.length; i++) {
      const add = froms[i] & ~heard[i];
      if (add === 0) continue;
      heard[i] |= add;
      fresh += BITS[add];
    }
    if (fresh === 0) return undefined;
    e.count += fresh;
    return this.#heard(e, final);
  }

  /**
   * Takes and marks as run, without an entry, a task whose only input is arriving now: true when
   * the task is declared to need that one input, nothing arrived for it yet, and its lane is at
   * its batch (so it may run at once). False leaves everything as it was: use `arrive`.
   */
  runAtOnce(batch: number, stage: number, partition: number): boolean {
    if (batch > this.#finalBatch) return false;
    const l = laneOf(stage, partition);
    if (this.#next.get(l) !== batch) return false;
    const x = this.#expected.get(l);
    if (x === undefined || batch > x.through || x.needed !== 1) return false;
    if (this.#entries.get(batch)?.has(l)) return false;
    this.done({ batch, stage, partition, final: false });
    return true;
  }

  /** The entry of a task inputs may still arrive for (undefined: its lane is past the batch). */
  #waiting(batch: number, stage: number, partition: number): Entry<A> | undefined {
    const e = this.#recent;
    if (e !== null && e.batch === batch && e.stage === stage && e.partition === partition) return e;
    if (batch > this.#finalBatch) return undefined;
    const next = this.#next.get(laneOf(stage, partition));
    if (next !== undefined && batch < next) return undefined;
    return this.#recent = this.#entry(batch, stage, partition);
  }

  /** After new inputs of a task: notes `final`, queues the task if it has them all. */
  #heard(e: Entry<A>, final: boolean): A {
    if (final) e.final = true;
    if (e.count >= e.needed) this.#check(e);
    return e.input;
  }

  /** The next task to run, removed from the scheduler; null if none is ready. */
  take(): ReadyTask<A> | null {
    const e = this.#pop();
    if (!e) return null;
    this.#delete(e);
    return e;
  }

  /** Marks a taken task as run: its lane may go on to the next batch. */
  done(t: { batch: number; stage: number; partition: number; final: boolean }): void {
    this.#recent = null;
    this.#next.set(laneOf(t.stage, t.partition), t.batch + 1);
    if (t.final) this.#finish(t.batch);
    const succ = this.#entries.get(t.batch + 1)?.get(laneOf(t.stage, t.partition));
    if (succ) this.#check(succ);
  }

  /**
   * Makes a lane (re)start at `batch` (after its state was restored to the end of batch - 1):
   * anything the lane had waiting for earlier batches is dropped.
   */
  startLane(stage: number, partition: number, batch: number): void {
    this.#recent = null;
    const l = laneOf(stage, partition);
    this.#next.set(l, batch);
    this.#dropLaneWhere(l, (b) => b < batch);
    const first = this.#entries.get(batch)?.get(l);
    if (first) this.#check(first);
  }

  /** Forgets every expected task after `batch` (its group ended early); inputs stay. */
  dropAfter(batch: number): void {
    for (const x of this.#expected.values()) x.through = Math.min(x.through, batch);
    this.#dropWhere((b) => b > batch, (e) => e.count === 0);
    for (const [b, lanes] of this.#entries) {
      if (b > batch) { for (const e of lanes.values()) e.needed = -1; }
    }
  }

  /** Forgets a lane that moved to another executor: its waiting tasks and inputs go. */
  dropLane(stage: number, partition: number): void {
    this.#recent = null;
    const l = laneOf(stage, partition);
    this.#next.delete(l);
    this.#expected.delete(l);
    this.#dropLaneWhere(l, () => true);
  }

  /** The next batch a lane will run (undefined for a lane never seen). */
  nextOf(stage: number, partition: number): number | undefined {
    return this.#next.get(laneOf(stage, partition));
  }

  /** Tasks with inputs waiting or declared one by one (`expect`), not yet taken. */
  get pending(): number {
    return this.#size;
  }

  get hasReady(): boolean {
    return this.#heap.length > 0;
  }

  /** Forgets every task and input (the job is being torn down or restarted). */
  clear(): void {
    this.#entries.clear();
    this.#expected.clear();
    this.#size = 0;
    this.#next.clear();
    this.#heap.length = 0;
    this.#finalBatch = Infinity;
    this.#recent = null;
  }

  #finish(batch: number): void {
    this.#recent = null;
    this.#finalBatch = Math.min(this.#finalBatch, batch);
    this.#dropWhere((b) => b > batch, () => true);
  }

  /** Removes the waiting (and ready) tasks of batches `batches` picks that `drop` picks. */
  #dropWhere(batches: (b: number) => boolean, drop: (e: Entry<A>) => boolean): void {
    for (const [b, lanes] of this.#entries) {
      if (!batches(b)) continue;
      for (const e of lanes.values()) if (drop(e)) this.#delete(e);
    }
    this.#unqueue((e) => batches(e.batch) && drop(e));
  }

  /** Removes lane `l`'s waiting (and ready) tasks of the batches `batches` picks. */
  #dropLaneWhere(l: number, batches: (b: number) => boolean): void {
    for (const [b, lanes] of this.#entries) {
      const e = batches(b) ? lanes.get(l) : undefined;
      if (e) this.#delete(e);
    }
    this.#unqueue((e) => laneOf(e.stage, e.partition) === l && batches(e.batch));
  }

  /** Takes the entries `drop` picks out of the ready heap. */
  #unqueue(drop: (e: Entry<A>) => boolean): void {
    if (!this.#heap.some(drop)) return;
    const keep = this.#heap.filter((e) => !drop(e));
    this.#heap.length = 0;
    for (const e of keep) this.#push(e);
  }

  #entry(batch: number, stage: number, partition: number): Entry<A> {
    let lanes = this.#entries.get(batch);
    if (!lanes) this.#entries.set(batch, lanes = new Map());
    const l = laneOf(stage, partition);
    let e = lanes.get(l);
    if (!e) {
      const x = this.#expected.get(l);
      e = {
        batch,
        stage,
        partition,
        needed: x !== undefined && batch <= x.through ? x.needed : -1,
        count: 0,
        heard: EMPTY,
        input: this.newInput(stage),
        final: false,
        queued: false,
      };
      lanes.set(l, e);
      this.#size++;
    }
    return e;
  }

  #delete(e: Entry<A>): void {
    const lanes = this.#entries.get(e.batch);
    if (!lanes?.delete(laneOf(e.stage, e.partition))) return;
    this.#size--;
    if (lanes.size === 0) this.#entries.delete(e.batch);
    if (this.#recent === e) this.#recent = null;
  }

  #check(e: Entry<A>): void {
    if (e.needed < 0 || e.count < e.needed) return;
    if (this.#next.get(laneOf(e.stage, e.partition)) !== e.batch) return;
    if (e.queued) return;
    e.queued = true;
    this.#push(e);
  }

  #push(e: Entry<A>): void {
    const h = this.#heap;
    let i = h.length;
    h.push(e);
    // Move parents down into the hole until e's place is found.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(e, h[parent])) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = e;
  }

  #pop(): Entry<A> | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    const n = h.length;
    if (n === 0) return top;
    // Move the smaller child up into the hole until last's place is found.
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && before(h[c + 1], h[c])) c++;
      if (!before(h[c], last)) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
    return top;
  }
}

/** Ready order: by batch, then stage, then partition. */
function before(a: Entry<unknown>, b: Entry<unknown>): boolean {
  if (a.batch !== b.batch) return a.batch < b.batch;
  if (a.stage !== b.stage) return a.stage < b.stage;
  return a.partition < b.partition;
}

const EMPTY = new Uint8Array(0);
/** Bits set in each byte value. */
const BITS = Uint8Array.from({ length: 256 }, (_, v) => {
  let n = 0;
  for (let x = v; x > 0; x >>= 1) n += x & 1;
  return n;
});

/** Makes room in a task's heard set for `bytes` bytes. */
function grow(e: Entry<unknown>, bytes: number): void {
  const grown = new Uint8Array(Math.max(bytes, 2 * e.heard.length, 4));
  grown.set(e.heard);
  e.heard = grown;
}

/** Sets the bit of upstream partition `from`; false if it was already set. */
function hear(e: Entry<unknown>, from: number): boolean {
  const byte = from >> 3;
  const bit = 1 << (from & 7);
  if (byte >= e.heard.length) grow(e, byte + 1);
  else if (e.heard[byte] & bit) return false;
  e.heard[byte] |= bit;
  e.count++;
  return true;
}

/** The bit set of the given upstream partitions, for `arriveAll`. */
export function bitSet(froms: readonly number[]): Uint8Array {
  let max = 0;
  for (const f of froms) if (f > max) max = f;
  const bits = new Uint8Array((max >> 3) + 1);
  for (const f of froms) bits[f >> 3] |= 1 << (f & 7);
  return bits;
}
