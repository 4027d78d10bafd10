/**
 * Drizzle's pushed shuffle between two in-process job runs: map output travels as one message
 * per burst of tasks with empty blocks left implicit, and a reduce task runs exactly when every
 * upstream map task has reported, once, whatever arrives twice.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { type JobPorts, JobRun } from "../../../engine/executor/job.ts";
import { loadPipeline } from "../../../engine/plan/load.ts";
import { buildPlan } from "../../../engine/plan/stages.ts";
import {
  type DriverCommand,
  type ExecutorEvent,
  type ExecutorId,
  executorId,
  jobId,
  type PeerMessage,
  type Placement,
  type ShuffleBlocks,
} from "../../../engine/wire/mod.ts";

const job = jobId("job-test");
const PARTITIONS = 4;
const plan = buildPlan(
  loadPipeline(readFileSync(`${import.meta.dir}/../../../pipelines/wordcount.yaml`, "utf8"), "wordcount.yaml", {}),
  { partitions: PARTITIONS },
);
const [E0, E1] = [executorId(0), executorId(1)];
/** Map partitions alternate between the executors; executor 0 owns reduce partitions 0 and 1. */
const placement: Placement = [[E0, E1, E0, E1], [E0, E0, E1, E1]];

/** One sink part as the driver sees it, with the executor that ran its task. */
type Sink = { batch: number; partition: number; data: Uint8Array; executor: ExecutorId };

/** Two job runs wired to each other; `hold` decides which peer messages wait in `held`. */
function cluster(hold: (from: ExecutorId, m: PeerMessage) => "deliver" | "hold" | "twice" = () => "deliver") {
  const sinks: Sink[] = [];
  const failures: ExecutorEvent[] = [];
  const shuffles: ShuffleBlocks[] = [];
  const held: Array<() => void> = [];
  const runs = new Map<ExecutorId, JobRun>();
  const ports = (id: ExecutorId): JobPorts => ({
    id,
    job,
    toDriver: (m) => {
      if (m.type === "SinkData") {
        for (const p of m.parts) sinks.push({ ...p, executor: id });
        for (const e of m.empty) {
          for (const partition of e.partitions) {
            sinks.push({ batch: e.batch, partition, data: new Uint8Array(0), executor: id });
          }
        }
      }
      if (m.type === "TaskFailed") failures.push(m);
    },
    toPeer: (to, m) => {
      if (m.type === "ShuffleBlocks") shuffles.push(m);
      const deliver = () => runs.get(to)!.onPeer(m, () => {});
      const how = hold(id, m);
      if (how === "hold") held.push(deliver);
      else {
        setImmediate(deliver);
        if (how === "twice") setImmediate(deliver);
      }
    },
    dropPeer: () => {},
    setPeers: () => {},
  });
  for (const id of [E0, E1]) {
    runs.set(
      id,
      new JobRun(ports(id), {
        type: "StartJob",
        job,
        attempt: 0,
        plan,
        mode: "drizzle",
        peers: [],
        placement,
        from: 0,
        restore: [],
        heartbeatMs: 1000,
      }),
    );
  }
  const command = (m: DriverCommand) => {
    for (const r of runs.values()) r.onCommand(m);
  };
  /** Runs batches 0..lines.length-1 as one group; each batch's input is map partition 0's chunk. */
  const run = (lines: string[]) => {
    command({
      type: "RunGroup",
      job,
      attempt: 0,
      group: 0,
      first: 0,
      count: lines.length,
      placement,
      releaseBefore: 0,
    });
    lines.forEach((line, batch) => {
      const input = {
        type: "InputChunk" as const,
        job,
        attempt: 0,
        batch,
        time: 1000 + batch,
        final: batch === lines.length - 1,
      };
      runs.get(E0)!.onCommand({
        ...input,
        chunks: [{ partition: 0, data: new TextEncoder().encode(line) }],
        empty: [2],
      });
      runs.get(E1)!.onCommand({ ...input, chunks: [], empty: [1, 3] });
    });
  };
  const output = () => sinks.map((s) => new TextDecoder().decode(s.data)).join("").split("\n").filter(Boolean).sort();
  return { sinks, failures, shuffles, held, run, output };
}

/** Waits until the runs have nothing left to do. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
}

describe("drizzle shuffle between executors", () => {
  test("one message per destination and burst, empty blocks implicit, the right counts", async () => {
    const c = cluster();
    c.run(["a b a\n", "b c\n"]);
    await settle();
    expect(c.failures).toEqual([]);
    expect(c.output()).toEqual(["a\t2", "b\t2", "c\t1"]);
    // Every reduce task of both batches reported its sink part exactly once.
    expect(c.sinks.map((s) => `${s.batch}:${s.partition}`).sort()).toEqual(
      ["0:0", "0:1", "0:2", "0:3", "1:0", "1:1", "1:2", "1:3"],
    );
    for (const m of c.shuffles) {
      for (const o of m.outputs) {
        // Only non-empty blocks travel; every map task is listed once per output.
        expect(o.blocks.every((b) => (b.records as unknown[]).length > 0)).toBe(true);
        expect(new Set(o.froms).size).toBe(o.froms.length);
      }
    }
    // Each executor ran all its map tasks (both batches) in one burst: one message to the other
    // executor, one entry per batch (their times differ) listing both map tasks.
    expect(c.shuffles).toHaveLength(2);
    const froms = c.shuffles.flatMap((m) => m.outputs.map((o) => `${o.batch}:${o.froms.sort()}`)).sort();
    expect(froms).toEqual(["0:0,2", "0:1,3", "1:0,2", "1:1,3"]);
  });

  test("map output delivered twice is counted once", async () => {
    const c = cluster(() => "twice");
    c.run(["a b a\n", "b c\n"]);
    await settle();
    expect(c.output()).toEqual(["a\t2", "b\t2", "c\t1"]);
    expect(c.sinks).toHaveLength(2 * PARTITIONS);
  });

  test("batches without records: every task reports once, also when map output comes twice", async () => {
    for (const how of ["deliver", "twice"] as const) {
      const c = cluster(() => how);
      c.run(["a\n", "", "", "b a\n", "", ""]);
      await settle();
      expect(c.failures).toEqual([]);
      expect(c.output()).toEqual(["a\t2", "b\t1"]);
      const reported = c.sinks.map((s) => `${s.batch}:${s.partition}`);
      expect(new Set(reported).size).toBe(reported.length);
      expect(reported).toHaveLength(6 * PARTITIONS);
    }
  });

  test("a reduce task runs only once every upstream map task has reported", async () => {
    // Executor 1's map output (partitions 1 and 3, both with empty blocks only) is held back.
    const c = cluster((from) => (from === E1 ? "hold" : "deliver"));
    c.run(["a b a\n"]);
    await settle();
    // Executor 1 heard from every map task (its own and executor 0's): its reducers ran.
    expect(c.sinks.filter((s) => s.executor === E1).map((s) => s.partition).sort()).toEqual([2, 3]);
    // Executor 0's reducers still wait for map partitions 1 and 3, though those had no records for them.
    expect(c.sinks.filter((s) => s.executor === E0)).toEqual([]);
    for (const deliver of c.held.splice(0)) deliver();
    await settle();
    expect(c.sinks.filter((s) => s.executor === E0).map((s) => s.partition).sort()).toEqual([0, 1]);
    expect(c.output()).toEqual(["a\t2", "b\t1"]);
  });
});
