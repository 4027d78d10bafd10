import { describe, expect, test } from "bun:test";
import { Committer } from "../../../engine/driver/commit.ts";
import type { SinkWriter } from "../../../engine/io/sink.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A SinkWriter that records writes; with `manual`, each write resolves only when released. */
class FakeSink implements SinkWriter {
  readonly writes: string[] = [];
  readonly log: string[] = [];
  gone = false;
  #pending: Array<() => void> = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(readonly manual = false) {}

  write(data: Uint8Array): Promise<void> {
    const s = dec.decode(data);
    this.writes.push(s);
    this.log.push(`write ${s}`);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const finish = () => {
      this.inFlight--;
      this.log.push(`wrote ${s}`);
    };
    if (!this.manual) {
      finish();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#pending.push(() => (finish(), resolve())));
  }

  /** Lets the oldest pending write complete. */
  release(): boolean {
    const r = this.#pending.shift();
    r?.();
    return r !== undefined;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function setup(partitions: number, manual = false) {
  const sink = new FakeSink(manual);
  const committed: number[] = [];
  const c = new Committer(sink, partitions, (b) => {
    committed.push(b);
    sink.log.push(`committed ${b}`);
  });
  const add = (batch: number, partition: number, s: string, records = s.split("\n").length - 1) =>
    c.add(batch, partition, enc.encode(s), records);
  return { sink, committed, c, add };
}

/** Lets queued promise callbacks run. */
const ticks = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe("Committer", () => {
  test("commits batches in batch order when parts arrive out of order", async () => {
    const { sink, committed, c, add } = setup(2);
    add(2, 1, "b2p1\n");
    add(1, 0, "b1p0\n");
    add(1, 1, "b1p1\n");
    add(2, 0, "b2p0\n");
    await c.flushed();
    expect(sink.writes).toEqual([]);
    expect(c.next).toBe(0);
    add(0, 1, "b0p1\n");
    await c.flushed();
    expect(sink.writes).toEqual([]);
    add(0, 0, "b0p0\n");
    expect(c.next).toBe(3);
    await c.flushed();
    // Parts are concatenated in partition order, not arrival order.
    expect(sink.writes).toEqual(["b0p0\nb0p1\n", "b1p0\nb1p1\n", "b2p0\nb2p1\n"]);
    expect(committed).toEqual([0, 1, 2]);
  });

  test("a batch is written only when every partition has reported", async () => {
    const { sink, c, add } = setup(3);
    add(0, 0, "a\n");
    add(0, 2, "c\n");
    await c.flushed();
    expect(sink.writes).toEqual([]);
    expect(c.next).toBe(0);
    add(0, 1, "b\n");
    await c.flushed();
    expect(sink.writes).toEqual(["a\nb\nc\n"]);
    expect(c.next).toBe(1);
  });

  test("a duplicate part is ignored: the first copy is written exactly once", async () => {
    const { sink, committed, c, add } = setup(2);
    add(0, 0, "first\n");
    add(0, 0, "rerun\nrerun\n");
    await c.flushed();
    expect(sink.writes).toEqual([]);
    add(0, 1, "other\n");
    // A re-run of a batch that is already committed is ignored too.
    add(0, 1, "late duplicate\n");
    add(0, 0, "late duplicate\n");
    await c.flushed();
    expect(sink.writes).toEqual(["first\nother\n"]);
    expect(committed).toEqual([0]);
    expect(c.recordsOut).toBe(2);
  });

  test("empty parts count once each, and a batch of them is committed with the others", async () => {
    const { sink, committed, c, add } = setup(3);
    c.addEmpty(0, [0, 2]);
    // An empty part reported again (a re-run task) does not stand in for partition 1.
    c.addEmpty(0, [2]);
    await c.flushed();
    expect(c.next).toBe(0);
    add(0, 1, "b\n");
    c.addEmpty(1, [0, 1, 2]);
    await c.flushed();
    expect(sink.writes).toEqual(["b\n", ""]);
    expect(committed).toEqual([0, 1]);
  });

  test("onCommitted is called in order, after that batch's write has completed", async () => {
    const { sink, committed, c, add } = setup(1, true);
    add(1, 0, "one\n");
    add(0, 0, "zero\n");
    add(2, 0, "two\n");
    await ticks();
    // Writes are serialized: the second starts only after the first has finished.
    expect(sink.writes).toEqual(["zero\n"]);
    expect(committed).toEqual([]);
    while (sink.release()) await ticks();
    await c.flushed();
    expect(sink.maxInFlight).toBe(1);
    expect(committed).toEqual([0, 1, 2]);
    expect(sink.log).toEqual([
      "write zero\n",
      "wrote zero\n",
      "committed 0",
      "write one\n",
      "wrote one\n",
      "committed 1",
      "write two\n",
      "wrote two\n",
      "committed 2",
    ]);
  });

  test("recordsOut counts the records of every accepted part", async () => {
    const { c, add } = setup(2);
    expect(c.recordsOut).toBe(0);
    add(0, 0, "a\nb\n");
    expect(c.recordsOut).toBe(2);
    add(1, 1, "c\n");
    add(0, 1, "", 0);
    add(1, 0, "d\ne\nf\n");
    expect(c.recordsOut).toBe(6);
    add(1, 0, "dup\n");
    expect(c.recordsOut).toBe(6);
    await c.flushed();
  });

  test("a single partition passes each part through; empty parts still commit", async () => {
    const { sink, committed, c, add } = setup(1);
    add(0, 0, "x\n");
    add(1, 0, "", 0);
    add(2, 0, "y\n");
    await c.flushed();
    expect(sink.writes).toEqual(["x\n", "", "y\n"]);
    expect(committed).toEqual([0, 1, 2]);
    expect(c.next).toBe(3);
  });

  test("random arrival orders with duplicates always give the same output", async () => {
    let seed = 12345;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const parts: Array<[number, number]> = [];
    for (let b = 0; b < 6; b++) for (let p = 0; p < 3; p++) parts.push([b, p]);
    const expected = Array.from({ length: 6 }, (_, b) => [0, 1, 2].map((p) => `${b}.${p}\n`).join(""));
    for (let trial = 0; trial < 20; trial++) {
      const { sink, committed, c, add } = setup(3);
      const order = [...parts, ...parts.filter(() => rnd() < 0.3)].sort(() => rnd() - 0.5);
      for (const [b, p] of order) add(b, p, `${b}.${p}\n`);
      await c.flushed();
      expect(sink.writes).toEqual(expected);
      expect(committed).toEqual([0, 1, 2, 3, 4, 5]);
      expect(c.recordsOut).toBe(18);
    }
  });
});
