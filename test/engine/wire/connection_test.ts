import { afterEach, describe, expect, test } from "bun:test";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { newNonce, newSecret, prove } from "../../../engine/wire/auth.ts";
import { connect, type Connection, listen, type Listener } from "../../../engine/wire/connection.ts";
import { encodeFrame, FrameDecoder } from "../../../engine/wire/frame.ts";
import { jobId, type Message, PROTOCOL } from "../../../engine/wire/messages.ts";

const HOST = "127.0.0.1";
const job = jobId("job-1");

// Everything a test opens is closed after it, whether it passed or not.
let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  const todo = cleanups.reverse();
  cleanups = [];
  for (const c of todo) await c();
});
const track = <T extends Listener | Connection | Socket | Server>(x: T): T => {
  if ("closed" in x && "send" in x) cleanups.push(() => x.close());
  else if ("destroy" in x) cleanups.push(() => x.destroy());
  else if ("server" in x) cleanups.push(() => x.close());
  else cleanups.push(() => new Promise((r) => x.close(() => r(undefined))));
  return x;
};

/** A listener that records what it accepted and refused. */
async function server(secret: string, maxFrameBytes?: number) {
  const accepted: Connection[] = [];
  const refused: string[] = [];
  let onRefused = (_reason: string) => {};
  let onAccepted = (_c: Connection) => {};
  const listener = track(
    await listen(HOST, 0, {
      secret,
      maxFrameBytes,
      onConnection: (c) => {
        accepted.push(track(c));
        onAccepted(c);
      },
      onRefused: (reason) => {
        refused.push(reason);
        onRefused(reason);
      },
    }),
  );
  const nextRefusal = () => new Promise<string>((r) => (onRefused = r));
  const nextConnection = () => new Promise<Connection>((r) => (onAccepted = r));
  return { listener, accepted, refused, nextRefusal, nextConnection };
}

/** The error a promise rejects with (bun's `expect().rejects` stalls on pending socket I/O). */
async function rejection(p: Promise<unknown>): Promise<string> {
  const error = await p.then(() => null, (e: Error) => e);
  if (!(error instanceof Error)) throw new Error("expected a rejection");
  return error.message;
}

const nextMessage = (c: Connection) => new Promise<Message>((r) => (c.onMessage = r));

/** A plain TCP socket to `port` that decodes whatever frames come back. */
function rawClient(port: number) {
  const socket = track(createConnection({ host: HOST, port }));
  const decoder = new FrameDecoder();
  const frames: Record<string, unknown>[] = [];
  let onFrame = () => {};
  socket.on("data", (chunk: Uint8Array) => {
    frames.push(...(decoder.push(chunk) as Record<string, unknown>[]));
    onFrame();
  });
  socket.on("error", () => {}); // the server resets refused peers
  const closed = new Promise<void>((r) => socket.on("close", () => r()));
  const challenge = new Promise<Record<string, unknown>>((r) => (onFrame = () => frames.length && r(frames[0])));
  return { socket, closed, challenge, frames };
}

/** A fake server that answers the handshake with `reply(clientAuthenticate)`, for client-side checks. */
async function fakeServer(reply: (auth: { nonce: Uint8Array }) => Uint8Array) {
  const srv = track(
    createServer((socket) => {
      track(socket);
      socket.on("error", () => {});
      const decoder = new FrameDecoder();
      socket.write(encodeFrame({ type: "Challenge", nonce: newNonce() }));
      socket.on("data", (chunk: Uint8Array) => {
        for (const m of decoder.push(chunk) as { type: string; nonce: Uint8Array }[]) {
          if (m.type === "Authenticate") socket.write(reply(m));
        }
      });
    }),
  );
  await new Promise<void>((r) => srv.listen(0, HOST, () => r()));
  return (srv.address() as { port: number }).port;
}

