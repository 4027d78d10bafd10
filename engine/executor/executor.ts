import { log } from "../log.ts";
import {
  connect,
  type Connection,
  type DriverCommand,
  type ExecutorEvent,
  type ExecutorId,
  isCurrent,
  type JobId,
  listen,
  type Listener,
  type Message,
  type PeerMessage,
} from "../wire/mod.ts";
import { readFile } from "node:fs/promises";
import type { PhysicalPlan } from "../plan/plan.ts";
import { loadTables } from "../ops/join.ts";
import { loadUdfs } from "../ops/udf.ts";
import { type Heartbeats, startHeartbeats } from "./heartbeat.ts";
import { type JobPorts, JobRun } from "./job.ts";

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

/**
 * One executor process's connections: to the driver, to and from its peers, and the heartbeat.
 * The work itself is a JobRun per attempt (job.ts); a StartJob with a higher attempt replaces it.
 */
export class Executor {
  readonly id: ExecutorId;
  readonly #opts: ExecutorOptions;
  #driver!: Connection;
  #listener!: Listener;
  #run: JobRun | null = null;
  #peerAddr = new Map<number, { host: string; port: number }>();
  #peers = new Map<number, Promise<Connection>>();
  #incoming = new Set<Connection>();
  /** Executors the driver declared lost: nothing more is sent to or taken from them. */
  #lost = new Set<number>();
  #heartbeats: Heartbeats | null = null;
  /** While a job's udfs and tables load: the messages that arrived meanwhile. */
  #loading: Array<() => void> | null = null;
  #stopped = false;
  #resolveDone!: () => void;
  /** Resolves when the executor has shut down. */
  readonly done: Promise<void>;

  readonly #ports: JobPorts;

  private constructor(opts: ExecutorOptions) {
    this.id = opts.id;
    this.#opts = opts;
    this.done = new Promise((r) => (this.#resolveDone = r));
    this.#ports = {
      id: opts.id,
      job: opts.job,
      toDriver: (m) => this.#toDriver(m),
      toPeer: (e, m) => this.#sendPeer(e, m),
      dropPeer: (e) => this.#dropPeer(e),
      setPeers: (peers) => {
        for (const p of peers) this.#peerAddr.set(p.executor, { host: p.host, port: p.port });
        // Connect now, so the handshakes are not in the way of the first batch's shuffle.
        for (const p of peers) if (p.executor !== this.id) this.#peer(p.executor);
      },
    };
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
        if (this.#lost.has(c.peer)) return c.close();
        this.#incoming.add(c);
        c.onMessage = (m) => this.#onPeer(c, m);
        c.onClose = () => this.#incoming.delete(c);
      },
      onRefused: (reason, authFailed) => (authFailed ? log.warn(reason) : log.debug(reason)),
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
    this.#toDriver({
      type: "ExecutorRegistered",
      job: o.job,
      attempt: 0,
      executor: o.id,
      host: o.advertiseHost ?? o.listenHost,
      port: this.#listener.port,
      pid: process.pid,
    });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#heartbeats?.stop();
    this.#run?.stop();
    for (const p of this.#peers.values()) p.then((c) => c.close(), () => {});
    for (const c of this.#incoming) c.close();
    this.#driver?.close();
    await this.#listener?.close();
    this.#resolveDone();
  }

  #toDriver(m: ExecutorEvent): void {
    this.#driver.send(m);
  }

  #onDriver(m: DriverCommand): void {
    if (m.job !== this.#opts.job || this.#stopped) return;
    if (this.#loading && m.type !== "StartJob") {
      this.#loading.push(() => this.#onDriver(m));
      return;
    }
    if (m.type === "StartJob") {
      if (this.#run && m.attempt <= this.#run.attempt) return;
      this.#run?.stop();
      this.#run = null;
      this.#startHeartbeat(m.heartbeatMs, m.attempt);
      // Udf modules and join tables load before any task runs; meanwhile messages wait.
      const waiting: Array<() => void> = [];
      this.#loading = waiting;
      const plan = m.plan as PhysicalPlan;
      Promise.all([loadUdfs(plan), loadTables(plan, (p) => readFile(p, "utf8"))]).then(
        () => {
          if (this.#loading !== waiting) return;
          this.#loading = null;
          this.#run = new JobRun(this.#ports, m);
          for (const f of waiting) f();
        },
        (e) => {
          this.#loading = null;
          this.#toDriver({
            type: "TaskFailed",
            job: this.#opts.job,
            attempt: m.attempt,
            executor: this.id,
            batch: -1,
            stage: -1,
            partition: -1,
            error: `cannot start the job: ${(e as Error).message}`,
          });
        },
      );
      return;
    }
    this.#dispatch(m);
  }

  #startHeartbeat(ms: number, attempt: number): void {
    const o = this.#opts;
    this.#heartbeats ??= startHeartbeats(
      { host: o.driverHost, port: o.driverPort, executor: o.id, job: o.job, secret: o.secret, intervalMs: ms },
      (a) => this.#toDriver({ type: "Heartbeat", job: o.job, attempt: a, executor: this.id }),
    );
    this.#heartbeats.setAttempt(attempt);
  }

  #dispatch(m: DriverCommand): void {
    const run = this.#run;
    if (!run || !isCurrent(m, this.#opts.job, run.attempt)) return;
    if (m.type === "Shutdown") {
      this.#toDriver({
        type: "ExecutorStopped",
        job: this.#opts.job,
        attempt: run.attempt,
        executor: this.id,
        rejected: run.takeRejected(),
      });
      void this.#driver.drained().then(() => this.stop());
      return;
    }
    run.onCommand(m);
  }

  #onPeer(c: Connection, m: Message): void {
    if (this.#loading) {
      this.#loading.push(() => this.#onPeer(c, m));
      return;
    }
    const run = this.#run;
    if (!run || this.#lost.has(c.peer)) return;
    const msg = m as PeerMessage;
    if (!isCurrent(msg, this.#opts.job, run.attempt)) return;
    run.onPeer(msg, (reply) => c.send(reply));
  }

  #dropPeer(e: ExecutorId): void {
    this.#lost.add(e);
    this.#peers.get(e)?.then((c) => c.close(), () => {});
    this.#peers.delete(e);
    for (const c of this.#incoming) if (c.peer === e) c.close();
  }

  #sendPeer(e: number, m: PeerMessage): void {
    this.#peer(e)?.then((c) => c.send(m), () => {});
  }

  /** The connection to a peer, opened on first use; undefined for a lost or unknown peer. */
  #peer(e: number): Promise<Connection> | undefined {
    if (this.#lost.has(e)) return undefined;
    let conn = this.#peers.get(e);
    if (!conn) {
      const addr = this.#peerAddr.get(e);
      if (!addr) {
        log.error(`no address for executor ${e}`);
        return undefined;
      }
      conn = connect(addr.host, addr.port, this.id, { secret: this.#opts.secret });
      conn.then((c) => {
        c.onMessage = (msg) => this.#onPeer(c, msg);
        c.onClose = () => {
          if (this.#peers.get(e) === conn) this.#peers.delete(e);
        };
      }, (err) => {
        // The driver notices a lost peer and says so; here it is only a detail.
        if (!this.#lost.has(e) && !this.#stopped) log.debug(`executor ${this.id}: ${(err as Error).message}`);
        if (this.#peers.get(e) === conn) this.#peers.delete(e);
      });
      this.#peers.set(e, conn);
    }
    return conn;
  }
}
