import { randomBytes } from "node:crypto";
import type { Readable, Writable } from "node:stream";
import type { PhysicalPlan } from "../plan/plan.ts";
import { type RejectCount, Rejects } from "../ops/reject.ts";
import { Batcher, type RawBatch, splitAtLines } from "../io/batcher.ts";
import { parseHeader } from "../io/decode.ts";
import { openSink, type SinkWriter } from "../io/sink.ts";
import { openSource } from "../io/source.ts";
import { log } from "../log.ts";
import {
  type Connection,
  type DriverCommand,
  type ExecutorEvent,
  type ExecutorId,
  executorId,
  isCurrent,
  type JobId,
  jobId,
  listen,
  type Listener,
  newSecret,
  type Placement,
} from "../wire/mod.ts";
import { Committer } from "./commit.ts";
import type { Launcher } from "./launcher.ts";
import { roundRobin } from "./placement.ts";

export interface DriverOptions {
  plan: PhysicalPlan;
  mode: "drizzle" | "bsp";
  workers: number;
  /** Batches per group in drizzle mode (bsp always uses 1). */
  groupSize: number;
  intervalMs: number;
  batchRecords: number;
  batchBytes?: number;
  /** Raw input the driver may hold for batches not yet committed; input is paused beyond it. */
  maxBufferBytes?: number;
  launcher: Launcher;
  stdin: Readable;
  stdout: Writable;
  /** How long executors have to start and register. */
  startTimeoutMs?: number;
  observer?: DriverObserver;
}

/** Per-batch facts, reported as each batch commits (for progress and --metrics). */
export interface BatchMetrics {
  batch: number;
  group: number;
  groupSize: number;
  recordsIn: number;
  recordsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** ms the driver spent dispatching the batch (scheduling messages and input chunks). */
  scheduleMs: number;
  /** ms from dispatch until the last output part arrived (compute and shuffle on executors). */
  processMs: number;
  /** ms from the last output part until the output was written (commit). */
  commitMs: number;
  /** ms from the batch being cut to its output written: what a record waits at most. */
  latencyMs: number;
  /** Wall-clock time of the commit (epoch ms). */
  committedAt: number;
}

/** Per-group facts, reported when every executor has completed the group. */
export interface GroupMetrics {
  group: number;
  first: number;
  size: number;
  executors: number;
  /** Summed over executors: ms running tasks, and ms encoding and sending shuffle data. */
  computeMs: number;
  shuffleMs: number;
  /** ms the driver spent scheduling the group (building and sending RunGroup). */
  scheduleMs: number;
  /** Why the group has the size it has. */
  reason: string;
}

export interface DriverObserver {
  batch?(m: BatchMetrics): void;
  group?(m: GroupMetrics): void;
  /** Something worth a line in a log: executors registered, recovery, ... */
  event?(message: string): void;
}

export interface RunSummary {
  batches: number;
  groups: number;
  recordsIn: number;
  recordsOut: number;
  rejected: Record<string, RejectCount>;
  rejectedTotal: number;
  /** Scheduling messages the driver sent (RunGroup, LaunchTask, MapOutputs). */
  scheduleMessages: number;
  elapsedMs: number;
  /** Per batch, ms from cut to commit. */
  latencies: number[];
  /** The reader of the output went away (EPIPE): the run stopped early, without error. */
  outputClosed: boolean;
  /** Stopped by a signal: input was cut short, what was read was committed. */
  interrupted: boolean;
}

/** A run that cannot go on: an executor died, a task threw, startup failed. */
export class RunError extends Error {
  override name = "RunError";
}

interface BatchState {
  id: number;
  group: number;
  records: number;
  bytes: number;
  final: boolean;
  cutAt: number;
  dispatchedAt: number;
  scheduleMs: number;
  /** When the last output part arrived. */
  completeAt: number;
}

interface GroupState {
  id: number;
  first: number;
  count: number;
  waiting: Set<number>;
  computeMs: number;
  shuffleMs: number;
  scheduleMs: number;
  reason: string;
}

interface ExecutorState {
  id: ExecutorId;
  conn: Connection;
  host: string;
  port: number;
  stopped: boolean;
}

