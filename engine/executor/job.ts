import { isStateful, type PhysicalPlan, type StagePlan } from "../plan/plan.ts";
import { Rejects } from "../ops/reject.ts";
import {
  decodeState,
  type DriverCommand,
  encodeState,
  type ExecutorEvent,
  type ExecutorId,
  type InputChunk,
  type JobId,
  type LaneState,
  type PeerMessage,
  type Placement,
  type Recover,
  type Rejections,
  type ShuffleOutput,
  type SinkPart,
  type StartJob,
} from "../wire/mod.ts";
import { KeptOutputs, Outbox, type Output, type Targets } from "./map_outputs.ts";
import { bitSet, LocalScheduler } from "./scheduler.ts";
import { StageRunner, type TaskInput, type TaskOutput } from "./task.ts";
import { quietPoint } from "../runtime/mod.ts";

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
/**
 * What a task gathers before it runs: its source chunk (stage 0), or the non-empty blocks of its
 * upstream tasks and the batch facts all of them carry (empty blocks add only those).
 */
interface Gathered {
  source: SourceInput | null;
  blocks: unknown[][];
  time: number;
  maxTime: number | null;
}

const NO_BYTES = new Uint8Array(0);

const gathering = (): Gathered => ({ source: null, blocks: [], time: 0, maxTime: null });

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
  readonly #sched = new LocalScheduler<Gathered>(gathering);
  #placement: Placement = [];
  /** The lanes this executor owns under #placement. */
  #owned: Array<{ stage: number; partition: number }> = [];
  /** Per stage, the owners of its partitions under #placement (to address map output). */
  #targets: Targets[] = [];
  /** Sink output not yet sent: it goes with the next message to the driver, or after the burst. */
  #sinkParts: SinkPart[] = [];
  #sinkEmpty = new Map<number, number[]>();
  /** Per stage, the output of an idle task. */
  #noOutput: TaskOutput[] = [];
  /** drizzle: map output not yet sent, by destination executor; sent after each burst of tasks. */
  #outbox = new Outbox();
  /** Groups announced by RunGroup: first batch -> last batch. */
  #groups = new Map<number, { first: number; last: number }>();
  /** Last batch of each group, for snapshots at group ends. */
  #groupEnds = new Set<number>();
  /** Highest batch any RunGroup covered. */
  #lastAnnounced = -1;
  /** Map outputs kept until a checkpoint covers their batch (bsp fetches, recovery). */
  #outputs = new KeptOutputs();
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
    this.#setPlacement(start.placement);
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
        this.#setPlacement(m.placement);
        this.#outputs.release(m.releaseBefore);
        this.#runGroup(m.group, m.first, m.count);
        break;
      case "InputChunk":
        for (const c of m.chunks) this.#source(m, c.partition, c.data, c.gen);
        for (const p of m.empty) this.#source(m, p, NO_BYTES, undefined);
        this.#pump();
        break;
      case "LaunchTask":
        this.#outputs.release(m.releaseBefore);
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
      case "BlocksFetched":
        for (const o of m.outputs) this.#deliver(o);
        this.#pump();
        break;
      case "FetchBlocks": {
        const outputs = this.#serveFetch(m.batch, m.stage, m.partitions);
        if (outputs.length > 0) reply({ type: "BlocksFetched", job: this.#ports.job, attempt: this.attempt, outputs });
        break;
      }
    }
  }

  /** A first-stage task's input arrived (its only one). */
  #source(m: InputChunk, partition: number, data: Uint8Array, gen: SourceInput["gen"]): void {
    if (data.length === 0 && gen === undefined && this.#runIdleNow(m.batch, 0, partition, m.final, m.time)) return;
    const g = this.#sched.arrive(m.batch, 0, partition, 0, m.final);
    if (g) g.source = { kind: "source", data, header: m.header, time: m.time, gen };
  }

  #neededFor(stage: number): number {
    return stage === 0 ? 1 : this.plan.stages[stage - 1].partitions;
  }

  #isStateful(stage: number): boolean {
    return isStateful(this.plan.stages[stage]);
  }

  #restore(l: LaneState): void {
    this.#runners[l.stage].state(l.partition)?.restore(decodeState(l.state) as never);
  }

  #runGroup(group: number, first: number, count: number): void {
    const t0 = performance.now();
    const last = first + count - 1;
    this.#groups.set(group, { first, last });
    this.#groupEnds.add(last);
    this.#lastAnnounced = Math.max(this.#lastAnnounced, last);
    this.#forOwnedLanes((s, p) => {
      if (this.#sched.nextOf(s, p) === undefined) this.#sched.startLane(s, p, Math.max(first, this.#from));
      this.#sched.expectThrough(s, p, last, this.#neededFor(s));
    });
    this.#timings.coord += performance.now() - t0;
    this.#checkGroups();
    this.#pump();
  }

  #forOwnedLanes(f: (stage: number, partition: number) => void): void {
    for (const l of this.#owned) f(l.stage, l.partition);
  }

  /** Adopts a placement, and works out once what the per-task paths need of it. */
  #setPlacement(placement: Placement): void {
    this.#placement = placement;
    this.#owned = [];
    this.#targets = placement.map((owners, s) => {
      const byExecutor = new Map<ExecutorId, number[]>();
      owners.forEach((e, p) => {
        if (e === this.#ports.id) this.#owned.push({ stage: s, partition: p });
        let list = byExecutor.get(e);
        if (!list) byExecutor.set(e, list = []);
        list.push(p);
      });
      return [...byExecutor].map(([executor, partitions]) => ({ executor, partitions }));
    });
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
        this.#toDriver({
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
        for (const o of this.#serveFetch(batch, mapStage, partitions)) this.#deliver(o);
        this.#pump();
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

  /** bsp: the kept output of map stage `stage` of a batch for the given reduce partitions. */
  #serveFetch(batch: number, stage: number, partitions: number[]): ShuffleOutput[] {
    return this.#outputs.serve(batch, stage, partitions);
  }

  /**
   * Hands map output to the reduce tasks it is for. Non-empty blocks go first, one by one, so
   * that a (from, partition) pair heard before (a re-send after a recovery) adds no records;
   * then every partition hears all the map tasks at once (bits already set count no more).
   * The caller pumps.
   */
  #deliver(o: ShuffleOutput): void {
    const { batch, stage, final } = o;
    for (const b of o.blocks) {
      const g = this.#sched.arrive(batch, stage, b.partition, b.from, final);
      if (g) {
        addFacts(g, o);
        g.blocks.push(b.records);
      }
    }
    const froms = bitSet(o.froms);
    for (const p of o.partitions) {
      const g = this.#sched.arriveAll(batch, stage, p, froms, final);
      if (g) addFacts(g, o);
    }
  }

  /**
   * drizzle: runs an idle task whose only input is arriving now, when its lane is at its batch,
   * without queueing it: it produces nothing and changes nothing, so only its lane's progress
   * and its (empty) output are recorded. False when the task has to go through the scheduler.
   */
  #runIdleNow(batch: number, stage: number, partition: number, final: boolean, time: number): boolean {
    if (this.mode !== "drizzle" || this.#stopped || final || this.plan.stages[stage].window !== undefined) return false;
    if (!this.#sched.runAtOnce(batch, stage, partition)) return false;
    this.#finished(batch, stage, partition, final, this.#nothing(stage), time);
    return true;
  }

  /** Something to do after the current event: ready tasks, or output to send. */
  get #busy(): boolean {
    return this.#sched.hasReady || !this.#outbox.empty || this.#sinkParts.length > 0 || this.#sinkEmpty.size > 0;
  }

  #pump(): void {
    if (this.#pumping || this.#stopped || !this.#busy) return;
    this.#pumping = true;
    setImmediate(() => this.#runReady());
  }

  #runReady(): void {
    const start = performance.now();
    for (;;) {
      if (this.#stopped) return;
      const t = this.#sched.take();
      if (!t) break;
      this.#runTask(t.batch, t.stage, t.partition, t.input, t.final);
      if (performance.now() - start > SLICE_MS) break;
    }
    this.#flush();
    if (this.mode === "drizzle") this.#checkGroups();
    this.#flushSink();
    quietPoint();
    this.#pumping = false;
    this.#pump();
  }

  #runTask(batch: number, stage: number, partition: number, gathered: Gathered, final: boolean): void {
    const { job } = this.#ports;
    const attempt = this.attempt;
    const runner = this.#runners[stage];
    const input: TaskInput = stage === 0
      ? gathered.source!
      : { kind: "shuffle", blocks: gathered.blocks, time: gathered.time, maxTime: gathered.maxTime };
    if (idle(this.plan.stages[stage], input, final)) {
      this.#sched.done({ batch, stage, partition, final });
      this.#finished(batch, stage, partition, final, this.#nothing(stage), input.time);
      return;
    }
    const t0 = performance.now();
    let out: TaskOutput;
    try {
      out = runner.run(partition, input, final);
    } catch (e) {
      this.#toDriver({
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
      this.#toDriver({ type: "DeadLetters", job, attempt, batch, stage, partition, records });
    }
    if (runner.rejects.total > 0) this.#rejected[`${batch}:${stage}:${partition}`] = runner.rejects.take();
    const t1 = performance.now();
    this.#timings.compute += t1 - t0;
    this.#sched.done({ batch, stage, partition, final });
    this.#finished(batch, stage, partition, final, out, input.time);
    this.#timings.shuffle += performance.now() - t1;
  }

  /** After a task ran (its lane already moved on): hands its output on and reports it. */
  #finished(batch: number, stage: number, partition: number, final: boolean, out: TaskOutput, time: number): void {
    if (final) this.#finalBatch = Math.min(this.#finalBatch, batch);
    if (out.kind === "sink") {
      this.#sinkPart(batch, partition, out.data, out.records);
    } else {
      const kept: Output = {
        stage,
        from: partition,
        blocks: out.blocks,
        empty: out.records === 0,
        final,
        time,
        maxTime: out.maxTime,
      };
      this.#outputs.keep(batch, kept);
      if (this.mode === "drizzle") this.#outbox.add(this.#targets[kept.stage + 1], batch, kept, null);
    }
    if (this.mode === "bsp") {
      const { job } = this.#ports;
      const attempt = this.attempt;
      const sizes = out.kind === "shuffle" ? out.blocks.map((b) => b.length) : [out.records];
      this.#toDriver({
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
  }

  #sinkPart(batch: number, partition: number, data: Uint8Array, records: number): void {
    if (data.length > 0 || records > 0) {
      this.#sinkParts.push({ batch, partition, data, records });
      return;
    }
    const empty = this.#sinkEmpty.get(batch);
    if (empty) empty.push(partition);
    else this.#sinkEmpty.set(batch, [partition]);
  }

  /** Sends to the driver, after the sink output queued so far (the driver relies on that order). */
  #toDriver(m: ExecutorEvent): void {
    this.#flushSink();
    this.#ports.toDriver(m);
  }

  #flushSink(): void {
    if (this.#sinkParts.length === 0 && this.#sinkEmpty.size === 0) return;
    const parts = this.#sinkParts;
    const empty = [...this.#sinkEmpty].map(([batch, partitions]) => ({ batch, partitions }));
    this.#sinkParts = [];
    this.#sinkEmpty.clear();
    this.#ports.toDriver({ type: "SinkData", job: this.#ports.job, attempt: this.attempt, parts, empty });
  }

  /**
   * What an idle task of a stage produces: nothing, in the shape its stage's output has. One
   * shared output per stage: an idle output is never handed to a task or changed.
   */
  #nothing(stage: number): TaskOutput {
    return this.#noOutput[stage] ??= this.plan.stages[stage].output.kind === "sink"
      ? { kind: "sink", data: NO_BYTES, records: 0 }
      : {
        kind: "shuffle",
        blocks: Array.from({ length: this.plan.stages[stage + 1].partitions }, () => []),
        records: 0,
        maxTime: null,
      };
  }

  #snapshot(stage: number, partition: number, batch: number): void {
    const t0 = performance.now();
    this.#toDriver({
      type: "StateSnapshot",
      job: this.#ports.job,
      attempt: this.attempt,
      executor: this.#ports.id,
      stage,
      partition,
      batch,
      state: encodeState(this.#runners[stage].state(partition)!.snapshot()),
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
      const last = Math.min(st.last, this.#finalBatch);
      if (this.#owned.some((l) => (this.#sched.nextOf(l.stage, l.partition) ?? -1) <= last)) continue;
      this.#groups.delete(g);
      this.#toDriver({
        type: "GroupCompleted",
        job: this.#ports.job,
        attempt: this.attempt,
        executor: this.#ports.id,
        group: g,
        last,
        timings: { ...this.#timings },
        rejected: this.takeRejected(),
      });
      this.#timings = { compute: 0, shuffle: 0, coord: 0 };
    }
  }

  /** Sends the queued map output: one message per executor; this executor's own is delivered here. */
  #flush(): void {
    if (this.#outbox.empty) return;
    const t0 = performance.now();
    const box = this.#outbox.take();
    let local: ShuffleOutput[] | undefined;
    for (const [e, outputs] of box) {
      if (e === this.#ports.id) local = outputs;
      else this.#ports.toPeer(e, { type: "ShuffleBlocks", job: this.#ports.job, attempt: this.attempt, outputs });
    }
    for (const o of local ?? []) this.#deliver(o);
    this.#timings.shuffle += performance.now() - t0;
    this.#pump();
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
    // Output of tasks that ran before the new placement is addressed again below.
    this.#flush();
    const old = this.#placement;
    this.#setPlacement(m.placement);
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
        state.restore((l ? decodeState(l.state) : []) as never);
      }
      this.#sched.startLane(s, p, m.from);
      this.#sched.expectThrough(s, p, this.#lastAnnounced, this.#neededFor(s));
    });
    for (const [batch, out] of this.#outputs.since(m.from)) {
      const only = moved[out.stage + 1];
      if (only?.size) this.#outbox.add(this.#targets[out.stage + 1], batch, out, only);
    }
    this.#flush();
    this.#checkGroups();
    this.#pump();
  }
}

/**
 * True when a task has nothing to do: no record reaches it (no source bytes, or no non-empty
 * upstream block), and its stage neither holds windows (a watermark can close one without new
 * records) nor has to emit at the end of the input. Every step runs per record and keyed state
 * changes only by records, so running it would emit nothing and change nothing.
 */
function idle(stage: StagePlan, input: TaskInput, final: boolean): boolean {
  if (final || stage.window !== undefined) return false;
  if (input.kind === "source") return input.data.length === 0 && input.gen === undefined;
  return input.blocks.length === 0;
}

/** The batch facts a reduce task takes from each upstream task: the latest times. */
function addFacts(g: Gathered, o: ShuffleOutput): void {
  if (o.time > g.time) g.time = o.time;
  if (o.maxTime !== null && (g.maxTime === null || o.maxTime > g.maxTime)) g.maxTime = o.maxTime;
}
