import { describe, expect, test } from "bun:test";
import { bitSet, LocalScheduler, type ReadyTask } from "../../../engine/executor/scheduler.ts";
import { prng } from "../../support/prng.ts";

/** Each task gathers the values of its inputs, in arrival order. */
const newScheduler = () => new LocalScheduler<unknown[]>(() => []);

/** Delivers `value` as the input from upstream `from`; false when the scheduler ignored it. */
function put(
  s: LocalScheduler<unknown[]>,
  batch: number,
  stage: number,
  partition: number,
  value: unknown,
  final: boolean,
  from = 0,
): boolean {
  const gathered = s.arrive(batch, stage, partition, from, final);
  gathered?.push(value);
  return gathered !== undefined;
}

const where = (t: ReadyTask<unknown> | null) => (t ? [t.batch, t.stage, t.partition] : null);

/** Takes every ready task (without marking any done). */
function drain<I>(s: LocalScheduler<I>): ReadyTask<I>[] {
  const out: ReadyTask<I>[] = [];
  for (let t = s.take(); t; t = s.take()) out.push(t);
  return out;
}

describe("LocalScheduler", () => {
  test("a task is ready only when all needed inputs have arrived", () => {
    const s = newScheduler();
    s.expect(0, 1, 0, 3);
    put(s, 0, 1, 0, "from p0", false);
    put(s, 0, 1, 0, "from p1", false, 1);
    expect(s.hasReady).toBe(false);
    expect(s.take()).toBeNull();
    put(s, 0, 1, 0, "from p2", false, 2);
    expect(s.hasReady).toBe(true);
    const t = s.take()!;
    expect(where(t)).toEqual([0, 1, 0]);
    expect(t.input).toEqual(["from p0", "from p1", "from p2"]);
    expect(t.final).toBe(false);
    expect(s.take()).toBeNull();
    expect(s.pending).toBe(0);
  });

  test("inputs never make a task ready before it is expected", () => {
    const s = newScheduler();
    for (let i = 0; i < 5; i++) put(s, 0, 0, 0, i, false, i);
    expect(s.take()).toBeNull();
    expect(s.pending).toBe(1);
  });

  test("inputs arriving before expect are kept", () => {
    const s = newScheduler();
    put(s, 0, 2, 1, "early-a", false);
    put(s, 0, 2, 1, "early-b", false, 1);
    expect(s.take()).toBeNull();
    s.expect(0, 2, 1, 3);
    expect(s.take()).toBeNull();
    put(s, 0, 2, 1, "late", false, 2);
    expect(s.take()!.input).toEqual(["early-a", "early-b", "late"]);
  });

  test("a task needing no inputs is ready as soon as it is expected", () => {
    const s = newScheduler();
    s.expect(0, 0, 0, 0);
    expect(where(s.take())).toEqual([0, 0, 0]);
  });

  test("tasks of one (stage, partition) run strictly in batch order", () => {
    const s = newScheduler();
    for (let b = 0; b < 3; b++) s.expect(b, 1, 0, 1);
    // Later batches complete their inputs first.
    put(s, 2, 1, 0, "b2", false);
    put(s, 1, 1, 0, "b1", false);
    expect(s.take()).toBeNull();
    put(s, 0, 1, 0, "b0", false);
    const t0 = s.take()!;
    expect(where(t0)).toEqual([0, 1, 0]);
    // Batch 1 waits until batch 0 is done, even though its inputs are all there.
    expect(s.take()).toBeNull();
    s.done(t0);
    const t1 = s.take()!;
    expect(t1.input).toEqual(["b1"]);
    expect(s.take()).toBeNull();
    s.done(t1);
    expect(s.take()!.input).toEqual(["b2"]);
  });

  test("other lanes are not held back by a busy lane", () => {
    const s = newScheduler();
    s.expect(0, 0, 0, 0);
    s.expect(1, 0, 0, 0);
    s.expect(1, 0, 1, 0);
    expect(drain(s).map(where)).toEqual([[0, 0, 0], [1, 0, 1]]);
  });

  test("among ready tasks the lowest batch is taken first, then stage, then partition", () => {
    const rnd = prng(11);
    const s = newScheduler();
    const tasks: number[][] = [];
    for (let stage = 0; stage < 4; stage++) {
      for (let partition = 0; partition < 6; partition++) {
        // Each lane starts at its own batch and has exactly one ready task.
        const batch = Math.floor(rnd() * 20);
        tasks.push([batch, stage, partition]);
      }
    }
    const shuffled = tasks.slice().sort(() => rnd() - 0.5);
    for (const [b, st, p] of shuffled) s.expect(b, st, p, 1);
    for (const [b, st, p] of shuffled) put(s, b, st, p, b, false);
    const order = drain(s).map(where);
    const sorted = tasks.slice().sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
    expect(order).toEqual(sorted);
  });

  test("a lane's next batch enters the ready order by its batch number", () => {
    const s = newScheduler();
    s.expect(0, 0, 0, 0);
    s.expect(1, 0, 0, 0);
    s.expect(2, 0, 1, 0);
    const t = s.take()!;
    expect(where(t)).toEqual([0, 0, 0]);
    s.done(t);
    // Batch 1 (lane 0:0) became ready after batch 2 (lane 0:1), but goes first.
    expect(drain(s).map(where)).toEqual([[1, 0, 0], [2, 0, 1]]);
  });

  test("final is carried from expect or from an input", () => {
    const s = newScheduler();
    s.expect(0, 0, 0, 1, true);
    put(s, 0, 0, 0, "x", false);
    expect(s.take()!.final).toBe(true);
    s.expect(0, 1, 0, 1);
    put(s, 0, 1, 0, "y", true);
    expect(s.take()!.final).toBe(true);
  });

  test("after a final task is done, later batches are dropped and later expects ignored", () => {
    const s = newScheduler();
    for (let b = 0; b < 4; b++) s.expect(b, 0, 0, 1);
    s.expect(1, 1, 0, 1);
    s.expect(2, 1, 0, 1);
    put(s, 3, 0, 0, "too late", false);
    put(s, 1, 0, 0, "last input", true);
    put(s, 0, 0, 0, "first", false);
    const t0 = s.take()!;
    s.done(t0);
    const t1 = s.take()!;
    expect(where(t1)).toEqual([1, 0, 0]);
    expect(t1.final).toBe(true);
    s.done(t1);
    // Batches 2 and 3 are gone; batch 1 of stage 1 (not after the final batch) remains.
    expect(s.pending).toBe(1);
    s.expect(2, 0, 0, 0);
    s.expect(5, 1, 0, 0);
    expect(s.pending).toBe(1);
    expect(s.take()).toBeNull();
    put(s, 1, 1, 0, "reduce input", true);
    expect(where(s.take())).toEqual([1, 1, 0]);
  });

  // Tasks after the final batch are dropped even when they were already ready.
  test("a later batch already ready when the final batch is done is dropped too", () => {
    const s = newScheduler();
    s.expect(0, 1, 0, 0);
    s.expect(1, 1, 0, 0);
    const first = s.take()!;
    expect(where(first)).toEqual([0, 1, 0]);
    s.done(first); // batch 1 of lane (1,0) is now ready
    s.expect(0, 0, 0, 0, true);
    const fin = s.take()!;
    expect(where(fin)).toEqual([0, 0, 0]);
    s.done(fin);
    expect(s.take()).toBeNull();
  });

  test("expectThrough declares a lane's tasks up to a batch; inputs before or after it both work", () => {
    const s = newScheduler();
    put(s, 1, 1, 0, "early", false, 0); // before the lane is declared: waits
    s.startLane(1, 0, 0);
    s.expectThrough(1, 0, 2, 2);
    put(s, 0, 1, 0, "a", false, 0);
    put(s, 0, 1, 0, "b", false, 1);
    const t0 = s.take()!;
    expect([where(t0), t0.input]).toEqual([[0, 1, 0], ["a", "b"]]);
    s.done(t0);
    put(s, 1, 1, 0, "late", false, 1);
    const t1 = s.take()!;
    expect([where(t1), t1.input]).toEqual([[1, 1, 0], ["early", "late"]]);
    s.done(t1);
    // Batch 3 is past the declared end: its inputs wait until a later group declares it.
    put(s, 3, 1, 0, "x", false, 0);
    put(s, 3, 1, 0, "y", false, 1);
    put(s, 2, 1, 0, "c", false, 0);
    put(s, 2, 1, 0, "d", false, 1);
    s.done(s.take()!);
    expect(s.take()).toBeNull();
    s.expectThrough(1, 0, 5, 2);
    expect(s.take()!.input).toEqual(["x", "y"]);
  });

  test("runAtOnce runs a one-input task whose lane is at its batch, and nothing else", () => {
    const s = newScheduler();
    s.startLane(0, 0, 0);
    s.expectThrough(0, 0, 2, 1);
    // Batch 1 is not the lane's next batch: it has to wait.
    expect(s.runAtOnce(1, 0, 0)).toBe(false);
    expect(s.runAtOnce(0, 0, 0)).toBe(true);
    expect(s.nextOf(0, 0)).toBe(1);
    expect(s.pending).toBe(0);
    // Run already: the same input again is a duplicate, for both paths.
    expect(s.runAtOnce(0, 0, 0)).toBe(false);
    expect(put(s, 0, 0, 0, "again", false)).toBe(false);
    // An input that came first makes its task go through the scheduler.
    put(s, 1, 0, 0, "in", false);
    expect(s.runAtOnce(1, 0, 0)).toBe(false);
    s.done(s.take()!);
    // Past the declared end, or for a task needing more inputs: not at once.
    expect(s.runAtOnce(3, 0, 0)).toBe(false);
    s.startLane(1, 0, 0);
    s.expectThrough(1, 0, 2, 2);
    expect(s.runAtOnce(0, 1, 0)).toBe(false);
  });

  test("dropAfter ends a lane's declared tasks early", () => {
    const s = newScheduler();
    s.startLane(0, 0, 0);
    s.expectThrough(0, 0, 9, 1);
    s.dropAfter(0);
    put(s, 0, 0, 0, "in", false);
    put(s, 1, 0, 0, "not yet", false);
    s.done(s.take()!);
    expect(s.take()).toBeNull();
    s.expectThrough(0, 0, 3, 1);
    expect(s.take()!.input).toEqual(["not yet"]);
  });

  test("clear forgets everything, including the final batch", () => {
    const s = newScheduler();
    s.expect(0, 0, 0, 0, true);
    s.done(s.take()!);
    put(s, 3, 0, 0, "x", false);
    s.clear();
    expect(s.pending).toBe(0);
    expect(s.hasReady).toBe(false);
    s.expect(5, 0, 0, 0);
    expect(where(s.take())).toEqual([5, 0, 0]);
  });
});

