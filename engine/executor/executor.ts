import type { PhysicalPlan } from "../plan/plan.ts";
import { Rejects } from "../ops/reject.ts";
import { log } from "../log.ts";
import {
  type Block,
  connect,
  type Connection,
  type DriverCommand,
  type ExecutorId,
  isCurrent,
  type JobId,
  listen,
  type Listener,
  type Message,
  type PeerMessage,
  type Placement,
} from "../wire/mod.ts";
import { LocalScheduler } from "./scheduler.ts";
import { StageRunner, type TaskInput, type TaskOutput } from "./task.ts";

export interface ExecutorOptions {
  id: ExecutorId;
  job: JobId;
  secret: string;
  driverHost: string;
  driverPort: number;
  /** Address to listen on for peers (loopback in local mode). */
  listenHost: string;
  /** Address peers should use to reach this executor (default: listenHost). */
  advertiseHost?: string;
}

type Input = { kind: "source"; data: Uint8Array; header?: string[] } | unknown[];

interface GroupState {
  first: number;
  last: number;
  remaining: number;
}

/** How long a burst of task runs may hold the event loop before letting I/O in. */
const SLICE_MS = 10;

/**
 * One executor: runs the tasks the driver assigns, in the order its local scheduler allows,
 * and moves shuffle data to and from its peers. In drizzle mode map output is pushed to the
 * reducers' executors as soon as it exists; in bsp mode it is stored here until fetched.
 */
export class Executor {
  readonly id: ExecutorId;
  readonly #opts: ExecutorOptions;
  #driver!: Connection;
  #listener!: Listener;
  #attempt = 0;
  #plan: PhysicalPlan | null = null;
  #mode: "drizzle" | "bsp" = "drizzle";
  #runners: StageRunner[] = [];
  #placement: Placement = [];
  #peerAddr = new Map<number, { host: string; port: number }>();
  #peers = new Map<number, Promise<Connection>>();
  #incoming = new Set<Connection>();
  readonly #sched = new LocalScheduler<Input>();
  readonly #rejects = new Rejects();
  #groups = new Map<number, GroupState>();
  /** Map outputs kept until the driver says their batch committed: batch -> "stage:partition" -> blocks. */
  #outputs = new Map<number, Map<string, unknown[][]>>();
  /** bsp: reduce tasks waiting for map output locations, by "batch:stage". */
  #awaitingLocations = new Map<string, number[]>();
  #pumping = false;
  #timings = { compute: 0, shuffle: 0, tasks: 0 };
  #stopped = false;
  #resolveDone!: () => void;
  /** Resolves when the executor has shut down. */
  readonly done: Promise<void>;

