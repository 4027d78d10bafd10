import { describe, expect, test } from "bun:test";
import { Executors } from "../../../engine/driver/executors.ts";
import { type Connection, executorId, type Message } from "../../../engine/wire/mod.ts";

/** A connection that records what is sent on it and whether it was closed. */
function fakeConn(peer: number, channel: "main" | "heartbeat" = "main") {
  const c = {
    peer,
    channel,
    sent: [] as Message[],
    closed: 0,
    onMessage: (_m: Message) => {},
    onClose: (_r?: string) => {},
    send(m: Message) {
      c.sent.push(m);
      return true;
    },
    close() {
      c.closed++;
    },
  };
  return c;
}

const asConn = (c: ReturnType<typeof fakeConn>) => c as unknown as Connection;
const id = executorId;

describe("Executors", () => {
  test("registers only executors with a main connection; alive, peers and send follow fencing", () => {
    const xs = new Executors();
    expect(xs.register(id(0), "h0", 1000)).toBeUndefined();
    const c0 = fakeConn(0), c1 = fakeConn(1);
    const seen: Message[] = [];
    xs.connected(id(0), asConn(c0), (m) => seen.push(m), () => {});
    xs.connected(id(1), asConn(c1), () => {}, () => {});
    xs.register(id(1), "h1", 1001);
    xs.register(id(0), "h0", 1000);
    expect(xs.ids()).toEqual([id(0), id(1)]);
    expect(xs.peers().map((p) => p.host).sort()).toEqual(["h0", "h1"]);
    c0.onMessage({ type: "Heartbeat" } as Message);
    expect(seen).toHaveLength(1);

    expect(xs.fence(id(0))).toBe(true);
    expect(xs.fence(id(0))).toBe(false);
    expect(c0.closed).toBe(1);
    expect(xs.alive()).toEqual([id(1)]);
    xs.send(id(0), { type: "Shutdown" } as never);
    xs.send(id(1), { type: "Shutdown" } as never);
    expect(c0.sent).toHaveLength(0);
    expect(c1.sent).toHaveLength(1);
    expect(xs.allStopped()).toBe(false);
    xs.get(id(1))!.stopped = true;
    expect(xs.allStopped()).toBe(true);
  });

  test("a second main connection replaces the first; a heartbeat channel only marks the executor heard", () => {
    const xs = new Executors();
    const old = fakeConn(0), fresh = fakeConn(0), beat = fakeConn(0, "heartbeat");
    xs.connected(id(0), asConn(old), () => {}, () => {});
    xs.connected(id(0), asConn(fresh), () => {}, () => {});
    expect(old.closed).toBe(1);
    const e = xs.register(id(0), "h", 1)!;
    expect(e.conn).toBe(asConn(fresh));
    const messages: Message[] = [];
    xs.connected(id(0), asConn(beat), (m) => messages.push(m), () => {});
    e.lastSeen = 0;
    beat.onMessage({ type: "Heartbeat" } as Message);
    expect(e.lastSeen).toBeGreaterThan(0);
    expect(messages).toEqual([]);
    xs.fence(id(0));
    expect(beat.closed).toBe(1);
  });

  test("a check that itself ran late judges nobody and counts everyone as just heard", async () => {
    const xs = new Executors();
    xs.connected(id(0), asConn(fakeConn(0)), () => {}, () => {});
    const e = xs.register(id(0), "h", 1)!;
    e.lastSeen = 0; // silent for as long as the process has run
    await Bun.sleep(120); // more than half the timeout since the last check (construction)
    expect(xs.silent(200, 50)).toEqual([]);
    expect(e.lastSeen).toBeGreaterThan(0);
    // A timely check (well within half of a 1000 s timeout) judges: silent for 2000 s is lost.
    e.lastSeen = performance.now() - 2e6;
    expect(xs.silent(1e6, 50).map((s) => s.id)).toEqual([id(0)]);
    e.lastSeen = performance.now();
    expect(xs.silent(1e6, 50)).toEqual([]);
  });
});
