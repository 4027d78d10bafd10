import { createConnection, createServer, type Server, type Socket } from "node:net";
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, encodeFrameParts, FrameDecoder, FrameError } from "./frame.ts";
import { newNonce, prove, verify } from "./auth.ts";
import { buffersPassed } from "../runtime/mod.ts";
import { type Authenticate, type Authenticated, type Challenge, type Message, PROTOCOL } from "./messages.ts";

/** How long a peer has to complete the handshake before it is dropped. */
export const HANDSHAKE_TIMEOUT_MS = 5000;

/** Queued frames are written at once when they reach this size (and a frame this big alone). */
const FLUSH_BYTES = 64 * 1024;

export interface ConnectionOptions {
  secret: string;
  maxFrameBytes?: number;
  /** connect(): open an executor's heartbeat connection rather than its main one. */
  channel?: "heartbeat";
}

/**
 * An authenticated, framed, message-oriented TCP connection. Created only by `connect` and
 * `listen`, after the handshake succeeded, so every message it delivers is from a peer that
 * knows the job's secret.
 */
export class Connection {
  #handler: ((m: Message) => void) | null = null;
  /** Messages that arrived before a handler was set; delivered when it is. */
  #early: Message[] = [];

  /** The message handler. Messages that arrive before it is set are kept and handed to it. */
  get onMessage(): (m: Message) => void {
    return this.#handler ?? ((m) => this.#early.push(m));
  }
  set onMessage(h: (m: Message) => void) {
    this.#handler = h;
    const early = this.#early.splice(0);
    for (const m of early) if (!this.#closed) h(m);
  }
  /** Called once when the connection ends, with the reason if it was an error. */
  onClose: (reason?: string) => void = () => {};
  #closed = false;
  #drain: Array<() => void> = [];
  /**
   * Writes held back while the socket's buffer is full, by reference (no copy). Handing the
   * runtime more than the socket takes makes it copy the rest into a growing buffer and shift
   * it on every partial write: about 4x the CPU of waiting for "drain" (bench/socket.ts).
   */
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #blocked = false;
  /** Frames sent in this turn of the event loop, written together at its end (one syscall). */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  constructor(
    readonly socket: Socket,
    readonly decoder: FrameDecoder,
    /** The id the client gave in the handshake (executor id, or -1 for the driver). */
    readonly peer: number,
    /** What the client opened it for: "main", or "heartbeat" (heartbeats only). */
    readonly channel: "main" | "heartbeat" = "main",
  ) {
    socket.on("drain", () => {
      this.#blocked = false;
      this.#writeQueued();
      if (this.#blocked) return;
      const waiting = this.#drain;
      this.#drain = [];
      for (const w of waiting) w();
    });
  }

  /** Starts delivering messages; `leftover` are those that arrived with the handshake. */
  start(leftover: unknown[]): void {
    const s = this.socket;
    s.removeAllListeners("data");
    s.on("data", (chunk: Uint8Array) => {
      buffersPassed(chunk.length);
      let messages: unknown[];
      try {
        messages = this.decoder.push(chunk);
      } catch (e) {
        this.close(`dropped connection from peer ${this.peer}: ${(e as Error).message}`);
        return;
      }
      for (const m of messages) {
        if (this.#closed) return;
        this.onMessage(m as Message);
      }
    });
    s.on("close", () => this.#finish());
    s.on("error", (e) => this.#finish(e.message));
    for (const m of leftover) this.onMessage(m as Message);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues a message; false means the socket buffer is full (await `drained()` to pace).
   * Messages sent in one turn of the event loop go out in one write when the turn ends, so a
   * burst of small messages (a task's reports, a batch's input chunks) costs one syscall.
   */
  send(m: Message): boolean {
    if (this.#closed) return false;
    // A frame may come in parts (attachments: the caller's buffers), written in order.
    const parts = encodeFrameParts(m);
    if (this.#pending.length === 0) queueMicrotask(() => this.#flush());
    for (const part of parts) {
      this.#pending.push(part);
      this.#pendingBytes += part.length;
    }
    if (this.#pendingBytes >= FLUSH_BYTES) this.#flush();
    return !this.#blocked;
  }

  /** Bytes handed to `send` and not yet given to the socket. */
  get queuedBytes(): number {
    return this.#pendingBytes + this.#queuedBytes;
  }

  #write(b: Uint8Array): void {
    if (this.#blocked) {
      this.#queue.push(b);
      this.#queuedBytes += b.length;
    } else if (!this.socket.write(b)) this.#blocked = true;
  }

  #writeQueued(): void {
    const q = this.#queue;
    let i = 0;
    while (i < q.length && !this.#blocked) {
      const b = q[i++];
      this.#queuedBytes -= b.length;
      if (!this.socket.write(b)) this.#blocked = true;
    }
    q.splice(0, i);
  }

  /** Writes the queued frames: small ones joined into one buffer, large ones as they are. */
  #flush(): void {
    const frames = this.#pending;
    if (frames.length === 0) return;
    this.#pending = [];
    this.#pendingBytes = 0;
    if (this.#closed) return;
    if (frames.length === 1) {
      this.#write(frames[0]);
      return;
    }
    let run: Uint8Array[] = [];
    const writeRun = () => {
      if (run.length > 0) this.#write(run.length === 1 ? run[0] : Buffer.concat(run));
      run = [];
    };
    for (const f of frames) {
      if (f.length >= FLUSH_BYTES) {
        writeRun();
        this.#write(f);
      } else run.push(f);
    }
    writeRun();
  }

  /** Resolves when everything sent has been handed to the socket and its buffer is not full. */
  drained(): Promise<void> {
    this.#flush();
    if (!this.#blocked || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drain.push(resolve));
  }

  close(reason?: string): void {
    if (this.#closed) return;
    this.#flush();
    // What is still held back goes to the socket's own buffer, which end() writes out.
    for (const b of this.#queue.splice(0)) this.socket.write(b);
    this.#queuedBytes = 0;
    this.socket.end();
    this.socket.destroySoon?.();
    this.#finish(reason);
  }

  #finish(reason?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    const waiting = this.#drain;
    this.#drain = [];
    for (const w of waiting) w();
    this.onClose(reason);
  }
}

/** Reads handshake frames off a socket until `want` says it has what it needs. */
function handshakeReader(socket: Socket, decoder: FrameDecoder) {
  const queue: unknown[] = [];
  let wake: (() => void) | null = null;
  let failure: string | null = null;
  socket.on("data", (chunk: Uint8Array) => {
    try {
      queue.push(...decoder.push(chunk));
    } catch (e) {
      failure = e instanceof FrameError ? e.message : String(e);
    }
    wake?.();
  });
  socket.on("error", (e) => {
    failure = e.message;
    wake?.();
  });
  socket.on("close", () => {
    failure ??= "connection closed during handshake";
    wake?.();
  });
  return {
    queue,
    async next(): Promise<unknown> {
      while (queue.length === 0) {
        if (failure) throw new Error(failure);
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
      return queue.shift();
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms}ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Connects and authenticates as `from` (an executor id). Rejects if the server is not genuine. */
export async function connect(
  host: string,
  port: number,
  from: number,
  opts: ConnectionOptions,
): Promise<Connection> {
  const socket = createConnection({ host, port });
  socket.setNoDelay(true);
  const decoder = new FrameDecoder(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
  const reader = handshakeReader(socket, decoder);
  try {
    await withTimeout(
      (async () => {
        const challenge = (await reader.next()) as Challenge;
        if (challenge?.type !== "Challenge" || !(challenge.nonce instanceof Uint8Array)) {
          throw new Error("expected a Challenge");
        }
        const nonce = newNonce();
        const auth: Authenticate = {
          type: "Authenticate",
          proof: prove(opts.secret, "client", challenge.nonce),
          nonce,
          from,
          protocol: PROTOCOL,
          ...(opts.channel ? { channel: opts.channel } : {}),
        };
        socket.write(encodeFrame(auth));
        const reply = (await reader.next()) as Authenticated;
        if (reply?.type !== "Authenticated" || !verify(opts.secret, "server", nonce, reply.proof)) {
          throw new Error("server failed to prove it knows the job secret");
        }
      })(),
      HANDSHAKE_TIMEOUT_MS,
      `handshake with ${host}:${port}`,
    );
  } catch (e) {
    socket.destroy();
    throw new Error(`cannot connect to ${host}:${port}: ${(e as Error).message}`);
  }
  const conn = new Connection(socket, decoder, -1);
  queueMicrotask(() => conn.start(reader.queue.splice(0)));
  return conn;
}

export interface Listener {
  host: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/**
 * Listens for authenticated connections. A peer that fails the handshake is closed and reported
 * through `onRefused`; `onConnection` only ever sees authenticated peers.
 */
export function listen(
  host: string,
  port: number,
  opts: ConnectionOptions & {
    onConnection: (c: Connection) => void;
    /** `authFailed`: the peer completed a handshake that failed (not just a broken socket). */
    onRefused?: (reason: string, authFailed: boolean) => void;
  },
): Promise<Listener> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    const reader = handshakeReader(socket, decoder);
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const nonce = newNonce();
    const challenge: Challenge = { type: "Challenge", nonce };
    socket.write(encodeFrame(challenge));
    withTimeout(
      (async () => {
        const auth = (await reader.next()) as Authenticate;
        if (auth?.type !== "Authenticate" || !verify(opts.secret, "client", nonce, auth.proof)) {
          throw new Error("peer failed to prove it knows the job secret");
        }
        if (!(auth.nonce instanceof Uint8Array) || typeof auth.from !== "number") {
          throw new Error("malformed Authenticate");
        }
        if (auth.protocol !== PROTOCOL) {
          throw new Error(
            `peer ${auth.from} speaks wire protocol ${auth.protocol ?? 1}, this drizzle speaks ${PROTOCOL}: ` +
              `run the same version of drizzle everywhere`,
          );
        }
        const reply: Authenticated = { type: "Authenticated", proof: prove(opts.secret, "server", auth.nonce) };
        socket.write(encodeFrame(reply));
        return { from: auth.from, channel: auth.channel === "heartbeat" ? "heartbeat" as const : "main" as const };
      })(),
      HANDSHAKE_TIMEOUT_MS,
      "handshake",
    ).then(
      ({ from, channel }) => {
        const conn = new Connection(socket, decoder, from, channel);
        opts.onConnection(conn);
        conn.start(reader.queue.splice(0));
      },
      (e) => {
        // A peer that talked but could not prove itself is worth a warning; one whose
        // connection merely broke during the handshake (it died) is not.
        const message = (e as Error).message;
        const spoke = !/closed during handshake|ECONNRESET|EPIPE|timed out/.test(message);
        opts.onRefused?.(`refused connection from ${peer}: ${message}`, spoke);
        socket.destroy();
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const addr = server.address();
      const bound = typeof addr === "object" && addr ? addr.port : port;
      resolve({
        host,
        port: bound,
        server,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}
