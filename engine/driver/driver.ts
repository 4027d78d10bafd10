import { randomBytes } from "node:crypto";
import { isStateful } from "../plan/plan.ts";
import { Rejects } from "../ops/reject.ts";
import { Batcher, type RawBatch, splitAtLines } from "../io/batcher.ts";
import { parseHeader } from "../io/decode.ts";
import { openSink, type SinkWriter } from "../io/sink.ts";
import { openSource } from "../io/source.ts";
import { GeneratedInput, type GeneratedRange, partitionRange } from "../io/generated.ts";
import { log } from "../log.ts";
import {
  type Connection,
  type DriverCommand,
  type ExecutorEvent,
  type ExecutorId,
  executorId,
  type InputChunk,
  isCurrent,
  type JobId,
  jobId,
  listen,
  type Listener,
  newSecret,
  type PeerAddress,
  type Placement,
} from "../wire/mod.ts";
import { CheckpointTracker } from "./checkpoints.ts";
import { CheckpointStore } from "./checkpoint_store.ts";
import { pipelineId, readResumePoint } from "./resume.ts";
import { Committer } from "./commit.ts";
import { reassign, rebalance, roundRobin } from "./placement.ts";
import { BspScheduler } from "./bsp.ts";
import { Executors } from "./executors.ts";
import { GroupSizeController } from "./group_size.ts";
import { GroupScheduler } from "./groups.ts";
import { type DriverOptions, type RecoveryReport, RunError, type RunSummary } from "./types.ts";

export * from "./types.ts";

interface BatchState {
  id: number;
  group: number;
  records: number;
  bytes: number;
  final: boolean;
  /** Raw input, kept until a checkpoint covers the batch (a recovery replays it). */
  data: Uint8Array;
  /** Gives `data`'s memory back to the input for reuse. */
  release?: () => void;
  committed: boolean;
  cutAt: number;
  dispatchedAt: number;
  scheduleMs: number;
  /** When the last output part arrived. */
  completeAt: number;
  recovered: boolean;
  /** Input line bytes up to the end of this batch (where a resumed run starts reading). */
  endOffset: number;
  /** Processing time of the batch (epoch ms at the cut; a resumed run reuses the logged one). */
  time: number;
  /** A generated source: the events the batch covers. */
  gen?: GeneratedRange;
}

/** Everything that changes driver state arrives as one of these, handled by `handle`. */
type DriverEvent =
  | { type: "connected"; conn: Connection }
  | { type: "message"; from: ExecutorId; m: ExecutorEvent }
  | { type: "disconnected"; from: ExecutorId; reason?: string }
  | { type: "exited"; executor: number; how: string }
  | { type: "tick" }
  | { type: "batch"; raw: RawBatch }
  | { type: "committed"; batch: number; records: number; bytes: number }
  | { type: "inputError"; error: Error };

/**
 * The driver: cuts input into batches, places tasks, schedules groups (drizzle) or stages
 * (bsp), checkpoints, recovers from lost executors, and commits output exactly once in batch
 * order. One event loop: sockets, timers, the batcher and the sink only post events; `handle`
 * is the one place state changes, so no locking is needed anywhere.
 */