describe("LocalScheduler after a recovery", () => {
  test("an input from an upstream partition already heard from is ignored", () => {
    const s = newScheduler();
    s.expect(0, 1, 0, 2);
    put(s, 0, 1, 0, "a", false, 0);
    put(s, 0, 1, 0, "a again", false, 0);
    expect(s.take()).toBeNull();
    put(s, 0, 1, 0, "b", false, 1);
    expect(s.take()!.input).toEqual(["a", "b"]);
  });

  test("many upstream partitions in any order: ready exactly when the last distinct one arrives", () => {
    const rnd = prng(5);
    const s = newScheduler();
    const n = 300;
    const froms = Array.from({ length: n }, (_, i) => i).sort(() => rnd() - 0.5);
    // Half arrive before the task is expected, each of them twice.
    for (const f of froms.slice(0, n / 2)) {
      expect(put(s, 4, 1, 2, f, false, f)).toBe(true);
      expect(put(s, 4, 1, 2, f, false, f)).toBe(false);
    }
    s.expect(4, 1, 2, n);
    for (const f of froms.slice(n / 2, n - 1)) put(s, 4, 1, 2, f, false, f);
    expect(s.hasReady).toBe(false);
    put(s, 4, 1, 2, froms[n - 1], false, froms[n - 1]);
    const t = s.take()!;
    expect(where(t)).toEqual([4, 1, 2]);
    expect((t.input as number[]).slice().sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  test("arriveAll counts only the upstream partitions not heard before", () => {
    const s = newScheduler();
    s.expect(0, 1, 0, 20);
    expect(put(s, 0, 1, 0, "block of 3", false, 3)).toBe(true);
    // 3 was heard already: 0..9 add nine more; the accumulator is handed out for the news.
    expect(s.arriveAll(0, 1, 0, bitSet([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), false)).toEqual(["block of 3"]);
    expect(s.arriveAll(0, 1, 0, bitSet([2, 9]), false)).toBeUndefined();
    expect(s.arriveAll(0, 1, 0, bitSet([10, 11, 12, 13, 14, 15, 16, 17, 18]), false)).toBeDefined();
    expect(s.hasReady).toBe(false);
    expect(put(s, 0, 1, 0, "dup", false, 18)).toBe(false);
    // The twentieth distinct one (bit 19, in a third byte) makes the task ready.
    expect(s.arriveAll(0, 1, 0, bitSet([0, 19]), true)).toBeDefined();
    const t = s.take()!;
    expect(where(t)).toEqual([0, 1, 0]);
    expect(t.final).toBe(true);
    s.done(t);
    expect(s.arriveAll(0, 1, 0, bitSet([5]), false)).toBeUndefined();
  });

  test("inputs for a batch the lane already ran are ignored", () => {
    const s = newScheduler();
    s.expect(0, 1, 0, 1);
    put(s, 0, 1, 0, "x", false, 0);
    const t = s.take()!;
    s.done(t);
    put(s, 0, 1, 0, "x re-sent", false, 1);
    expect(s.take()).toBeNull();
    expect(s.pending).toBe(0);
  });

  test("startLane restarts a lane at a batch, dropping what it waited for before it", () => {
    const s = newScheduler();
    s.expect(3, 0, 0, 1);
    put(s, 3, 0, 0, "three", false);
    s.expect(5, 0, 0, 1);
    put(s, 5, 0, 0, "five", false);
    expect(s.take()!.batch).toBe(3);
    s.startLane(0, 0, 5);
    expect(s.take()!.input).toEqual(["five"]);
    expect(s.nextOf(0, 0)).toBe(5);
  });
});
