import { isStateful, type PhysicalPlan } from "../plan/plan.ts";
import { Rejects } from "../ops/reject.ts";
import type {
  Block,
  DriverCommand,
  ExecutorEvent,
  ExecutorId,
  JobId,
  LaneState,
  PeerMessage,
  Placement,
  Recover,
  Rejections,
  StartJob,
} from "../wire/mod.ts";
import { LocalScheduler } from "./scheduler.ts";
import { StageRunner, type TaskInput, type TaskOutput } from "./task.ts";

/** How the job reaches the outside world: the driver and the other executors. */
export interface JobPorts {
  readonly id: ExecutorId;
  readonly job: JobId;
  toDriver(m: ExecutorEvent): void;
  toPeer(e: ExecutorId, m: PeerMessage): void;
  /** Forget an executor for good: close its connections, ignore what it still sends. */
  dropPeer(e: ExecutorId): void;
  setPeers(peers: StartJob["peers"]): void;
}

type SourceInput = {
  kind: "source";
  data: Uint8Array;
  header?: string[];
  time: number;
  gen?: { start: number; count: number; startTimeMs: number };
};
/** One upstream task's block for a reduce task, with the batch facts it carries. */
type BlockInput = { records: unknown[]; time: number; maxTime: number | null };
type Input = SourceInput | BlockInput;

interface Output {
  blocks: unknown[][];
  final: boolean;
  time: number;
  maxTime: number | null;
}

/** How long a burst of task runs may hold the event loop before letting I/O in. */
const SLICE_MS = 10;

const laneKey = (s: number, p: number) => `${s}:${p}`;

/**
 * One attempt of a job on this executor: its plan, the tasks it owns, its keyed state and the
 * map output it keeps. A restart (higher attempt) replaces the whole object, so nothing of an
 * abandoned attempt can leak into the next one.
 */
export class JobRun {
  readonly attempt: number;
  readonly plan: PhysicalPlan;
  readonly mode: "drizzle" | "bsp";
  readonly #ports: JobPorts;
  readonly #runners: StageRunner[];
  readonly #sched = new LocalScheduler<Input>();
  #placement: Placement = [];
  /** Groups announced by RunGroup: first batch -> last batch. */
  #groups = new Map<number, { first: number; last: number }>();
  /** Last batch of each group, for snapshots at group ends. */
  #groupEnds = new Set<number>();
  /** Highest batch any RunGroup covered. */
  #lastAnnounced = -1;
  /** Map outputs kept until a checkpoint covers their batch: batch -> "stage:partition" -> output. */
  #outputs = new Map<number, Map<string, Output>>();
  /** bsp: reduce tasks waiting for map output locations, by "batch:stage". */
  #awaitingLocations = new Map<string, number[]>();
  /** Rejections per task not yet reported: "batch:stage:partition" -> per step counts. */
  #rejected: Rejections = {};
  #timings = { compute: 0, shuffle: 0, coord: 0 };
  #pumping = false;
  #stopped = false;
  #finalBatch = Infinity;
  /** First batch of this attempt: lanes start here. */
  readonly #from: number;

  constructor(ports: JobPorts, start: StartJob) {
    this.#ports = ports;
    this.attempt = start.attempt;
    this.plan = start.plan as PhysicalPlan;
    this.mode = start.mode;
    ports.setPeers(start.peers);
    const keep = this.plan.deadLetter !== undefined;
    this.#runners = this.plan.stages.map((_, i) => new StageRunner(this.plan, i, new Rejects(keep)));
    this.#placement = start.placement;
    for (const l of start.restore) this.#restore(l);
    this.#from = start.from;
  }

  stop(): void {
    this.#stopped = true;
    this.#sched.clear();
  }

  /** Rejections not yet reported (sent with GroupCompleted, TaskFinished, ExecutorStopped). */
  takeRejected(): Rejections {
    const r = this.#rejected;
    this.#rejected = {};
    return r;
  }