/** Everything that changes driver state arrives as one of these, handled by `handle`. */
type DriverEvent =
  | { type: "connected"; conn: Connection }
  | { type: "message"; from: ExecutorId; m: ExecutorEvent }
  | { type: "disconnected"; from: ExecutorId; reason?: string }
  | { type: "batch"; raw: RawBatch }
  | { type: "committed"; batch: number; records: number; bytes: number }
  | { type: "inputError"; error: Error };

/**
 * The driver: cuts input into batches, places tasks, schedules groups (drizzle) or stages
 * (bsp), and commits output in batch order. One event loop: sockets, the batcher and the sink
 * only post events; `handle` is the one place state changes, so no locking is needed anywhere.
 */
export class Driver {
  readonly job: JobId = jobId(randomBytes(6).toString("hex"));
  readonly #secret = newSecret();
  readonly #o: Required<DriverOptions>;
  readonly #attempt = 0;
  #listener!: Listener;
  #execs = new Map<number, ExecutorState>();
  #placement: Placement = [];
  #batcher!: Batcher;
  #writer!: SinkWriter;
  #committer!: Committer;
  #header: string[] | undefined;
  #batches = new Map<number, BatchState>();
  #nextBatch = 0;
  #inflightBytes = 0;
  #group: GroupState | null = null;
  #groups = new Map<number, GroupState>();
  #groupsSent = 0;
  #rejects = new Rejects();
  #scheduleMessages = 0;
  #recordsIn = 0;
  #latencies: number[] = [];
  #started = performance.now();
  #phase: "starting" | "running" | "finishing" | "done" = "starting";
  #outputClosed = false;
  #interrupted = false;
  // bsp state: batches waiting to run, and the one running.
  #bspQueue: BatchState[] = [];
  #bsp: { batch: BatchState; stage: number; finished: number; locations: ExecutorId[][] } | null = null;
  #registered!: () => void;
  #finished!: (s: RunSummary) => void;
  #failed!: (e: Error) => void;