describe("listen + connect", () => {
  test("peers with the same secret exchange messages both ways", async () => {
    const secret = newSecret();
    const s = await server(secret);
    const accepted = s.nextConnection();
    const client = track(await connect(HOST, s.listener.port, 7, { secret }));
    const onServer = await accepted;
    expect(onServer.peer).toBe(7);
    expect(client.peer).toBe(-1);

    const toServer: Message = {
      type: "InputChunk",
      job,
      attempt: 1,
      batch: 0,
      chunks: [{ partition: 3, data: Uint8Array.of(1, 2, 3, 255) }],
      empty: [1, 5],
      final: false,
      time: 1700000000000,
    };
    const atServer = nextMessage(onServer);
    expect(client.send(toServer)).toBeBoolean();
    expect(await atServer).toEqual(toServer);

    const toClient: Message = {
      type: "ShuffleBlocks",
      job,
      attempt: 1,
      outputs: [{
        batch: 0,
        stage: 1,
        froms: [2, 3],
        partitions: [0, 1],
        final: true,
        time: 1700000000000,
        maxTime: null,
        blocks: [{ from: 2, partition: 0, records: [["a", 1], ["b", [2, [3]]]] }],
      }],
    };
    const atClient = nextMessage(client);
    onServer.send(toClient);
    expect(await atClient).toEqual(toClient);
    expect(s.refused).toEqual([]);
  });

  test("a client with a wrong secret is rejected and never reaches onConnection", async () => {
    const s = await server(newSecret());
    const refusal = s.nextRefusal();
    expect(await rejection(connect(HOST, s.listener.port, 1, { secret: newSecret() }))).toMatch(/cannot connect/);
    expect(await refusal).toMatch(/failed to prove it knows the job secret/);
    expect(s.accepted).toHaveLength(0);
  });

  test("a client rejects a server that cannot prove it knows the secret", async () => {
    const secret = newSecret();
    // Real server with another secret: it refuses us, and we cannot accept it either.
    const other = await server(newSecret());
    expect(await rejection(connect(HOST, other.listener.port, 1, { secret }))).toMatch(/^cannot connect/);
    // A fake server that accepts anyone but proves with the wrong secret.
    const liar = await fakeServer((a) =>
      encodeFrame({ type: "Authenticated", proof: prove("guess", "server", a.nonce) })
    );
    expect(await rejection(connect(HOST, liar, 1, { secret }))).toMatch(/server failed to prove/);
    // A proof made for the other role (a reflected client proof) does not count either.
    const reflector = await fakeServer((a) =>
      encodeFrame({ type: "Authenticated", proof: prove(secret, "client", a.nonce) })
    );
    expect(await rejection(connect(HOST, reflector, 1, { secret }))).toMatch(/server failed to prove/);
    // The same fake server with the right proof is accepted: the checks above fail for the proof.
    const genuine = await fakeServer((a) =>
      encodeFrame({ type: "Authenticated", proof: prove(secret, "server", a.nonce) })
    );
    expect(track(await connect(HOST, genuine, 1, { secret })).closed).toBe(false);
  });
});

describe("the server drops peers that fail the handshake", () => {
  type Payload = (proof: (role: "client" | "server") => Uint8Array) => Uint8Array;
  const authenticate = (fields: Record<string, unknown>) =>
    encodeFrame({ type: "Authenticate", nonce: newNonce(), from: 1, ...fields });
  // [what, the bytes sent, what the refusal must say beyond "refused connection from"]
  const cases: Array<[string, Payload, string?]> = [
    ["a well-formed frame that is not an Authenticate", () => encodeFrame({ type: "Hello", from: 1 })],
    ["an Authenticate without a proof", () => authenticate({})],
    ["an Authenticate whose proof is for the server role", (proof) => authenticate({ proof: proof("server") })],
    [
      "an Authenticate with a valid proof but a non-numeric 'from'",
      (p) => authenticate({ proof: p("client"), from: "1" }),
    ],
    ["an Authenticate with a valid proof but a string nonce", (p) => authenticate({ proof: p("client"), nonce: "n" })],
    ["garbage bytes (an impossible frame length)", () => Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3)],
    ["a frame whose body is not msgpack", () => Uint8Array.of(0, 0, 0, 2, 0x92, 0x01)],
    [
      // What a build from before protocol versions sends: a valid proof, no protocol.
      "an Authenticate with a valid proof from a build of another wire protocol",
      (p) => authenticate({ proof: p("client") }),
      `speaks wire protocol 1, this drizzle speaks ${PROTOCOL}`,
    ],
  ];
  test("(control) a raw client with a valid Authenticate is accepted", async () => {
    const secret = newSecret();
    const s = await server(secret);
    const accepted = s.nextConnection();
    const raw = rawClient(s.listener.port);
    const nonce = (await raw.challenge).nonce as Uint8Array;
    raw.socket.write(
      encodeFrame({ type: "Authenticate", proof: prove(secret, "client", nonce), nonce, from: 4, protocol: PROTOCOL }),
    );
    expect((await accepted).peer).toBe(4);
    expect(s.refused).toEqual([]);
  });

  for (const [what, payload, reason] of cases) {
    test(what, async () => {
      const secret = newSecret();
      const s = await server(secret);
      const refusal = s.nextRefusal();
      const raw = rawClient(s.listener.port);
      const challenge = await raw.challenge;
      expect(challenge.type).toBe("Challenge");
      raw.socket.write(payload((role) => prove(secret, role, challenge.nonce as Uint8Array)));
      await raw.closed;
      const refused = await refusal;
      expect(refused).toMatch(/^refused connection from /);
      if (reason) expect(refused).toContain(reason);
      expect(s.accepted).toHaveLength(0);
      // Nothing but the challenge was sent back: no Authenticated for a failed handshake.
      expect(raw.frames.map((f) => f.type)).toEqual(["Challenge"]);
    });
  }
});

