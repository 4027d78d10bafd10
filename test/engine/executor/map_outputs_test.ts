import { describe, expect, test } from "bun:test";
import { KeptOutputs, Outbox, type Output } from "../../../engine/executor/map_outputs.ts";
import { executorId } from "../../../engine/wire/mod.ts";

/** Map task `from` of stage 0: records per reduce partition (4 partitions). */
const out = (from: number, blocks: unknown[][], time = 5): Output => ({
  stage: 0,
  from,
  blocks,
  empty: blocks.every((b) => b.length === 0),
  final: false,
  time,
  maxTime: null,
});

const e0 = executorId(0), e1 = executorId(1);
const targets = [{ executor: e0, partitions: [0, 1] }, { executor: e1, partitions: [2, 3] }];

describe("Outbox", () => {
  test("map tasks agreeing on the batch facts share one entry per destination; only non-empty blocks travel", () => {
    const box = new Outbox();
    expect(box.empty).toBe(true);
    box.add(targets, 7, out(0, [["a"], [], ["c"], []]), null);
    box.add(targets, 7, out(1, [[], [], [], []]), null);
    const sent = box.take();
    expect(box.empty).toBe(true);
    const to0 = sent.get(e0)!, to1 = sent.get(e1)!;
    expect(to0).toHaveLength(1);
    expect(to0[0]).toMatchObject({ batch: 7, stage: 1, froms: [0, 1], partitions: [0, 1] });
    expect(to0[0].blocks).toEqual([{ from: 0, partition: 0, records: ["a"] }]);
    expect(to1[0].blocks).toEqual([{ from: 0, partition: 2, records: ["c"] }]);
  });

  test("different batch facts make a new entry; `only` re-sends just those partitions", () => {
    const box = new Outbox();
    box.add(targets, 7, out(0, [["a"], ["b"], [], []], 5), null);
    box.add(targets, 7, out(1, [["x"], [], [], []], 6), null);
    expect(box.take().get(e0)!.map((o) => o.froms)).toEqual([[0], [1]]);
    box.add(targets, 7, out(0, [["a"], ["b"], ["c"], []]), new Set([1]));
    const sent = box.take();
    expect([...sent.keys()]).toEqual([e0]);
    expect(sent.get(e0)![0].blocks).toEqual([{ from: 0, partition: 1, records: ["b"] }]);
  });
});

describe("KeptOutputs", () => {
  test("serves a batch's stage output, lists what a recovery re-sends, and drops what a checkpoint covers", () => {
    const kept = new KeptOutputs();
    kept.keep(1, out(0, [["a"], [], [], []]));
    kept.keep(2, out(0, [[], ["b"], [], []]));
    kept.keep(2, out(0, [[], ["b2"], [], []])); // the same task again replaces it
    kept.keep(3, out(1, [[], [], ["c"], []]));
    expect(kept.serve(2, 0, [1])[0].blocks).toEqual([{ from: 0, partition: 1, records: ["b2"] }]);
    expect(kept.serve(2, 1, [1])).toEqual([]);
    expect([...kept.since(2)].map(([b, o]) => [b, o.from])).toEqual([[2, 0], [3, 1]]);
    kept.release(3);
    expect(kept.serve(2, 0, [1])).toEqual([]);
    expect([...kept.since(0)].map(([b]) => b)).toEqual([3]);
  });
});