  onCommand(m: DriverCommand): void {
    switch (m.type) {
      case "RunGroup":
        this.#placement = m.placement;
        this.#release(m.releaseBefore);
        this.#runGroup(m.group, m.first, m.count);
        break;
      case "InputChunk":
        this.#sched.arrive(
          m.batch,
          0,
          m.partition,
          { kind: "source", data: m.data, header: m.header, time: m.time, gen: m.gen },
          m.final,
        );
        this.#pump();
        break;
      case "LaunchTask":
        this.#release(m.releaseBefore);
        this.#launch(m.batch, m.stage, m.partition, m.final);
        break;
      case "MapOutputs":
        this.#fetch(m.batch, m.stage, m.locations);
        break;
      case "Checkpoint":
        this.#snapshotAll(m.batch);
        break;
      case "EndGroup":
        this.#endGroup(m.group, m.last);
        break;
      case "Recover":
        this.#recover(m);
        break;
    }
  }

  onPeer(m: PeerMessage, reply: (m: PeerMessage) => void): void {
    switch (m.type) {
      case "ShuffleBlocks":
        this.#deliver(m.batch, m.stage, m.from, m.blocks, m.final, m.time, m.maxTime);
        break;
      case "FetchBlocks":
        this.#serveFetch(m.batch, m.stage, m.partitions, (from, out, blocks) =>
          reply({
            type: "BlocksFetched",
            job: this.#ports.job,
            attempt: this.attempt,
            batch: m.batch,
            stage: m.stage,
            from,
            time: out.time,
            maxTime: out.maxTime,
            blocks,
          }));
        break;
      case "BlocksFetched":
        this.#deliver(m.batch, m.stage + 1, m.from, m.blocks, false, m.time, m.maxTime);
        break;
    }
  }

  #neededFor(stage: number): number {
    return stage === 0 ? 1 : this.plan.stages[stage - 1].partitions;
  }

  #isStateful(stage: number): boolean {
    return isStateful(this.plan.stages[stage]);
  }

  #restore(l: LaneState): void {
    this.#runners[l.stage].state(l.partition)?.restore(l.state as never);
  }

  #runGroup(group: number, first: number, count: number): void {
    const t0 = performance.now();
    const last = first + count - 1;
    this.#groups.set(group, { first, last });
    this.#groupEnds.add(last);
    this.#lastAnnounced = Math.max(this.#lastAnnounced, last);
    this.#forOwnedLanes((s, p) => {
      if (this.#sched.nextOf(s, p) === undefined) this.#sched.startLane(s, p, Math.max(first, this.#from));
      for (let b = Math.max(first, this.#from); b <= last; b++) this.#sched.expect(b, s, p, this.#neededFor(s));
    });
    this.#timings.coord += performance.now() - t0;
    this.#checkGroups();
    this.#pump();
  }

  #forOwnedLanes(f: (stage: number, partition: number) => void): void {
    this.#placement.forEach((parts, s) => parts.forEach((owner, p) => owner === this.#ports.id && f(s, p)));
  }

  #launch(batch: number, stage: number, partition: number, final: boolean): void {
    if (this.#sched.nextOf(stage, partition) === undefined || this.#sched.nextOf(stage, partition)! < batch) {
      // bsp runs one batch at a time: a lane's next batch is whatever the driver launches.
      this.#sched.startLane(stage, partition, batch);
    }
    this.#sched.expect(batch, stage, partition, this.#neededFor(stage), final);
    if (stage > 0) {
      // Ask the driver where the map outputs are, once per shuffle and executor.
      const k = `${batch}:${stage - 1}`;
      const waiting = this.#awaitingLocations.get(k);
      if (waiting) waiting.push(partition);
      else {
        this.#awaitingLocations.set(k, [partition]);
        this.#ports.toDriver({
          type: "GetMapOutputs",
          job: this.#ports.job,
          attempt: this.attempt,
          batch,
          stage: stage - 1,
        });
      }
    }
    this.#pump();
  }

  /** bsp: fetch the blocks of the waiting reduce partitions from every map executor. */
  #fetch(batch: number, mapStage: number, locations: ExecutorId[]): void {
    const k = `${batch}:${mapStage}`;
    const partitions = this.#awaitingLocations.get(k) ?? [];
    this.#awaitingLocations.delete(k);
    for (const e of new Set(locations)) {
      if (e === this.#ports.id) {
        this.#serveFetch(
          batch,
          mapStage,
          partitions,
          (from, out, blocks) => this.#deliver(batch, mapStage + 1, from, blocks, false, out.time, out.maxTime),
        );
      } else {
        this.#ports.toPeer(e, {
          type: "FetchBlocks",
          job: this.#ports.job,
          attempt: this.attempt,
          batch,
          stage: mapStage,
          partitions,
        });
      }
    }
  }

  #serveFetch(
    batch: number,
    stage: number,
    partitions: number[],
    reply: (from: number, out: Output, blocks: Block[]) => void,
  ): void {
    const outs = this.#outputs.get(batch);
    if (!outs) return;
    for (const [k, out] of outs) {
      const [s, from] = k.split(":").map(Number);
      if (s !== stage) continue;
      reply(from, out, partitions.map((p) => ({ partition: p, records: out.blocks[p] })));
    }
  }

  #deliver(
    batch: number,
    stage: number,
    from: number,
    blocks: Block[],
    final: boolean,
    time: number,
    maxTime: number | null,
  ): void {
    for (const b of blocks) {
      const input: BlockInput = { records: b.records, time, maxTime };
      this.#sched.arrive(batch, stage, b.partition, input, final, from);
    }
    this.#pump();
  }

  #pump(): void {
    if (this.#pumping || this.#stopped || !this.#sched.hasReady) return;
    this.#pumping = true;
    setImmediate(() => this.#runReady());
  }

  #runReady(): void {
    const start = performance.now();
    for (;;) {
      if (this.#stopped) return;
      const t = this.#sched.take();
      if (!t) break;
      this.#runTask(t.batch, t.stage, t.partition, t.inputs, t.final);
      if (performance.now() - start > SLICE_MS) break;
    }
    this.#pumping = false;
    this.#pump();
  }

  #runTask(batch: number, stage: number, partition: number, inputs: Input[], final: boolean): void {
    const { job } = this.#ports;
    const attempt = this.attempt;
    const runner = this.#runners[stage];
    const t0 = performance.now();
    let out: TaskOutput;
    let input: TaskInput;
    try {
      input = stage === 0 ? (inputs[0] as SourceInput) : shuffleInput(inputs as BlockInput[]);
      out = runner.run(partition, input, final);
    } catch (e) {
      this.#ports.toDriver({
        type: "TaskFailed",
        job,
        attempt,
        executor: this.#ports.id,
        batch,
        stage,
        partition,
        error: (e as Error).stack ?? String(e),
      });
      return;
    }
    if (runner.rejects.kept.length > 0) {
      const records = runner.rejects.kept.splice(0);
      this.#ports.toDriver({ type: "DeadLetters", job, attempt, batch, stage, partition, records });
    }
    if (runner.rejects.total > 0) this.#rejected[`${batch}:${stage}:${partition}`] = runner.rejects.take();
    const t1 = performance.now();
    this.#timings.compute += t1 - t0;
    this.#sched.done({ batch, stage, partition, final });
    if (final) this.#finalBatch = Math.min(this.#finalBatch, batch);
    if (out.kind === "sink") {
      this.#ports.toDriver({ type: "SinkData", job, attempt, batch, partition, data: out.data, records: out.records });
    } else {
      const kept: Output = { blocks: out.blocks, final, time: input.time, maxTime: out.maxTime };
      this.#keep(batch, stage, partition, kept);
      if (this.mode === "drizzle") this.#push(batch, stage + 1, partition, kept, null);
    }
    this.#timings.shuffle += performance.now() - t1;
    if (this.mode === "bsp") {
      const sizes = out.kind === "shuffle" ? out.blocks.map((b) => b.length) : [out.records];
      this.#ports.toDriver({
        type: "TaskFinished",
        job,
        attempt,
        executor: this.#ports.id,
        batch,
        stage,
        partition,
        sizes,
        rejected: this.takeRejected(),
      });
      return;
    }
    if (this.#isStateful(stage) && this.#groupEnds.has(batch) && !final) this.#snapshot(stage, partition, batch);
    this.#checkGroups();
  }

  #snapshot(stage: number, partition: number, batch: number): void {
    const t0 = performance.now();
    this.#ports.toDriver({
      type: "StateSnapshot",
      job: this.#ports.job,
      attempt: this.attempt,
      executor: this.#ports.id,
      stage,
      partition,
      batch,
      state: this.#runners[stage].state(partition)!.snapshot(),
    });
    this.#timings.coord += performance.now() - t0;
  }

  /** bsp: the driver checkpoints between batches; every stateful lane here reports. */
  #snapshotAll(batch: number): void {
    this.#forOwnedLanes((s, p) => this.#isStateful(s) && this.#snapshot(s, p, batch));
  }

  /**
   * The group ends at `last`: later batches of it will never come. A lane already past `last`
   * is exactly at it (nothing later exists), so it snapshots now; the others will at `last`.
   */
  #endGroup(group: number, last: number): void {
    const g = this.#groups.get(group);
    if (g) g.last = Math.min(g.last, last);
    this.#groupEnds.add(last);
    this.#sched.dropAfter(last);
    this.#lastAnnounced = Math.min(this.#lastAnnounced, last);
    this.#forOwnedLanes((s, p) => {
      if (this.#isStateful(s) && this.#sched.nextOf(s, p) === last + 1) this.#snapshot(s, p, last);
    });
    this.#checkGroups();
  }

  /** Reports every group whose tasks on this executor have all run. */
  #checkGroups(): void {
    for (const [g, st] of this.#groups) {
      let done = true;
      this.#forOwnedLanes((s, p) => {
        const next = this.#sched.nextOf(s, p) ?? -1;
        if (next <= Math.min(st.last, this.#finalBatch)) done = false;
      });
      if (!done) continue;
      this.#groups.delete(g);
      this.#ports.toDriver({
        type: "GroupCompleted",
        job: this.#ports.job,
        attempt: this.attempt,
        executor: this.#ports.id,
        group: g,
        last: Math.min(st.last, this.#finalBatch),
        timings: { ...this.#timings },
        rejected: this.takeRejected(),
      });
      this.#timings = { compute: 0, shuffle: 0, coord: 0 };
    }
  }

  /** Keeps a map task's output until a checkpoint covers its batch (bsp fetches, recovery). */
  #keep(batch: number, stage: number, partition: number, out: Output): void {
    let m = this.#outputs.get(batch);
    if (!m) this.#outputs.set(batch, m = new Map());
    m.set(laneKey(stage, partition), out);
  }

  #release(before: number): void {
    for (const b of this.#outputs.keys()) if (b < before) this.#outputs.delete(b);
  }

  /**
   * drizzle: sends each reduce partition its block, one message per owning executor. With
   * `only`, sends just the blocks of those partitions (re-sending after a recovery).
   */
  #push(batch: number, stage: number, from: number, out: Output, only: Set<number> | null): void {
    const { blocks, final, time, maxTime } = out;
    const owners = this.#placement[stage];
    const byExecutor = new Map<number, Block[]>();
    for (let p = 0; p < blocks.length; p++) {
      if (only && !only.has(p)) continue;
      const e = owners[p];
      let list = byExecutor.get(e);
      if (!list) byExecutor.set(e, list = []);
      list.push({ partition: p, records: blocks[p] });
    }
    for (const [e, list] of byExecutor) {
      if (e === this.#ports.id) this.#deliver(batch, stage, from, list, final, time, maxTime);
      else {
        this.#ports.toPeer(e as ExecutorId, {
          type: "ShuffleBlocks",
          job: this.#ports.job,
          attempt: this.attempt,
          batch,
          stage,
          from,
          final,
          time,
          maxTime,
          blocks: list,
        });
      }
    }
  }

  /**
   * drizzle, partial recovery and rebalancing: adopt the lanes that moved here (state restored,
   * re-run from `from`), drop the lanes that moved away, and re-send the kept map output that
   * the moved lanes need. Lanes that stayed put keep their state and carry on; whatever they
   * receive twice is ignored by the scheduler.
   */
  #recover(m: Recover): void {
    for (const e of m.lost) this.#ports.dropPeer(e as ExecutorId);
    this.#ports.setPeers(m.peers);
    const old = this.#placement;
    this.#placement = m.placement;
    const moved = m.placement.map((parts, s) =>
      new Set(parts.flatMap((owner, p) => (old[s]?.[p] !== owner ? [p] : [])))
    );
    const restore = new Map(m.restore.map((l) => [laneKey(l.stage, l.partition), l]));
    // Lanes that moved away (to a new executor) stop here; their new owner re-runs them.
    old.forEach((parts, s) =>
      parts.forEach((owner, p) => {
        if (owner === this.#ports.id && m.placement[s][p] !== owner) this.#sched.dropLane(s, p);
      })
    );
    this.#forOwnedLanes((s, p) => {
      if (!moved[s].has(p)) return;
      const state = this.#runners[s].state(p);
      if (state) {
        const l = restore.get(laneKey(s, p));
        state.restore((l?.state ?? []) as never);
      }
      this.#sched.startLane(s, p, m.from);
      for (let b = m.from; b <= this.#lastAnnounced; b++) this.#sched.expect(b, s, p, this.#neededFor(s));
    });
    for (const [batch, outs] of this.#outputs) {
      if (batch < m.from) continue;
      for (const [k, out] of outs) {
        const [s, from] = k.split(":").map(Number);
        if (moved[s + 1]?.size) this.#push(batch, s + 1, from, out, moved[s + 1]);
      }
    }
    this.#checkGroups();
    this.#pump();
  }
}

/** The input of a reduce task: every upstream block, and the batch facts they carry. */
function shuffleInput(inputs: BlockInput[]): TaskInput {
  let time = 0;
  let maxTime: number | null = null;
  for (const i of inputs) {
    if (i.time > time) time = i.time;
    if (i.maxTime !== null && (maxTime === null || i.maxTime > maxTime)) maxTime = i.maxTime;
  }
  return { kind: "shuffle", blocks: inputs.map((i) => i.records), time, maxTime };
}