export class Driver {
  readonly job: JobId = jobId(randomBytes(6).toString("hex"));
  readonly #secret = newSecret();
  readonly #o: Required<DriverOptions>;
  /** Driver-side coordination ms (checkpoint handling) not yet charged to a group. */
  #coordMs = 0;
  #lastCommitAt = 0;
  #batchMs = 0;
  #attempt = 0;
  #listener!: Listener;
  #execs = new Executors();
  #placement: Placement = [];
  #batcher!: Pick<Batcher, "start" | "stop" | "resume">;
  /**
   * What the input reader reported while executors were starting (batches, an input error),
   * handled in order once they have registered; null from then on.
   */
  #early: Array<Extract<DriverEvent, { type: "batch" | "inputError" }>> | null = [];
  #earlyBytes = 0;
  #writer!: SinkWriter;
  #committer!: Committer;
  #ckpt: CheckpointTracker;
  #header: string[] | undefined;
  /** Batches cut and not yet both committed and covered by a checkpoint. */
  #batches = new Map<number, BatchState>();
  #nextBatch = 0;
  #retainedBytes = 0;
  /** drizzle mode's group scheduler (in bsp mode only its size, 1, is read). */
  #groups: GroupScheduler<BatchState>;
  #rejects = new Rejects();
  /** Tasks whose rejections were counted: a task re-run after a recovery is counted once. */
  #rejectsSeen = new Set<string>();
  #scheduleMessages = 0;
  #recordsIn = 0;
  #latencies: number[] = [];
  #recoveries: RecoveryReport[] = [];
  #started = performance.now();
  #phase: "starting" | "running" | "finishing" | "done" = "starting";
  #outputClosed = false;
  #interrupted = false;
  #ticker: ReturnType<typeof setInterval> | null = null;
  #store: CheckpointStore | null = null;
  /** Input line bytes cut into batches so far (after the skipped part of a resumed run). */
  #offset = 0;
  #sinkBytes = 0;
  /** Batches before this one are written to the sink (not just complete in the committer). */
  #written = 0;
  #resumed: RunSummary["resumed"] = null;
  #deadLetters: SinkWriter | null = null;
  /** Tasks whose dead letters were written: a task re-run after a recovery writes them once. */
  #deadSeen = new Set<string>();
  /** Resume: processing times of the batches re-cut from the log. */
  #loggedTimes = new Map<number, number>();
  /** Replacement executors started and not yet registered. */
  #joining = new Set<number>();
  #nextExecutorId = 0;
  /** bsp mode's stage-by-stage scheduler. */
  #bsp: BspScheduler<BatchState>;
  #registered!: () => void;
  /** Fails the start: an executor exited before all had registered. */
  #startFailed!: (e: Error) => void;
  #allStopped: (() => void) | null = null;
  #finished!: (s: RunSummary) => void;
  #failed!: (e: Error) => void;

