import {
  type Connection,
  type DriverCommand,
  type ExecutorEvent,
  type ExecutorId,
  executorId,
  type PeerAddress,
} from "../wire/mod.ts";

/** A registered executor, as the driver sees it. */
export interface ExecutorState {
  id: ExecutorId;
  conn: Connection;
  host: string;
  port: number;
  alive: boolean;
  stopped: boolean;
  lastSeen: number;
}

/**
 * The driver's executors: their authenticated connections (registered or not yet), the
 * heartbeat channel of each, who registered and who is alive, and when each was last heard
 * from. It decides nothing: the driver says who registered, who is lost and what to send.
 */
export class Executors {
  /** Authenticated connections by the executor id they gave, registered or not yet. */
  readonly #conns = new Map<number, Connection>();
  /** Each executor's heartbeat connection (from its heartbeat thread): heartbeats only. */
  readonly #beats = new Map<number, Connection>();
  readonly #execs = new Map<number, ExecutorState>();
  #lastCheck = performance.now();

  /** Registered executors, live or not. */
  get size(): number {
    return this.#execs.size;
  }

  get(id: ExecutorId): ExecutorState | undefined {
    return this.#execs.get(id);
  }

  has(id: ExecutorId): boolean {
    return this.#execs.has(id);
  }

  /** Ids of every registered executor, in order. */
  ids(): ExecutorId[] {
    return [...this.#execs.keys()].sort((a, b) => a - b).map(executorId);
  }

  /** Ids of the live executors, in order. */
  alive(): ExecutorId[] {
    return [...this.#execs.values()].filter((e) => e.alive).map((e) => e.id).sort((a, b) => a - b);
  }

  /** Where every live executor listens for its peers. */
  peers(): PeerAddress[] {
    return [...this.#execs.values()].filter((e) => e.alive).map((e) => ({
      executor: e.id,
      host: e.host,
      port: e.port,
    }));
  }

  /** Every executor has confirmed shutdown or is gone. */
  allStopped(): boolean {
    return [...this.#execs.values()].every((e) => e.stopped || !e.alive);
  }

  /**
   * A new main connection from executor `from` (replacing an older one). Heartbeat connections
   * go to `heartbeat`: what arrives on them only proves the executor alive, and their loss alone
   * is not the executor's (the main connection and missed heartbeats decide that).
   */
  connected(
    from: ExecutorId,
    conn: Connection,
    onMessage: (m: ExecutorEvent) => void,
    onClose: (reason?: string) => void,
  ): void {
    if (conn.channel === "heartbeat") return this.#heartbeat(from, conn);
    this.#conns.get(from)?.close("replaced by a new connection");
    this.#conns.set(from, conn);
    conn.onMessage = (m) => onMessage(m as ExecutorEvent);
    conn.onClose = onClose;
  }

  #heartbeat(from: ExecutorId, conn: Connection): void {
    this.#beats.get(from)?.close();
    this.#beats.set(from, conn);
    conn.onMessage = (m) => {
      if ((m as ExecutorEvent).type === "Heartbeat") this.heard(from);
    };
    conn.onClose = () => {
      if (this.#beats.get(from) === conn) this.#beats.delete(from);
    };
  }

  /** Any message proves an executor alive. */
  heard(from: ExecutorId): void {
    const e = this.#execs.get(from);
    if (e) e.lastSeen = performance.now();
  }

  /**
   * Executor `from` registered on its main connection, listening for peers at host:port;
   * undefined when it has no main connection.
   */
  register(from: ExecutorId, host: string, port: number): ExecutorState | undefined {
    const conn = this.#conns.get(from);
    if (!conn) return undefined;
    const e = { id: from, conn, host, port, alive: true, stopped: false, lastSeen: performance.now() };
    this.#execs.set(from, e);
    return e;
  }

  /**
   * The live executors not heard from for more than `timeoutMs`, with how long. Called every
   * `intervalMs`: when this check itself ran late (the driver's loop was held up, and messages
   * may be waiting unread) nobody is judged this time.
   */
  silent(timeoutMs: number, intervalMs: number): Array<{ id: ExecutorId; ms: number }> {
    const now = performance.now();
    const stalled = now - this.#lastCheck > timeoutMs / 2;
    this.#lastCheck = now;
    if (stalled) {
      for (const e of this.#execs.values()) e.lastSeen = Math.max(e.lastSeen, now - intervalMs);
      return [];
    }
    return [...this.#execs.values()]
      .filter((e) => e.alive && now - e.lastSeen > timeoutMs)
      .map((e) => ({ id: e.id, ms: Math.round(now - e.lastSeen) }));
  }

  /** Fences a lost executor off: not alive, its connections closed. False when it already was. */
  fence(id: ExecutorId): boolean {
    const e = this.#execs.get(id);
    if (!e || !e.alive || e.stopped) return false;
    e.alive = false;
    e.conn.close();
    this.#beats.get(id)?.close();
    return true;
  }

  /** Sends to a live executor; nothing for one that is gone. */
  send(to: ExecutorId, m: DriverCommand): void {
    const e = this.#execs.get(to);
    if (e?.alive) e.conn.send(m);
  }

  closeAll(): void {
    for (const e of this.#execs.values()) e.conn.close();
    for (const c of this.#conns.values()) c.close();
    for (const c of this.#beats.values()) c.close();
  }
}