  constructor(opts: DriverOptions) {
    this.#o = {
      batchBytes: 16 << 20,
      maxBufferBytes: 256 << 20,
      startTimeoutMs: 30_000,
      observer: {},
      ...opts,
      groupSize: opts.mode === "bsp" ? 1 : Math.max(1, opts.groupSize),
    };
  }

  /** Runs the job to the end of its input. Rejects with RunError when it cannot finish. */
  async run(): Promise<RunSummary> {
    const o = this.#o;
    const done = new Promise<RunSummary>((resolve, reject) => {
      this.#finished = resolve;
      this.#failed = reject;
    });
    this.#listener = await listen("127.0.0.1", 0, {
      secret: this.#secret,
      onConnection: (conn) => this.handle({ type: "connected", conn }),
      onRefused: (reason) => log.warn(reason),
    });
    const registered = new Promise<void>((r) => (this.#registered = r));
    try {
      await o.launcher.start({
        count: o.workers,
        job: this.job,
        secret: this.#secret,
        driverHost: this.#listener.host,
        driverPort: this.#listener.port,
      });
      await timeout(registered, o.startTimeoutMs, `executors did not register within ${o.startTimeoutMs}ms`);
    } catch (e) {
      await this.#teardown();
      throw new RunError(`cannot start executors: ${(e as Error).message}`);
    }
    o.launcher.onExit = (id, how) => {
      if (this.#phase === "running") this.#fail(new RunError(`executor ${id} ${how}`));
    };
    this.#start();
    try {
      await (async () => {
        this.#writer = await openSink(o.plan.sink, o.stdout);
      })();
    } catch (e) {
      await this.#teardown();
      throw new RunError(`cannot open sink: ${(e as Error).message}`);
    }
    const last = o.plan.stages[o.plan.stages.length - 1];
    this.#committer = new Committer(
      this.#writer,
      last.partitions,
      (batch, records, bytes) => this.handle({ type: "committed", batch, records, bytes }),
    );
    this.#batcher = new Batcher(openSource(o.plan.source, o.stdin), {
      intervalMs: o.intervalMs,
      batchRecords: o.batchRecords,
      batchBytes: o.batchBytes,
      header: o.plan.source.header,
      onHeader: (line) => (this.#header = parseHeader(line, o.plan.source.format)),
      onBatch: (raw) => this.handle({ type: "batch", raw }),
      hasRoom: () => this.#hasRoom(),
      onError: (error) => this.handle({ type: "inputError", error }),
    });
    this.#phase = "running";
    this.#batcher.start();
    return done;
  }

  /** Stops reading input; what was read is processed and committed, then the run ends. */
  stop(): void {
    if (this.#phase !== "running" && this.#phase !== "starting") return;
    this.#interrupted = true;
    this.#batcher?.stop();
  }

  /** Handles one event. The only method that changes the driver's state. */
  handle(ev: DriverEvent): void {
    switch (ev.type) {
      case "connected": {
        const conn = ev.conn;
        const from = executorId(conn.peer);
        this.#conns.get(from)?.close("replaced by a new connection");
        this.#conns.set(from, conn);
        conn.onMessage = (m) => this.handle({ type: "message", from, m: m as ExecutorEvent });
        conn.onClose = (reason) => this.handle({ type: "disconnected", from, reason });
        return;
      }
      case "message":
        return this.#onMessage(ev.from, ev.m);
      case "disconnected": {
        const e = this.#execs.get(ev.from);
        if (!e || e.stopped || this.#phase === "done" || this.#phase === "finishing") return;
        this.#fail(new RunError(`lost executor ${ev.from}${ev.reason ? `: ${ev.reason}` : " (connection closed)"}`));
        return;
      }
      case "batch":
        return this.#onBatch(ev.raw);
      case "committed":
        return this.#onCommitted(ev.batch, ev.records, ev.bytes);
      case "inputError":
        return this.#fail(new RunError(`cannot read input: ${ev.error.message}`));
    }
  }

  #onMessage(from: ExecutorId, m: ExecutorEvent): void {
    if (m.type === "ExecutorRegistered") {
      if (m.job !== this.job) return;
      const conn = this.#conns.get(from);
      if (!conn) return;
      this.#execs.set(from, { id: from, conn, host: m.host, port: m.port, stopped: false });
      log.debug(`executor ${from} registered (pid ${m.pid}, shuffle ${m.host}:${m.port})`);
      if (this.#execs.size === this.#o.workers) this.#registered();
      return;
    }
    if (!isCurrent(m, this.job, this.#attempt)) return;
    switch (m.type) {
      case "SinkData": {
        const b = this.#batches.get(m.batch);
        if (b) b.completeAt = performance.now();
        this.#committer.add(m.batch, m.partition, m.data, m.records);
        return;
      }
      case "GroupCompleted": {
        this.#rejects.merge(m.rejected);
        const g = this.#groups.get(m.group);
        if (!g) return;
        g.computeMs += m.timings.compute;
        g.shuffleMs += m.timings.shuffle;
        g.waiting.delete(from);
        if (g.waiting.size > 0) return;
        this.#groups.delete(g.id);
        this.#o.observer.group?.({
          group: g.id,
          first: g.first,
          size: Math.min(g.count, m.last - g.first + 1),
          executors: this.#execs.size,
          computeMs: g.computeMs,
          shuffleMs: g.shuffleMs,
          scheduleMs: g.scheduleMs,
          reason: g.reason,
        });
        return;
      }
      case "TaskFinished":
        this.#rejects.merge(m.rejected);
        return this.#bspTaskFinished(m.executor, m.stage, m.partition);
      case "GetMapOutputs": {
        const cur = this.#bsp;
        if (!cur || cur.batch.id !== m.batch) return;
        this.#send(from, {
          type: "MapOutputs",
          job: this.job,
          attempt: this.#attempt,
          batch: m.batch,
          stage: m.stage,
          locations: cur.locations[m.stage],
        });
        this.#scheduleMessages++;
        return;
      }
      case "TaskFailed":
        return this.#fail(
          new RunError(
            `step failed in stage ${m.stage}, partition ${m.partition}, batch ${m.batch} (executor ${m.executor}): ${
              m.error.split("\n")[0]
            }`,
          ),
        );
      case "ExecutorStopped": {
        this.#rejects.merge(m.rejected);
        const e = this.#execs.get(from);
        if (e) e.stopped = true;
        if ([...this.#execs.values()].every((x) => x.stopped)) this.#allStopped?.();
        return;
      }
    }
  }

  /** Authenticated connections by the executor id they gave, registered or not yet. */
  #conns = new Map<number, Connection>();

  #start(): void {
    const ids = [...this.#execs.keys()].sort((a, b) => a - b).map(executorId);
    this.#placement = roundRobin(this.#o.plan, ids);
    const peers = [...this.#execs.values()].map((e) => ({ executor: e.id, host: e.host, port: e.port }));
    for (const e of this.#execs.values()) {
      this.#send(e.id, {
        type: "StartJob",
        job: this.job,
        attempt: this.#attempt,
        plan: this.#o.plan,
        mode: this.#o.mode,
        peers,
      });
    }
  }

  #hasRoom(): boolean {
    const maxBatches = Math.max(4, 2 * this.#o.groupSize);
    return this.#batches.size < maxBatches && this.#inflightBytes < this.#o.maxBufferBytes;
  }

  #onBatch(raw: RawBatch): void {
    if (this.#phase !== "running") return;
    const now = performance.now();
    const b: BatchState = {
      id: this.#nextBatch++,
      group: -1,
      records: raw.records,
      bytes: raw.data.length,
      final: raw.final,
      cutAt: now,
      dispatchedAt: now,
      scheduleMs: 0,
      completeAt: now,
    };
    this.#batches.set(b.id, b);
    this.#inflightBytes += b.bytes;
    this.#recordsIn += b.records;
    if (this.#o.mode === "drizzle") {
      this.#drizzleDispatch(b, raw.data);
      b.dispatchedAt = performance.now();
      b.scheduleMs = b.dispatchedAt - now;
    } else {
      this.#sendInput(b, raw.data);
      this.#bspQueue.push(b);
      this.#bspNext();
    }
  }

  /** drizzle: one RunGroup per executor at each group start, then only input data. */
  #drizzleDispatch(b: BatchState, data: Uint8Array): void {
    const g = this.#group;
    if (!g || b.id >= g.first + g.count) {
      const t0 = performance.now();
      const group: GroupState = {
        id: this.#groupsSent++,
        first: b.id,
        count: this.#o.groupSize,
        waiting: new Set(this.#execs.keys()),
        computeMs: 0,
        shuffleMs: 0,
        scheduleMs: 0,
        reason: "fixed (--group-size)",
      };
      this.#group = group;
      this.#groups.set(group.id, group);
      for (const e of this.#execs.values()) {
        this.#send(e.id, {
          type: "RunGroup",
          job: this.job,
          attempt: this.#attempt,
          group: group.id,
          first: group.first,
          count: group.count,
          placement: this.#placement,
          releaseBefore: this.#committer.next,
        });
        this.#scheduleMessages++;
      }
      group.scheduleMs = performance.now() - t0;
    }
    b.group = this.#group!.id;
    this.#sendInput(b, data);
  }

  #sendInput(b: BatchState, data: Uint8Array): void {
    const owners = this.#placement[0];
    const chunks = splitAtLines(data, owners.length);
    for (let p = 0; p < owners.length; p++) {
      this.#send(owners[p], {
        type: "InputChunk",
        job: this.job,
        attempt: this.#attempt,
        batch: b.id,
        partition: p,
        data: chunks[p],
        final: b.final,
        header: this.#header,
      });
    }
  }

  /** bsp: start the next queued batch once the previous one has run all its stages. */
  #bspNext(): void {
    if (this.#bsp || this.#bspQueue.length === 0) return;
    const batch = this.#bspQueue.shift()!;
    batch.dispatchedAt = performance.now();
    this.#bsp = { batch, stage: 0, finished: 0, locations: this.#o.plan.stages.map((s) => new Array(s.partitions)) };
    this.#bspLaunch(0);
  }

  #bspLaunch(stage: number): void {
    const cur = this.#bsp!;
    const t0 = performance.now();
    this.#placement[stage].forEach((owner, p) => {
      this.#send(owner, {
        type: "LaunchTask",
        job: this.job,
        attempt: this.#attempt,
        batch: cur.batch.id,
        stage,
        partition: p,
        final: cur.batch.final,
        releaseBefore: this.#committer.next,
      });
      this.#scheduleMessages++;
    });
    cur.batch.scheduleMs += performance.now() - t0;
  }

  #bspTaskFinished(executor: ExecutorId, stage: number, partition: number): void {
    const cur = this.#bsp;
    if (!cur || stage !== cur.stage) return;
    cur.locations[stage][partition] = executor;
    if (++cur.finished < this.#o.plan.stages[stage].partitions) return;
    if (stage + 1 < this.#o.plan.stages.length) {
      cur.stage++;
      cur.finished = 0;
      this.#bspLaunch(cur.stage);
      return;
    }
    // The last stage's SinkData came before its TaskFinished on the same connection, so the
    // batch is already complete in the committer.
    this.#bsp = null;
    this.#bspNext();
  }

  #onCommitted(id: number, recordsOut: number, bytesOut: number): void {
    const b = this.#batches.get(id);
    if (!b) return;
    this.#batches.delete(id);
    this.#inflightBytes -= b.bytes;
    const now = performance.now();
    this.#latencies.push(now - b.cutAt);
    this.#o.observer.batch?.({
      batch: b.id,
      group: b.group,
      groupSize: this.#o.groupSize,
      recordsIn: b.records,
      recordsOut,
      bytesIn: b.bytes,
      bytesOut,
      scheduleMs: b.scheduleMs,
      processMs: Math.max(0, b.completeAt - b.dispatchedAt),
      commitMs: Math.max(0, now - b.completeAt),
      latencyMs: now - b.cutAt,
      committedAt: Date.now(),
    });
    if (this.#writer.gone && !this.#outputClosed) {
      // The reader of stdout went away (`| head`): stop quietly.
      this.#outputClosed = true;
      this.#batcher.stop();
      void this.#finish();
      return;
    }
    if (b.final) {
      void this.#finish();
      return;
    }
    this.#batcher.resume();
  }

  #allStopped: (() => void) | null = null;

  async #finish(): Promise<void> {
    if (this.#phase === "finishing" || this.#phase === "done") return;
    this.#phase = "finishing";
    const stopped = new Promise<void>((r) => (this.#allStopped = r));
    for (const e of this.#execs.values()) this.#send(e.id, { type: "Shutdown", job: this.job, attempt: this.#attempt });
    await timeout(stopped, 5000, "").catch(() => log.warn("some executors did not confirm shutdown"));
    try {
      await this.#committer.flushed();
      await this.#writer.close();
    } catch (e) {
      if (!this.#writer.gone) {
        await this.#teardown();
        this.#failed(new RunError(`cannot write output: ${(e as Error).message}`));
        return;
      }
    }
    await this.#teardown();
    this.#finished({
      batches: this.#nextBatch,
      groups: this.#groupsSent,
      recordsIn: this.#recordsIn,
      recordsOut: this.#committer.recordsOut,
      rejected: this.#rejects.byStep,
      rejectedTotal: this.#rejects.total,
      scheduleMessages: this.#scheduleMessages,
      elapsedMs: performance.now() - this.#started,
      latencies: this.#latencies,
      outputClosed: this.#outputClosed,
      interrupted: this.#interrupted,
    });
  }

  #fail(e: Error): void {
    if (this.#phase === "done") return;
    this.#batcher?.stop();
    void this.#teardown().then(() => this.#failed(e));
  }

  async #teardown(): Promise<void> {
    if (this.#phase === "done") return;
    this.#phase = "done";
    for (const e of this.#execs.values()) e.conn.close();
    for (const c of this.#conns.values()) c.close();
    await this.#o.launcher.stop().catch((e) => log.warn(`stopping executors: ${(e as Error).message}`));
    await this.#listener?.close();
  }

  #send(to: ExecutorId, m: DriverCommand): void {
    const e = this.#execs.get(to);
    if (!e) return;
    e.conn.send(m);
  }
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(what)), ms)))]).finally(() =>
    clearTimeout(t)
  );
}