describe("after the handshake", () => {
  test("a frame above the receiver's limit closes the connection with a reason", async () => {
    const secret = newSecret();
    const s = await server(secret, 256); // room for the handshake, not for 1000 bytes of data
    const accepted = s.nextConnection();
    const client = track(await connect(HOST, s.listener.port, 5, { secret }));
    const onServer = await accepted;
    const closed = new Promise<string | undefined>((r) => (onServer.onClose = r));
    const got: Message[] = [];
    onServer.onMessage = (m) => got.push(m);
    client.send({
      type: "SinkData",
      job,
      attempt: 1,
      parts: [{ batch: 0, partition: 0, data: new Uint8Array(1000), records: 1 }],
      empty: [],
    });
    expect(await closed).toMatch(/dropped connection from peer 5: .*larger than the limit of 256/);
    expect(onServer.closed).toBe(true);
    expect(onServer.send({ type: "Shutdown", job, attempt: 1 })).toBe(false);
    expect(got).toEqual([]);
  });

  // Messages that arrive together with the handshake reply are kept for the handler.
  test("a message the server sends in onConnection reaches the client", async () => {
    const secret = newSecret();
    const listener = track(
      await listen(HOST, 0, {
        secret,
        onConnection: (c) => {
          track(c);
          c.send({ type: "Shutdown", job, attempt: 1 });
          c.onMessage = () => c.send({ type: "Shutdown", job, attempt: 2 });
        },
      }),
    );
    const client = track(await connect(HOST, listener.port, 1, { secret }));
    const got: number[] = [];
    const done = new Promise<void>((r) => {
      client.onMessage = (m) => {
        got.push((m as { attempt: number }).attempt);
        if (got.includes(2)) r();
      };
    });
    client.send({ type: "Shutdown", job, attempt: 0 }); // asks the server for its second message
    await done;
    expect(got).toEqual([1, 2]);
  });
});

describe("a reader slower than the writer", () => {
  /** 40 one-megabyte InputChunks, each filled with its own number. */
  const chunks = Array.from({ length: 40 }, (_, i): Message => ({
    type: "InputChunk",
    job,
    attempt: 1,
    batch: i,
    chunks: [{ partition: 0, data: new Uint8Array(1 << 20).fill(i) }],
    empty: [],
    final: false,
    time: 0,
  }));

  async function pausedPair() {
    const secret = newSecret();
    const s = await server(secret);
    const accepted = s.nextConnection();
    const client = track(await connect(HOST, s.listener.port, 2, { secret }));
    const onServer = await accepted;
    onServer.socket.pause();
    const got: number[] = [];
    let whole = true;
    onServer.onMessage = (m) => {
      const c = m as { batch: number; chunks: { data: Uint8Array }[] };
      got.push(c.batch);
      whole &&= c.chunks[0].data.length === 1 << 20 && c.chunks[0].data.every((x) => x === c.batch);
    };
    const received = (n: number) => until(() => got.length >= n);
    return { client, onServer, got, whole: () => whole, received };
  }

  async function until(cond: () => boolean): Promise<void> {
    for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    if (!cond()) throw new Error("condition never held");
  }

  // Handed to the socket beyond what it takes, the runtime copies and re-copies the rest.
  test("what the socket cannot take waits in the connection, and all of it arrives in order", async () => {
    const { client, onServer, got, whole, received } = await pausedPair();
    let full = false;
    for (const m of chunks) full = !client.send(m) || full;
    await new Promise((r) => setTimeout(r, 50));
    expect(full).toBe(true);
    // The kernel's buffers hold a few MB: most of the 40 MB is still queued, by reference.
    expect(client.queuedBytes).toBeGreaterThan(20 << 20);
    const drained = client.drained();
    onServer.socket.resume();
    await drained;
    expect(client.queuedBytes).toBe(0);
    await received(chunks.length);
    expect(got).toEqual(chunks.map((_, i) => i));
    expect(whole()).toBe(true);
  });

  test("close() still delivers what was queued", async () => {
    const { client, onServer, got, whole, received } = await pausedPair();
    for (const m of chunks) client.send(m);
    client.close();
    onServer.socket.resume();
    await received(chunks.length);
    expect(got).toEqual(chunks.map((_, i) => i));
    expect(whole()).toBe(true);
  });
});
