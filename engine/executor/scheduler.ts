/**
 * The local scheduler of one executor: it tracks, for every (batch, stage, partition) task this
 * executor owns, which inputs have arrived, and hands out a task once all of them are there.
 * Tasks of one (stage, partition) run strictly in batch order (they share keyed state); among
 * ready tasks the earliest batch goes first. Inputs may arrive before the task is known (a peer
 * can be faster than the driver's RunGroup); they wait here. After a recovery the same input may
 * be sent again: an input from an upstream partition already heard from, or for a batch the lane
 * already ran, is ignored, so re-sending is always safe.
 */

export interface ReadyTask<I> {
  batch: number;
  stage: number;
  partition: number;
  inputs: I[];
  final: boolean;
}

interface Entry<I> {
  batch: number;
  stage: number;
  partition: number;
  /** Inputs needed; -1 until the task is expected. */
  needed: number;
  inputs: I[];
  /** Upstream partitions heard from (duplicates are dropped). */
  froms: Set<number>;
  final: boolean;
  /** Already in the ready heap. */
  queued: boolean;
}

const id = (b: number, s: number, p: number) => `${b}:${s}:${p}`;
const lane = (s: number, p: number) => `${s}:${p}`;

export class LocalScheduler<I> {
  readonly #entries = new Map<string, Entry<I>>();
  /** Next batch each (stage, partition) may run. */
  readonly #next = new Map<string, number>();
  /** Ready tasks, a binary heap on (batch, stage, partition). */
  readonly #heap: Entry<I>[] = [];
  /** Last batch of the input, once known: tasks after it are dropped. */
  #finalBatch = Infinity;

  /** Declares a task this executor runs, and how many inputs it waits for. */
  expect(batch: number, stage: number, partition: number, needed: number, final = false): void {
    if (batch > this.#finalBatch) return;
    const e = this.#entry(batch, stage, partition);
    e.needed = needed;
    if (final) e.final = true;
    const l = lane(stage, partition);
    if (!this.#next.has(l)) this.#next.set(l, batch);
    this.#check(e);
  }

  /** Delivers the input from upstream partition `from` of a task (known or not yet known). */
  arrive(batch: number, stage: number, partition: number, input: I, final: boolean, from = 0): void {
    if (batch > this.#finalBatch) return;
    const next = this.#next.get(lane(stage, partition));
    if (next !== undefined && batch < next) return;
    const e = this.#entry(batch, stage, partition);
    if (e.froms.has(from)) return;
    e.froms.add(from);
    e.inputs.push(input);
    if (final) e.final = true;
    this.#check(e);
  }

  /** The next task to run, removed from the scheduler; null if none is ready. */
  take(): ReadyTask<I> | null {
    const e = this.#pop();
    if (!e) return null;
    this.#entries.delete(id(e.batch, e.stage, e.partition));
    return { batch: e.batch, stage: e.stage, partition: e.partition, inputs: e.inputs, final: e.final };
  }

  /** Marks a taken task as run: its lane may go on to the next batch. */
  done(t: { batch: number; stage: number; partition: number; final: boolean }): void {
    this.#next.set(lane(t.stage, t.partition), t.batch + 1);
    if (t.final) this.#finish(t.batch);
    const succ = this.#entries.get(id(t.batch + 1, t.stage, t.partition));
    if (succ) this.#check(succ);
  }

  /**
   * Makes a lane (re)start at `batch` (after its state was restored to the end of batch - 1):
   * anything the lane had waiting for earlier batches is dropped.
   */
  startLane(stage: number, partition: number, batch: number): void {
    this.#next.set(lane(stage, partition), batch);
    for (const [k, e] of this.#entries) {
      if (e.stage === stage && e.partition === partition && e.batch < batch) this.#entries.delete(k);
    }
    const keep = this.#heap.filter((e) => !(e.stage === stage && e.partition === partition && e.batch < batch));
    this.#heap.length = 0;
    for (const e of keep) this.#push(e);
    const first = this.#entries.get(id(batch, stage, partition));
    if (first) this.#check(first);
  }

  /** Forgets every expected task after `batch` (its group ended early); inputs stay. */
  dropAfter(batch: number): void {
    for (const [k, e] of this.#entries) if (e.batch > batch && e.inputs.length === 0) this.#entries.delete(k);
    for (const e of this.#entries.values()) if (e.batch > batch) e.needed = -1;
  }

  /** Forgets a lane that moved to another executor: its waiting tasks and inputs go. */
  dropLane(stage: number, partition: number): void {
    this.#next.delete(lane(stage, partition));
    for (const [k, e] of this.#entries) if (e.stage === stage && e.partition === partition) this.#entries.delete(k);
    const keep = this.#heap.filter((e) => !(e.stage === stage && e.partition === partition));
    this.#heap.length = 0;
    for (const e of keep) this.#push(e);
  }

  /** The next batch a lane will run (undefined for a lane never seen). */
  nextOf(stage: number, partition: number): number | undefined {
    return this.#next.get(lane(stage, partition));
  }

  /** Tasks expected or with inputs waiting, not yet taken. */
  get pending(): number {
    return this.#entries.size;
  }

  get hasReady(): boolean {
    return this.#heap.length > 0;
  }

  /** Forgets every task and input (the job is being torn down or restarted). */
  clear(): void {
    this.#entries.clear();
    this.#next.clear();
    this.#heap.length = 0;
    this.#finalBatch = Infinity;
  }

  #finish(batch: number): void {
    this.#finalBatch = Math.min(this.#finalBatch, batch);
    for (const [k, e] of this.#entries) if (e.batch > batch) this.#entries.delete(k);
    const keep = this.#heap.filter((e) => e.batch <= batch);
    this.#heap.length = 0;
    for (const e of keep) this.#push(e);
  }

  #entry(batch: number, stage: number, partition: number): Entry<I> {
    const k = id(batch, stage, partition);
    let e = this.#entries.get(k);
    if (!e) {
      e = { batch, stage, partition, needed: -1, inputs: [], froms: new Set(), final: false, queued: false };
      this.#entries.set(k, e);
    }
    return e;
  }

  #check(e: Entry<I>): void {
    if (e.needed < 0 || e.inputs.length < e.needed) return;
    if (this.#next.get(lane(e.stage, e.partition)) !== e.batch) return;
    if (e.queued) return;
    e.queued = true;
    this.#push(e);
  }

  #less(a: Entry<I>, b: Entry<I>): boolean {
    if (a.batch !== b.batch) return a.batch < b.batch;
    if (a.stage !== b.stage) return a.stage < b.stage;
    return a.partition < b.partition;
  }

  #push(e: Entry<I>): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  #pop(): Entry<I> | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l], h[m])) m = l;
        if (r < h.length && this.#less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
