import { describe, expect, test } from "bun:test";
import { LocalScheduler, type ReadyTask } from "../../../engine/executor/scheduler.ts";
import { prng } from "../../support/prng.ts";

const where = (t: ReadyTask<unknown> | null) => (t ? [t.batch, t.stage, t.partition] : null);

/** Takes every ready task (without marking any done). */
function drain<I>(s: LocalScheduler<I>): ReadyTask<I>[] {
  const out: ReadyTask<I>[] = [];
  for (let t = s.take(); t; t = s.take()) out.push(t);
  return out;
}

describe("LocalScheduler", () => {
  test("a task is ready only when all needed inputs have arrived", () => {
    const s = new LocalScheduler<string>();
    s.expect(0, 1, 0, 3);
    s.arrive(0, 1, 0, "from p0", false);
    s.arrive(0, 1, 0, "from p1", false, 1);
    expect(s.hasReady).toBe(false);
    expect(s.take()).toBeNull();
    s.arrive(0, 1, 0, "from p2", false, 2);
    expect(s.hasReady).toBe(true);
    const t = s.take()!;
    expect(where(t)).toEqual([0, 1, 0]);
    expect(t.inputs).toEqual(["from p0", "from p1", "from p2"]);
    expect(t.final).toBe(false);
    expect(s.take()).toBeNull();
    expect(s.pending).toBe(0);
  });

  test("inputs never make a task ready before it is expected", () => {
    const s = new LocalScheduler<number>();
    for (let i = 0; i < 5; i++) s.arrive(0, 0, 0, i, false, i);
    expect(s.take()).toBeNull();
    expect(s.pending).toBe(1);
  });

  test("inputs arriving before expect are kept", () => {
    const s = new LocalScheduler<string>();
    s.arrive(0, 2, 1, "early-a", false);
    s.arrive(0, 2, 1, "early-b", false, 1);
    expect(s.take()).toBeNull();
    s.expect(0, 2, 1, 3);
    expect(s.take()).toBeNull();
    s.arrive(0, 2, 1, "late", false, 2);
    expect(s.take()!.inputs).toEqual(["early-a", "early-b", "late"]);
  });

  test("a task needing no inputs is ready as soon as it is expected", () => {
    const s = new LocalScheduler<string>();
    s.expect(0, 0, 0, 0);
    expect(where(s.take())).toEqual([0, 0, 0]);
  });

  test("tasks of one (stage, partition) run strictly in batch order", () => {
    const s = new LocalScheduler<string>();
    for (let b = 0; b < 3; b++) s.expect(b, 1, 0, 1);
    // Later batches complete their inputs first.
    s.arrive(2, 1, 0, "b2", false);
    s.arrive(1, 1, 0, "b1", false);
    expect(s.take()).toBeNull();
    s.arrive(0, 1, 0, "b0", false);
    const t0 = s.take()!;
    expect(where(t0)).toEqual([0, 1, 0]);
    // Batch 1 waits until batch 0 is done, even though its inputs are all there.
    expect(s.take()).toBeNull();
    s.done(t0);
    const t1 = s.take()!;
    expect(t1.inputs).toEqual(["b1"]);
    expect(s.take()).toBeNull();
    s.done(t1);
    expect(s.take()!.inputs).toEqual(["b2"]);
  });

  test("other lanes are not held back by a busy lane", () => {
    const s = new LocalScheduler<string>();
    s.expect(0, 0, 0, 0);
    s.expect(1, 0, 0, 0);
    s.expect(1, 0, 1, 0);
    expect(drain(s).map(where)).toEqual([[0, 0, 0], [1, 0, 1]]);
  });

  test("among ready tasks the lowest batch is taken first, then stage, then partition", () => {
    const rnd = prng(11);
    const s = new LocalScheduler<number>();
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
    for (const [b, st, p] of shuffled) s.arrive(b, st, p, b, false);
    const order = drain(s).map(where);
    const sorted = tasks.slice().sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
    expect(order).toEqual(sorted);
  });

  test("a lane's next batch enters the ready order by its batch number", () => {
    const s = new LocalScheduler<string>();
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
    const s = new LocalScheduler<string>();
    s.expect(0, 0, 0, 1, true);
    s.arrive(0, 0, 0, "x", false);
    expect(s.take()!.final).toBe(true);
    s.expect(0, 1, 0, 1);
    s.arrive(0, 1, 0, "y", true);
    expect(s.take()!.final).toBe(true);
  });

  test("after a final task is done, later batches are dropped and later expects ignored", () => {
    const s = new LocalScheduler<string>();
    for (let b = 0; b < 4; b++) s.expect(b, 0, 0, 1);
    s.expect(1, 1, 0, 1);
    s.expect(2, 1, 0, 1);
    s.arrive(3, 0, 0, "too late", false);
    s.arrive(1, 0, 0, "last input", true);
    s.arrive(0, 0, 0, "first", false);
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
    s.arrive(1, 1, 0, "reduce input", true);
    expect(where(s.take())).toEqual([1, 1, 0]);
  });

  // Tasks after the final batch are dropped even when they were already ready.
  test("a later batch already ready when the final batch is done is dropped too", () => {
    const s = new LocalScheduler<string>();
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

  test("clear forgets everything, including the final batch", () => {
    const s = new LocalScheduler<string>();
    s.expect(0, 0, 0, 0, true);
    s.done(s.take()!);
    s.arrive(3, 0, 0, "x", false);
    s.clear();
    expect(s.pending).toBe(0);
    expect(s.hasReady).toBe(false);
    s.expect(5, 0, 0, 0);
    expect(where(s.take())).toEqual([5, 0, 0]);
  });
});

describe("LocalScheduler after a recovery", () => {
  test("an input from an upstream partition already heard from is ignored", () => {
    const s = new LocalScheduler<string>();
    s.expect(0, 1, 0, 2);
    s.arrive(0, 1, 0, "a", false, 0);
    s.arrive(0, 1, 0, "a again", false, 0);
    expect(s.take()).toBeNull();
    s.arrive(0, 1, 0, "b", false, 1);
    expect(s.take()!.inputs).toEqual(["a", "b"]);
  });

  test("inputs for a batch the lane already ran are ignored", () => {
    const s = new LocalScheduler<string>();
    s.expect(0, 1, 0, 1);
    s.arrive(0, 1, 0, "x", false, 0);
    const t = s.take()!;
    s.done(t);
    s.arrive(0, 1, 0, "x re-sent", false, 1);
    expect(s.take()).toBeNull();
    expect(s.pending).toBe(0);
  });

  test("startLane restarts a lane at a batch, dropping what it waited for before it", () => {
    const s = new LocalScheduler<string>();
    s.expect(3, 0, 0, 1);
    s.arrive(3, 0, 0, "three", false);
    s.expect(5, 0, 0, 1);
    s.arrive(5, 0, 0, "five", false);
    expect(s.take()!.batch).toBe(3);
    s.startLane(0, 0, 5);
    expect(s.take()!.inputs).toEqual(["five"]);
    expect(s.nextOf(0, 0)).toBe(5);
  });
});
