/**
 * An executor talks only to peers that know the job secret: its shuffle port refuses anyone
 * else, and it refuses a driver that cannot prove itself.
 */
import { afterEach, expect, test } from "bun:test";
import { Executor } from "../../../engine/executor/executor.ts";
import {
  connect,
  type Connection,
  executorId,
  jobId,
  listen,
  type Listener,
  type Message,
} from "../../../engine/wire/mod.ts";

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function fakeDriver(secret: string) {
  const got: Message[] = [];
  let resolveConn!: (c: Connection) => void;
  const conn = new Promise<Connection>((r) => (resolveConn = r));
  const l: Listener = await listen("127.0.0.1", 0, {
    secret,
    onConnection: (c) => {
      c.onMessage = (m) => got.push(m);
      resolveConn(c);
    },
  });
  cleanup.push(() => l.close());
  return { l, got, conn };
}

test("an executor's shuffle port refuses a peer without the job secret", async () => {
  const secret = "s3cret-for-test";
  const d = await fakeDriver(secret);
  const ex = await Executor.start({
    id: executorId(0),
    job: jobId("job1"),
    secret,
    driverHost: "127.0.0.1",
    driverPort: d.l.port,
    listenHost: "127.0.0.1",
  });
  cleanup.push(() => ex.stop());
  await d.conn;
  while (d.got.length === 0) await new Promise((r) => setTimeout(r, 5));
  const reg = d.got[0] as Extract<Message, { type: "ExecutorRegistered" }>;
  expect(reg.type).toBe("ExecutorRegistered");

  await expect(connect("127.0.0.1", reg.port, 1, { secret: "wrong" })).rejects.toThrow();
  // With the secret, the same port accepts.
  const ok = await connect("127.0.0.1", reg.port, 1, { secret });
  expect(ok.closed).toBe(false);
  ok.close();
});

test("an executor refuses a driver that does not know the secret", async () => {
  const d = await fakeDriver("the-driver-secret");
  await expect(
    Executor.start({
      id: executorId(0),
      job: jobId("job1"),
      secret: "another-secret",
      driverHost: "127.0.0.1",
      driverPort: d.l.port,
      listenHost: "127.0.0.1",
    }),
  ).rejects.toThrow(/cannot connect/);
  expect(d.got).toEqual([]);
});