  private constructor(opts: ExecutorOptions) {
    this.id = opts.id;
    this.#opts = opts;
    this.done = new Promise((r) => (this.#resolveDone = r));
  }

  static async start(opts: ExecutorOptions): Promise<Executor> {
    const ex = new Executor(opts);
    await ex.#connect();
    return ex;
  }

  async #connect(): Promise<void> {
    const o = this.#opts;
    this.#listener = await listen(o.listenHost, 0, {
      secret: o.secret,
      onConnection: (c) => {
        this.#incoming.add(c);
        c.onMessage = (m) => this.#onPeer(c, m);
        c.onClose = () => this.#incoming.delete(c);
      },
      onRefused: (reason) => log.warn(reason),
    });
    try {
      this.#driver = await connect(o.driverHost, o.driverPort, o.id, { secret: o.secret });
    } catch (e) {
      await this.#listener.close();
      throw e;
    }
    this.#driver.onMessage = (m) => this.#onDriver(m as DriverCommand);
    this.#driver.onClose = (reason) => {
      if (!this.#stopped) log.warn(`lost the driver${reason ? `: ${reason}` : ""}; exiting`);
      void this.stop();
    };
    this.#driver.send({
      type: "ExecutorRegistered",
      job: o.job,
      attempt: this.#attempt,
      executor: o.id,
      host: o.advertiseHost ?? o.listenHost,
      port: this.#listener.port,
      pid: process.pid,
    });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#sched.clear();
    for (const p of this.#peers.values()) p.then((c) => c.close(), () => {});
    for (const c of this.#incoming) c.close();
    this.#driver?.close();
    await this.#listener?.close();
    this.#resolveDone();
  }

  #onDriver(m: DriverCommand): void {
    if (m.type === "StartJob") {
      this.#attempt = m.attempt;
      this.#plan = m.plan as PhysicalPlan;
      this.#mode = m.mode;
      this.#runners = this.#plan.stages.map((_, i) => new StageRunner(this.#plan!, i, this.#rejects));
      for (const p of m.peers) this.#peerAddr.set(p.executor, { host: p.host, port: p.port });
      return;
    }
    if (!isCurrent(m, this.#opts.job, this.#attempt)) return;
    switch (m.type) {
      case "RunGroup":
        this.#runGroup(m.group, m.first, m.count, m.placement);
        this.#release(m.releaseBefore);
        break;
      case "InputChunk":
        this.#sched.arrive(m.batch, 0, m.partition, { kind: "source", data: m.data, header: m.header }, m.final);
        this.#pump();
        break;
      case "LaunchTask":
        this.#launch(m.batch, m.stage, m.partition, m.final);
        this.#release(m.releaseBefore);
        break;
      case "MapOutputs":
        this.#fetch(m.batch, m.stage, m.locations);
        break;
      case "Shutdown":
        this.#driver.send({
          type: "ExecutorStopped",
          job: this.#opts.job,
          attempt: this.#attempt,
          executor: this.id,
          rejected: this.#rejects.take(),
        });
        void this.#driver.drained().then(() => this.stop());
        break;
    }
  }

  #runGroup(group: number, first: number, count: number, placement: Placement): void {
    this.#placement = placement;
    const stages = this.#plan!.stages;
    let owned = 0;
    for (let b = first; b < first + count; b++) {
      for (let s = 0; s < stages.length; s++) {
        for (let p = 0; p < stages[s].partitions; p++) {
          if (placement[s][p] !== this.id) continue;
          this.#sched.expect(b, s, p, s === 0 ? 1 : stages[s - 1].partitions);
          owned++;
        }
      }
    }
    this.#groups.set(group, { first, last: first + count - 1, remaining: owned });
    if (owned === 0) this.#groupDone(group);
    this.#pump();
  }

  #launch(batch: number, stage: number, partition: number, final: boolean): void {
    const stages = this.#plan!.stages;
    if (stage === 0) {
      this.#sched.expect(batch, 0, partition, 1, final);
      this.#pump();
      return;
    }
    this.#sched.expect(batch, stage, partition, stages[stage - 1].partitions, final);
    // Ask the driver where the map outputs are, once per shuffle and executor.
    const k = `${batch}:${stage - 1}`;
    const waiting = this.#awaitingLocations.get(k);
    if (waiting) {
      waiting.push(partition);
      return;
    }
    this.#awaitingLocations.set(k, [partition]);
    this.#driver.send({ type: "GetMapOutputs", job: this.#opts.job, attempt: this.#attempt, batch, stage: stage - 1 });
  }

  /** bsp: fetch the blocks of the waiting reduce partitions from every map executor. */
  #fetch(batch: number, mapStage: number, locations: ExecutorId[]): void {
    const k = `${batch}:${mapStage}`;
    const partitions = this.#awaitingLocations.get(k) ?? [];
    this.#awaitingLocations.delete(k);
    const holders = new Set(locations);
    for (const e of holders) {
      if (e === this.id) {
        this.#serveFetch(
          batch,
          mapStage,
          partitions,
          (_from, blocks) => this.#deliver(batch, mapStage + 1, blocks, false),
        );
        continue;
      }
      this.#sendPeer(e, {
        type: "FetchBlocks",
        job: this.#opts.job,
        attempt: this.#attempt,
        batch,
        stage: mapStage,
        partitions,
      });
    }
  }

  #serveFetch(
    batch: number,
    stage: number,
    partitions: number[],
    reply: (from: number, blocks: Block[]) => void,
  ): void {
    const outs = this.#outputs.get(batch);
    if (!outs) return;
    for (const [k, blocks] of outs) {
      const [s, from] = k.split(":").map(Number);
      if (s !== stage) continue;
      reply(from, partitions.map((p) => ({ partition: p, records: blocks[p] })));
    }
  }

  #deliver(batch: number, stage: number, blocks: Block[], final: boolean): void {
    for (const b of blocks) this.#sched.arrive(batch, stage, b.partition, b.records, final);
    this.#pump();
  }

  #onPeer(c: Connection, m: Message): void {
    const msg = m as PeerMessage;
    if (!isCurrent(msg, this.#opts.job, this.#attempt)) return;
    switch (msg.type) {
      case "ShuffleBlocks":
        this.#deliver(msg.batch, msg.stage, msg.blocks, msg.final);
        break;
      case "FetchBlocks":
        this.#serveFetch(
          msg.batch,
          msg.stage,
          msg.partitions,
          (from, blocks) =>
            c.send({
              type: "BlocksFetched",
              job: this.#opts.job,
              attempt: this.#attempt,
              batch: msg.batch,
              stage: msg.stage,
              from,
              blocks,
            }),
        );
        break;
      case "BlocksFetched":
        this.#deliver(msg.batch, msg.stage + 1, msg.blocks, false);
        break;
    }
  }

  #sendPeer(e: number, m: PeerMessage): void {
    let conn = this.#peers.get(e);
    if (!conn) {
      const addr = this.#peerAddr.get(e);
      if (!addr) {
        log.error(`no address for executor ${e}`);
        return;
      }
      conn = connect(addr.host, addr.port, this.id, { secret: this.#opts.secret });
      conn.then((c) => {
        c.onMessage = (msg) => this.#onPeer(c, msg);
        c.onClose = () => this.#peers.delete(e);
      }, (err) => log.error(`executor ${this.id}: ${(err as Error).message}`));
      this.#peers.set(e, conn);
    }
    conn.then((c) => c.send(m), () => {});
  }

  #pump(): void {
    if (this.#pumping || this.#stopped || !this.#sched.hasReady) return;
    this.#pumping = true;
    setImmediate(() => this.#runReady());
  }

  #runReady(): void {
    const start = performance.now();
    for (;;) {
      const t = this.#sched.take();
      if (!t) break;
      this.#runTask(t.batch, t.stage, t.partition, t.inputs, t.final);
      if (performance.now() - start > SLICE_MS) break;
    }
    this.#pumping = false;
    this.#pump();
  }

  #runTask(batch: number, stage: number, partition: number, inputs: Input[], final: boolean): void {
    const job = this.#opts.job;
    const attempt = this.#attempt;
    const t0 = performance.now();
    let out: TaskOutput;
    try {
      const input: TaskInput = stage === 0
        ? (inputs[0] as TaskInput)
        : { kind: "shuffle", blocks: inputs as unknown[][] };
      out = this.#runners[stage].run(partition, input, final);
    } catch (e) {
      this.#driver.send({
        type: "TaskFailed",
        job,
        attempt,
        executor: this.id,
        batch,
        stage,
        partition,
        error: (e as Error).stack ?? String(e),
      });
      return;
    }
    const t1 = performance.now();
    this.#timings.compute += t1 - t0;
    this.#sched.done({ batch, stage, partition, final });
    if (out.kind === "sink") {
      this.#driver.send({ type: "SinkData", job, attempt, batch, partition, data: out.data, records: out.records });
    } else {
      this.#keep(batch, stage, partition, out.blocks);
      if (this.#mode === "drizzle") this.#push(batch, stage + 1, partition, out.blocks, final);
    }
    this.#timings.shuffle += performance.now() - t1;
    if (this.#mode === "bsp") {
      const sizes = out.kind === "shuffle" ? out.blocks.map((b) => b.length) : [out.records];
      this.#driver.send({
        type: "TaskFinished",
        job,
        attempt,
        executor: this.id,
        batch,
        stage,
        partition,
        sizes,
        rejected: this.#rejects.take(),
      });
      return;
    }
    for (const [g, st] of this.#groups) {
      if (batch < st.first || batch > st.last) continue;
      st.remaining--;
      if (final) st.remaining -= this.#droppedAfter(batch, st);
      if (st.remaining <= 0) this.#groupDone(g);
    }
  }

  /** Tasks of a group that will never run because the input ended at `final`. */
  #droppedAfter(final: number, st: GroupState): number {
    if (st.last <= final) return 0;
    const stages = this.#plan!.stages;
    let owned = 0;
    for (let s = 0; s < stages.length; s++) for (const e of this.#placement[s]) if (e === this.id) owned++;
    const dropped = owned * (st.last - final);
    st.last = final;
    return dropped;
  }

  #groupDone(group: number): void {
    const st = this.#groups.get(group)!;
    this.#groups.delete(group);
    this.#driver.send({
      type: "GroupCompleted",
      job: this.#opts.job,
      attempt: this.#attempt,
      executor: this.id,
      group,
      last: st.last,
      timings: { ...this.#timings },
      rejected: this.#rejects.take(),
    });
    this.#timings = { compute: 0, shuffle: 0, tasks: 0 };
  }

  /** Keeps a map task's output until its batch is committed (for bsp fetches and recovery). */
  #keep(batch: number, stage: number, partition: number, blocks: unknown[][]): void {
    let m = this.#outputs.get(batch);
    if (!m) this.#outputs.set(batch, m = new Map());
    m.set(`${stage}:${partition}`, blocks);
  }

  #release(before: number): void {
    for (const b of this.#outputs.keys()) if (b < before) this.#outputs.delete(b);
  }

  /** drizzle: sends each reduce partition its block, one message per owning executor. */
  #push(batch: number, stage: number, from: number, blocks: unknown[][], final: boolean): void {
    const owners = this.#placement[stage];
    const byExecutor = new Map<number, Block[]>();
    for (let p = 0; p < blocks.length; p++) {
      const e = owners[p];
      let list = byExecutor.get(e);
      if (!list) byExecutor.set(e, list = []);
      list.push({ partition: p, records: blocks[p] });
    }
    for (const [e, list] of byExecutor) {
      if (e === this.id) this.#deliver(batch, stage, list, final);
      else {this.#sendPeer(e, {
          type: "ShuffleBlocks",
          job: this.#opts.job,
          attempt: this.#attempt,
          batch,
          stage,
          from,
          final,
          blocks: list,
        });}
    }
  }
}
