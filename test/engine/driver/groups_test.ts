import { describe, expect, test } from "bun:test";
import { CheckpointTracker } from "../../../engine/driver/checkpoints.ts";
import { GroupSizeController } from "../../../engine/driver/group_size.ts";
import { type GroupBatch, GroupScheduler } from "../../../engine/driver/groups.ts";
import type { GroupMetrics } from "../../../engine/driver/types.ts";
import { type DriverCommand, type ExecutorId, executorId } from "../../../engine/wire/mod.ts";

const E0 = executorId(0);
const E1 = executorId(1);

/** A scheduler over two executors, with what it sent, the input it forwarded and its reports. */
function setup(size: number | GroupSizeController) {
  const ckpt = new CheckpointTracker([]);
  const sent: Array<{ to: ExecutorId; m: Partial<DriverCommand> }> = [];
  const inputs: number[] = [];
  /** Commands and input in the order they went out: "RunGroup@0", "input 0", ... */
  const order: string[] = [];
  const reports: GroupMetrics[] = [];
  let alive = [E0, E1];
  let coordination = 0;
  const s = new GroupScheduler<GroupBatch>(
    {
      ckpt,
      placement: () => [[E0, E1]],
      alive: () => alive,
      schedule: (to, m) => {
        sent.push({ to, m: m as Partial<DriverCommand> });
        order.push(`${m.type}@${to}`);
      },
      sendInput: (b) => {
        inputs.push(b.id);
        order.push(`input ${b.id}`);
      },
      batchMs: () => 10,
      takeCoordinationMs: () => {
        const ms = coordination;
        coordination = 0;
        return ms;
      },
      onGroup: (m) => reports.push(m),
    },
    size,
  );
  const batch = (id: number): GroupBatch => ({ id, group: -1 });
  return {
    s,
    ckpt,
    sent,
    inputs,
    order,
    reports,
    batch,
    kill: (id: ExecutorId) => (alive = alive.filter((a) => a !== id)),
    addCoordination: (ms: number) => (coordination += ms),
  };
}

const timings = { compute: 5, shuffle: 1, coord: 0.5 };

describe("GroupScheduler", () => {
  test("one RunGroup per executor covers G batches; the others are only their input", () => {
    const { s, ckpt, sent, inputs, order, batch } = setup(3);
    const batches = [0, 1, 2, 3, 4, 5, 6].map(batch);
    for (const b of batches) s.dispatch(b);
    const runGroups = sent.filter((x) => x.m.type === "RunGroup");
    expect(runGroups.map((x) => [x.to, (x.m as { first: number }).first, (x.m as { count: number }).count])).toEqual([
      [E0, 0, 3],
      [E1, 0, 3],
      [E0, 3, 3],
      [E1, 3, 3],
      [E0, 6, 3],
      [E1, 6, 3],
    ]);
    expect(batches.map((b) => b.group)).toEqual([0, 0, 0, 1, 1, 1, 2]);
    expect(inputs).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(s.sent).toBe(3);
    // A group's commands go out before its first batch's input.
    expect(order.slice(0, 5)).toEqual(["RunGroup@0", "RunGroup@1", "input 0", "input 1", "input 2"]);
    const first = runGroups[0].m as { placement: unknown; releaseBefore: number };
    expect(first.placement).toEqual([[E0, E1]]);
    expect(first.releaseBefore).toBe(0);
    // Every group's last batch is a checkpoint: batches 2 and 5 (and 8, not yet cut).
    expect(ckpt.advance(4)!.batch).toBe(2);
    expect(ckpt.advance(9)!.batch).toBe(8);
    s.dispatch(batch(9));
    // Map outputs before the newest checkpoint can go.
    expect((sent[sent.length - 1].m as { releaseBefore: number }).releaseBefore).toBe(9);
  });

  test("a group's last batch is a checkpoint; ending early moves it to the newest batch", () => {
    const { s, ckpt, sent, batch } = setup(5);
    s.dispatch(batch(0));
    s.dispatch(batch(1));
    s.endEarly(1);
    expect(sent.filter((x) => x.m.type === "EndGroup").map((x) => (x.m as { last: number }).last)).toEqual([1, 1]);
    expect(s.current!.count).toBe(2);
    // The group end was batch 4; now batch 1 is the checkpoint, and batch 4 is not one.
    expect(ckpt.advance(5)!.batch).toBe(1);
    expect(ckpt.advance(5)).toBeNull();
    // The next batch starts a new group.
    s.dispatch(batch(2));
    expect(s.current!.first).toBe(2);
    // Ending at (or past) the group's own end sends nothing.
    const before = sent.length;
    s.endEarly(6);
    expect(sent.length).toBe(before);
  });

  test("a group is reported once every executor completed it, with the slowest coordination", () => {
    const { s, reports, batch, addCoordination } = setup(2);
    s.dispatch(batch(0));
    s.dispatch(batch(1));
    addCoordination(2);
    s.completed(E0, 0, 1, timings);
    expect(reports).toEqual([]);
    s.completed(E1, 0, 1, { compute: 7, shuffle: 2, coord: 1.5 });
    expect(reports.length).toBe(1);
    const r = reports[0];
    expect([r.group, r.first, r.size, r.executors, r.computeMs, r.shuffleMs]).toEqual([0, 0, 2, 2, 12, 3]);
    expect(r.coordinationMs).toBeCloseTo(r.scheduleMs + 1.5 + 2, 6);
    // Reported once: a late duplicate changes nothing.
    s.completed(E1, 0, 1, timings);
    expect(reports.length).toBe(1);
    // A group that ended at the end of input is reported with the batches it really had.
    s.dispatch(batch(2));
    s.completed(E0, 1, 2, timings);
    s.completed(E1, 1, 2, timings);
    expect(reports[1].size).toBe(1);
  });

  test("a lost executor is not waited for; a reset starts the next batch in a new group", () => {
    const { s, reports, sent, batch, kill } = setup(4);
    s.dispatch(batch(0));
    kill(E1);
    s.forget(E1);
    s.completed(E0, 0, 3, timings);
    expect(reports.map((r) => r.executors)).toEqual([1]);
    s.dispatch(batch(1)); // still group 0
    expect(s.sent).toBe(1);
    s.dispatch(batch(4)); // group 1, waiting for E0
    s.reset();
    s.completed(E0, 1, 7, timings);
    expect(reports.length).toBe(1); // group 1 was dropped with the reset
    s.dispatch(batch(1));
    const last = sent[sent.length - 1];
    expect([last.to, last.m.type, (last.m as { first: number }).first]).toEqual([E0, "RunGroup", 1]);
    expect(s.current!.waiting).toEqual(new Set([E0]));
  });

  test("with a controller, each group's size is its decision at the group's start", () => {
    const c = new GroupSizeController({ maxOverhead: 0.05, maxGroupTimeMs: 1000, maxGroupSize: 1000 });
    const { s, batch, addCoordination } = setup(c);
    s.dispatch(batch(0));
    expect(s.size).toBe(1);
    // 3 ms of coordination for a group of 10 ms batches: G = 3 / (0.05 * 10) = 6.
    addCoordination(3 - s.current!.scheduleMs);
    s.completed(E0, 0, 0, { compute: 0, shuffle: 0, coord: 0 });
    s.completed(E1, 0, 0, { compute: 0, shuffle: 0, coord: 0 });
    s.dispatch(batch(1));
    expect(s.size).toBe(6);
    expect([s.current!.first, s.current!.count]).toEqual([1, 6]);
    expect(s.current!.reason).toContain("smallest G");
  });
});