  constructor(opts: DriverOptions) {
    this.#o = {
      batchBytes: 4 << 20,
      // Enough for a group of a second or more at tens of MB/s; a full buffer ends the group early.
      maxBufferBytes: 64 << 20,
      startTimeoutMs: 30_000,
      recovery: "partial",
      heartbeatMs: 200,
      heartbeatTimeoutMs: 1000,
      checkpointEvery: 10,
      maxOverhead: 0.05,
      maxGroupTimeMs: 1000,
      replace: true,
      checkpointDir: "",
      resume: false,
      observer: {},
      // An option given as undefined keeps its default.
      ...(Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as DriverOptions),
    };
    const lanes: Array<[number, number]> = [];
    for (const s of opts.plan.stages) {
      if (isStateful(s)) {
        for (let p = 0; p < s.partitions; p++) lanes.push([s.id, p]);
      }
    }
    this.#ckpt = new CheckpointTracker(lanes);
    this.#bsp = new BspScheduler({
      plan: opts.plan,
      checkpointEvery: this.#o.checkpointEvery,
      ckpt: this.#ckpt,
      placement: () => this.#placement,
      alive: () => this.#alive(),
      running: () => this.#phase === "running",
      bufferFull: () => this.#bufferFull(),
      schedule: (to, m) => {
        this.#send(to, { ...m, job: this.job, attempt: this.#attempt } as DriverCommand);
        this.#scheduleMessages++;
      },
      sendInput: (b) => this.#sendInput(b, null),
      restartForJoin: () => this.#recoverGlobal(this.#ckpt.latest.batch + 1),
    });
    this.#groups = new GroupScheduler<BatchState>(
      {
        ckpt: this.#ckpt,
        placement: () => this.#placement,
        alive: () => this.#alive(),
        schedule: (to, m) => {
          this.#send(to, { ...m, job: this.job, attempt: this.#attempt } as DriverCommand);
          this.#scheduleMessages++;
        },
        sendInput: (b) => this.#sendInput(b, null),
        batchMs: () => this.#batchMs || this.#o.intervalMs,
        takeCoordinationMs: () => {
          const ms = this.#coordMs;
          this.#coordMs = 0;
          return ms;
        },
        onGroup: (m) => this.#o.observer.group?.(m),
      },
      opts.mode === "bsp" ? 1 : opts.groupSize === "auto"
        ? new GroupSizeController({
          maxOverhead: this.#o.maxOverhead,
          maxGroupTimeMs: this.#o.maxGroupTimeMs,
          maxGroupSize: 1000,
        })
        : opts.groupSize,
    );
  }

  /** Runs the job to the end of its input. Rejects with RunError when it cannot finish. */
  async run(): Promise<RunSummary> {
    const o = this.#o;
    const done = new Promise<RunSummary>((resolve, reject) => {
      this.#finished = resolve;
      this.#failed = reject;
    });
    const resume = await this.#prepareStore();
    if (resume?.complete) {
      log.info(`the run in ${o.checkpointDir} already finished (batch ${this.#resumed!.committed} was its last)`);
      return this.#summary();
    }
    this.#listener = await listen(o.launcher.listenHost ?? "127.0.0.1", 0, {
      secret: this.#secret,
      onConnection: (conn) => this.handle({ type: "connected", conn }),
      onRefused: (reason, authFailed) => (authFailed ? log.warn(reason) : log.debug(reason)),
    });
    const registered = new Promise<void>((resolve, reject) => {
      this.#registered = resolve;
      this.#startFailed = reject;
    });
    registered.catch(() => {}); // awaited below; a failure while the launcher starts is not unhandled
    o.launcher.onExit = (executor, how) => this.handle({ type: "exited", executor, how });
    const gen = o.plan.source.generate;
    if (!gen) {
      // Input is read and cut while the executors start (their start-up is most of a short
      // run's); the first batches are then ready when they register.
      this.#batcher = new Batcher(openSource(o.plan.source, o.stdin), {
        intervalMs: o.intervalMs,
        batchRecords: o.batchRecords,
        batchBytes: o.batchBytes,
        header: o.plan.source.header,
        onHeader: (line) => (this.#header = parseHeader(line, o.plan.source.format)),
        skipBytes: resume?.offset,
        cuts: resume?.cuts,
        onBatch: (raw) => this.handle({ type: "batch", raw }),
        hasRoom: () => this.#hasRoom(),
        onError: (error) => this.handle({ type: "inputError", error }),
      });
      this.#batcher.start();
    }
    try {
      await o.launcher.start({
        count: o.workers,
        job: this.job,
        secret: this.#secret,
        driverHost: this.#listener.host,
        driverPort: this.#listener.port,
      });
      await timeout(registered, o.startTimeoutMs, `executors did not register within ${o.startTimeoutMs}ms`);
      this.#writer = await openSink(o.plan.sink, o.stdout, resume?.sinkBytes);
      if (o.plan.deadLetter) {
        // A resumed run appends: tasks re-run after the restart may write a record again.
        this.#deadLetters = await openSink(
          { kind: "file", path: o.plan.deadLetter.path, format: "jsonl" },
          o.stdout,
          resume ? Infinity : undefined,
        );
      }
    } catch (e) {
      this.#batcher?.stop();
      this.#early = null;
      await this.#teardown();
      throw new RunError(`cannot start: ${(e as Error).message}`);
    }
    const ids = this.#execs.ids();
    this.#placement = roundRobin(o.plan, ids);
    this.#nextExecutorId = Math.max(...ids) + 1;
    this.#startAttempt(this.#nextBatch);
    const last = o.plan.stages[o.plan.stages.length - 1];
    this.#committer = new Committer(
      this.#writer,
      last.partitions,
      (batch, records, bytes) => this.handle({ type: "committed", batch, records, bytes }),
      resume?.commitFrom ?? 0,
    );
    this.#phase = "running";
    this.#ticker = setInterval(() => this.handle({ type: "tick" }), o.heartbeatMs);
    const early = this.#early ?? [];
    this.#early = null;
    if (gen) {
      // Generated events are made on the executors at their rate: nothing to read ahead.
      this.#batcher = new GeneratedInput({
        events: gen.events,
        rate: gen.rate,
        startTimeMs: gen.startTime,
        intervalMs: o.intervalMs,
        batchRecords: o.batchRecords,
        onBatch: (raw) => this.handle({ type: "batch", raw }),
        hasRoom: () => this.#hasRoom(),
      });
      this.#batcher.start();
    } else {
      for (const ev of early) this.handle(ev);
      this.#batcher.resume();
    }
    return done;
  }

  /**
   * Opens the checkpoint directory. When resuming, loads the newest intact checkpoint, the sink
   * manifest and the batch log, and sets the run up to continue exactly where it was committed.
   */
  async #prepareStore(): Promise<
    { offset: number; cuts: number[]; commitFrom: number; sinkBytes?: number; complete?: boolean } | null
  > {
    const o = this.#o;
    if (!o.checkpointDir) {
      if (o.resume) throw new RunError("--resume needs --checkpoint-dir");
      return null;
    }
    const store = new CheckpointStore(o.checkpointDir);
    this.#store = store;
    if (!o.resume) {
      await store.init(true);
      return null;
    }
    if (o.plan.source.kind !== "file") throw new RunError("--resume needs a file source (stdin cannot be read again)");
    await store.init(false);
    const r = await readResumePoint(store, o.plan).catch((e) => {
      throw new RunError(`cannot resume: ${(e as Error).message}`);
    });
    this.#resumed = { checkpoint: r.checkpoint.batch, committed: r.committed };
    if (r.complete) return { offset: 0, cuts: [], commitFrom: r.committed + 1, complete: true };
    r.cuts.forEach((cut, i) => this.#loggedTimes.set(r.checkpoint.batch + 1 + i, cut.time));
    this.#ckpt.load(r.checkpoint);
    this.#nextBatch = r.checkpoint.batch + 1;
    this.#sinkBytes = r.sinkBytes;
    this.#offset = r.offset;
    this.#written = r.committed + 1;
    return {
      offset: r.offset,
      cuts: r.cuts.map((c) => c.records),
      commitFrom: r.committed + 1,
      sinkBytes: o.plan.sink.kind === "file" ? r.sinkBytes : undefined,
    };
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
        const from = executorId(ev.conn.peer);
        return this.#execs.connected(
          from,
          ev.conn,
          (m) => this.handle({ type: "message", from, m }),
          (reason) => this.handle({ type: "disconnected", from, reason }),
        );
      }
      case "message":
        return this.#onMessage(ev.from, ev.m);
      case "disconnected":
        return this.#lost(ev.from, ev.reason ? `connection lost: ${ev.reason}` : "connection closed");
      case "exited":
        if (this.#phase === "starting" && !this.#execs.has(executorId(ev.executor))) {
          return this.#startFailed(new Error(`executor ${ev.executor} ${ev.how} before it registered`));
        }
        return this.#lost(executorId(ev.executor), ev.how);
      case "tick":
        return this.#checkHeartbeats();
      case "batch":
        if (this.#early) {
          this.#early.push(ev);
          this.#earlyBytes += ev.raw.data.length;
          return;
        }
        return this.#onBatch(ev.raw);
      case "committed":
        return this.#onCommitted(ev.batch, ev.records, ev.bytes);
      case "inputError":
        if (this.#early) return void this.#early.push(ev);
        return this.#fail(new RunError(`cannot read input: ${ev.error.message}`));
    }
  }

  #onMessage(from: ExecutorId, m: ExecutorEvent): void {
    this.#execs.heard(from);
    const e = this.#execs.get(from);
    if (m.type === "ExecutorRegistered") {
      const joining = this.#joining.delete(from);
      if (m.job !== this.job || (this.#phase !== "starting" && !joining)) return;
      if (!this.#execs.register(from, m.host, m.port)) return;
      log.debug(`executor ${from} registered (pid ${m.pid}, shuffle ${m.host}:${m.port})`);
      if (joining) return this.#join(from);
      if (this.#execs.size === this.#o.workers) this.#registered();
      return;
    }
    if (!e?.alive || !isCurrent(m, this.job, this.#attempt)) return;
    switch (m.type) {
      case "Heartbeat":
        return;
      case "DeadLetters": {
        const task = `${m.batch}:${m.stage}:${m.partition}`;
        if (!this.#deadLetters || this.#deadSeen.has(task)) return;
        this.#deadSeen.add(task);
        const lines = m.records.map((r) => safeJson(r)).join("\n") + "\n";
        void this.#deadLetters.write(new TextEncoder().encode(lines));
        return;
      }
      case "SinkData": {
        const now = performance.now();
        for (const p of m.parts) this.#sinkPart(p.batch, p.partition, p.data, p.records, now);
        for (const e of m.empty) this.#sinkEmpty(e.batch, e.partitions, now);
        return;
      }
      case "StateSnapshot": {
        const t0 = performance.now();
        this.#ckpt.add(m);
        const bspWaited = this.#bsp.snapshotted(m.batch);
        this.#advanceCheckpoint();
        if (bspWaited) this.#bsp.next();
        this.#coordMs += performance.now() - t0;
        return;
      }
      case "GroupCompleted":
        this.#countRejects(m.rejected);
        return this.#groups.completed(from, m.group, m.last, m.timings);
      case "TaskFinished":
        this.#countRejects(m.rejected);
        return this.#bsp.taskFinished(m.executor, m.stage, m.partition, m.batch);
      case "GetMapOutputs": {
        const locations = this.#bsp.locations(m.batch, m.stage);
        if (!locations) return;
        this.#send(from, {
          type: "MapOutputs",
          job: this.job,
          attempt: this.#attempt,
          batch: m.batch,
          stage: m.stage,
          locations,
        });
        this.#scheduleMessages++;
        return;
      }
      case "TaskFailed":
        if (m.batch < 0) return this.#fail(new RunError(`executor ${m.executor}: ${m.error}`));
        return this.#fail(
          new RunError(
            `a task failed in stage ${m.stage}, partition ${m.partition}, batch ${m.batch} (executor ${m.executor}): ${
              m.error.split("\n")[0]
            }`,
          ),
        );
      case "ExecutorStopped": {
        this.#countRejects(m.rejected);
        e.stopped = true;
        if (this.#execs.allStopped()) this.#allStopped?.();
        return;
      }
    }
  }

  #sinkPart(batch: number, partition: number, data: Uint8Array, records: number, now: number): void {
    const b = this.#batches.get(batch);
    if (b) b.completeAt = now;
    this.#committer.add(batch, partition, data, records);
  }

  /** Sink parts of one batch with nothing in them: counted, not kept. */
  #sinkEmpty(batch: number, partitions: number[], now: number): void {
    const b = this.#batches.get(batch);
    if (b) b.completeAt = now;
    this.#committer.addEmpty(batch, partitions);
  }

  #countRejects(r: Record<string, Record<string, { count: number; sample: string }>>): void {
    for (const [task, steps] of Object.entries(r)) {
      if (this.#rejectsSeen.has(task)) continue;
      this.#rejectsSeen.add(task);
      this.#rejects.merge(steps);
    }
  }

  #alive(): ExecutorId[] {
    return this.#execs.alive();
  }

  /** Starts (or restarts, after a global rollback) the job on every live executor. */
  #startAttempt(from: number): void {
    const peers = this.#execs.peers();
    for (const id of this.#alive()) this.#sendStartJob(id, from, peers);
  }

  /** Starts the current attempt on one executor, with the checkpointed state of its lanes. */
  #sendStartJob(id: ExecutorId, from: number, peers: PeerAddress[]): void {
    this.#send(id, {
      type: "StartJob",
      job: this.job,
      attempt: this.#attempt,
      plan: this.#o.plan,
      mode: this.#o.mode,
      peers,
      placement: this.#placement,
      from,
      restore: this.#ckpt.statesFor(this.#placement, id),
      heartbeatMs: this.#o.heartbeatMs,
    });
  }

  /**
   * Room for another batch: few enough batches are not yet written out, and the input held for
   * recovery is under its limit. Counted up to the sink's write, not to the batch being complete:
   * when the reader of the output is the slowest part, complete batches would otherwise queue
   * their output in front of the sink, as much as the whole input buffer, while input is read on.
   */
  #hasRoom(): boolean {
    const maxBatches = Math.max(4, 2 * this.#groups.size + 2);
    if (this.#early) return this.#early.length < maxBatches && this.#earlyBytes < this.#o.maxBufferBytes;
    const unwritten = this.#nextBatch - this.#written;
    return unwritten < maxBatches && this.#retainedBytes < this.#o.maxBufferBytes;
  }

  /** The input buffer is full: only a checkpoint (not a commit) can make room. */
  #bufferFull(): boolean {
    return this.#retainedBytes >= this.#o.maxBufferBytes;
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
      data: raw.data,
      release: raw.release,
      committed: false,
      cutAt: now,
      dispatchedAt: now,
      scheduleMs: 0,
      completeAt: now,
      recovered: false,
      endOffset: this.#offset += raw.data.length,
      time: this.#loggedTimes.get(this.#nextBatch - 1) ?? Date.now(),
      gen: raw.gen,
    };
    this.#store?.logBatch(b.id, b.records, b.time, b.final);
    this.#batches.set(b.id, b);
    this.#retainedBytes += b.bytes;
    this.#recordsIn += b.records;
    if (b.id < this.#committer.next) {
      // Resumed run: this batch's output was committed before the restart; it only rebuilds state.
      b.committed = true;
      if (b.final) {
        void this.#finish();
        return;
      }
    }
    if (this.#o.mode === "drizzle") {
      this.#groups.dispatch(b);
      b.dispatchedAt = performance.now();
      b.scheduleMs = b.dispatchedAt - now;
      if (!b.final && this.#bufferFull()) this.#groups.endEarly(this.#nextBatch - 1);
    } else {
      this.#bsp.enqueue(b);
    }
  }

  /**
   * Sends a batch's input chunks to the owners of the first stage (or only to `only` partitions),
   * one message per executor.
   */
  #sendInput(b: BatchState, only: Set<number> | null): void {
    const owners = this.#placement[0];
    const chunks = splitAtLines(b.data, owners.length);
    const messages = new Map<ExecutorId, InputChunk>();
    for (let p = 0; p < owners.length; p++) {
      if (only && !only.has(p)) continue;
      let m = messages.get(owners[p]);
      if (!m) {
        m = {
          type: "InputChunk",
          job: this.job,
          attempt: this.#attempt,
          batch: b.id,
          chunks: [],
          empty: [],
          time: b.time,
          final: b.final,
          header: this.#header,
        };
        messages.set(owners[p], m);
      }
      const gen = b.gen && partitionRange(b.gen, p, owners.length);
      if (chunks[p].length > 0 || gen) m.chunks.push({ partition: p, data: chunks[p], gen });
      else m.empty.push(p);
    }
    for (const [to, m] of messages) this.#send(to, m);
  }

  #onCommitted(id: number, recordsOut: number, bytesOut: number): void {
    const b = this.#batches.get(id);
    if (!b) return;
    b.committed = true;
    this.#written = id + 1;
    this.#sinkBytes += bytesOut;
    this.#store?.commit({ batch: id, bytes: this.#sinkBytes });
    const now = performance.now();
    if (this.#lastCommitAt > 0) {
      // Time per batch as the stream experiences it: the interval, or less when backlogged.
      const gap = now - this.#lastCommitAt;
      this.#batchMs = this.#batchMs === 0 ? gap : this.#batchMs + 0.2 * (gap - this.#batchMs);
    }
    this.#lastCommitAt = now;
    this.#latencies.push(now - b.cutAt);
    for (const r of this.#recoveries) r.firstCommitAt ??= Date.now();
    this.#o.observer.batch?.({
      batch: b.id,
      group: b.group,
      groupSize: this.#groups.size,
      recordsIn: b.records,
      recordsOut,
      bytesIn: b.bytes,
      bytesOut,
      scheduleMs: b.scheduleMs,
      processMs: Math.max(0, b.completeAt - b.dispatchedAt),
      commitMs: Math.max(0, now - b.completeAt),
      latencyMs: now - b.cutAt,
      committedAt: Date.now(),
      recovered: b.recovered,
      bufferedBytes: this.#retainedBytes,
    });
    this.#advanceCheckpoint();
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

  /** Completes whatever checkpoint can be, and drops the input it covers. */
  #advanceCheckpoint(): void {
    const c = this.#ckpt.advance(this.#written);
    if (!c) return;
    const at = this.#batches.get(c.batch);
    if (this.#store && at) this.#store.save({ ...c, pipeline: pipelineId(this.#o.plan), offset: at.endOffset });
    for (const [id, b] of this.#batches) {
      if (id > c.batch || !b.committed) continue;
      this.#batches.delete(id);
      this.#retainedBytes -= b.bytes;
      b.release?.();
    }
    this.#batcher?.resume();
  }

  #checkHeartbeats(): void {
    if (this.#phase !== "running") return;
    for (const { id, ms } of this.#execs.silent(this.#o.heartbeatTimeoutMs, this.#o.heartbeatMs)) {
      this.#lost(id, `no heartbeat for ${ms}ms`);
    }
  }

  /** An executor is gone (or silent): fence it off, then recover on the others. */
  #lost(id: ExecutorId, reason: string): void {
    if (this.#phase !== "running" || !this.#execs.fence(id)) return;
    void this.#o.launcher.kill?.(id);
    const alive = this.#alive();
    log.warn(`lost executor ${id} (${reason}); recovering on ${alive.length} executor(s)`);
    this.#o.observer.event?.(`lost executor ${id}: ${reason}`);
    if (alive.length === 0) {
      this.#fail(new RunError(`every executor is gone (the last, ${id}: ${reason})`));
      return;
    }
    this.#groups.forget(id);
    const partial = this.#o.mode === "drizzle" && this.#o.recovery === "partial";
    const from = this.#ckpt.latest.batch + 1;
    this.#recoveries.push({
      executor: id,
      reason,
      kind: partial ? "partial" : "global",
      detectedAt: Date.now(),
      firstCommitAt: null,
      replayedBatches: Math.max(0, this.#nextBatch - from),
    });
    for (const b of this.#batches.values()) if (b.id >= from && !b.committed) b.recovered = true;
    if (partial) this.#recoverPartial(id, from);
    else this.#recoverGlobal(from);
    if (this.#o.replace && this.#o.launcher.add) {
      const replacement = this.#nextExecutorId++;
      this.#joining.add(replacement);
      this.#o.launcher.add(replacement).catch((err) => {
        this.#joining.delete(replacement);
        log.warn(`cannot start a replacement executor: ${(err as Error).message}`);
      });
    }
  }

  /**
   * A replacement executor registered: it takes its share of every stage's lanes, restored from
   * the checkpoint and re-run from there (drizzle: right away, the way a partial recovery moves
   * lanes; bsp: at the next batch boundary, by restarting from the checkpoint).
   */
  #join(id: ExecutorId): void {
    if (this.#phase !== "running") return;
    this.#o.observer.event?.(`executor ${id} joined`);
    if (this.#o.mode === "bsp") return this.#bsp.join();
    const from = this.#ckpt.latest.batch + 1;
    const old = this.#placement;
    this.#placement = rebalance(old, id, this.#alive());
    const moved = (s: number, p: number) => old[s][p] !== this.#placement[s][p];
    const peers = this.#execs.peers();
    this.#sendStartJob(id, from, peers);
    const g = this.#groups.current;
    if (g && g.first + g.count - 1 >= from) {
      this.#send(id, {
        type: "RunGroup",
        job: this.job,
        attempt: this.#attempt,
        group: g.id,
        first: from,
        count: g.first + g.count - from,
        placement: this.#placement,
        releaseBefore: from,
      });
    }
    for (const other of this.#alive()) {
      if (other === id) continue;
      this.#send(other, {
        type: "Recover",
        job: this.job,
        attempt: this.#attempt,
        lost: [],
        placement: this.#placement,
        from,
        restore: this.#ckpt.statesFor(this.#placement, other, moved),
        peers,
      });
      this.#scheduleMessages++;
    }
    const movedSources = new Set(old[0].flatMap((_, p) => (moved(0, p) ? [p] : [])));
    for (const b of [...this.#batches.values()].sort((x, y) => x.id - y.id)) {
      if (b.id >= from) this.#sendInput(b, movedSources);
    }
  }

  /**
   * drizzle: the lost executor's lanes move to the survivors, which restore their checkpointed
   * state and re-run them from the checkpoint; everything else carries on untouched.
   */
  #recoverPartial(lost: ExecutorId, from: number): void {
    const old = this.#placement;
    this.#placement = reassign(old, lost, this.#alive());
    const moved = (s: number, p: number) => old[s][p] === lost;
    const peers = this.#execs.peers();
    for (const id of this.#alive()) {
      this.#send(id, {
        type: "Recover",
        job: this.job,
        attempt: this.#attempt,
        lost: [lost],
        placement: this.#placement,
        from,
        restore: this.#ckpt.statesFor(this.#placement, id, moved),
        peers,
      });
      this.#scheduleMessages++;
    }
    const movedSources = new Set(old[0].flatMap((owner, p) => (owner === lost ? [p] : [])));
    for (const b of [...this.#batches.values()].sort((x, y) => x.id - y.id)) {
      if (b.id >= from) this.#sendInput(b, movedSources);
    }
  }

  /** Every lane rolls back to the checkpoint and the batches since are replayed on the survivors. */
  #recoverGlobal(from: number): void {
    this.#attempt++;
    this.#placement = roundRobin(this.#o.plan, this.#alive());
    this.#ckpt.resetPending();
    this.#groups.reset();
    this.#startAttempt(from);
    const replay = [...this.#batches.values()].filter((b) => b.id >= from).sort((x, y) => x.id - y.id);
    if (this.#o.mode === "drizzle") {
      for (const b of replay) this.#groups.dispatch(b);
    } else {
      this.#bsp.replay(replay);
    }
  }

  async #finish(): Promise<void> {
    if (this.#phase === "finishing" || this.#phase === "done") return;
    this.#phase = "finishing";
    const stopped = new Promise<void>((r) => (this.#allStopped = r));
    for (const id of this.#alive()) this.#send(id, { type: "Shutdown", job: this.job, attempt: this.#attempt });
    await timeout(stopped, 5000, "").catch(() => log.warn("some executors did not confirm shutdown"));
    try {
      await this.#committer.flushed();
      await this.#writer.close();
      await this.#deadLetters?.close();
      await this.#store?.flushed();
    } catch (e) {
      if (!this.#writer.gone) {
        await this.#teardown();
        this.#failed(new RunError(`cannot write output: ${(e as Error).message}`));
        return;
      }
    }
    await this.#teardown();
    this.#finished(this.#summary());
  }

  #summary(): RunSummary {
    return {
      batches: this.#nextBatch,
      groups: this.#groups.sent,
      recordsIn: this.#recordsIn,
      recordsOut: this.#committer?.recordsOut ?? 0,
      rejected: this.#rejects.byStep,
      rejectedTotal: this.#rejects.total,
      scheduleMessages: this.#scheduleMessages,
      elapsedMs: performance.now() - this.#started,
      latencies: this.#latencies,
      outputClosed: this.#outputClosed,
      interrupted: this.#interrupted,
      recoveries: this.#recoveries,
      checkpoint: this.#ckpt.latest.batch,
      resumed: this.#resumed,
    };
  }

  /** Stops the run with an error, after writing out every batch already committed. */
  #fail(e: Error): void {
    if (this.#phase === "done" || this.#phase === "finishing") return;
    this.#phase = "finishing";
    this.#batcher?.stop();
    const flushed = this.#committer ? this.#committer.flushed().catch(() => {}) : Promise.resolve();
    void flushed
      .then(() => this.#writer?.close().catch(() => {}))
      .then(() => this.#teardown())
      .then(() => this.#failed(e));
  }

  async #teardown(): Promise<void> {
    if (this.#phase === "done") return;
    this.#phase = "done";
    if (this.#ticker) clearInterval(this.#ticker);
    this.#execs.closeAll();
    await this.#o.launcher.stop().catch((e) => log.warn(`stopping executors: ${(e as Error).message}`));
    await this.#listener?.close();
  }

  #send(to: ExecutorId, m: DriverCommand): void {
    this.#execs.send(to, m);
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return JSON.stringify({ ...(v as object), record: String((v as { record: unknown }).record) });
  }
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(what)), ms)))]).finally(() =>
    clearTimeout(t)
  );
}
