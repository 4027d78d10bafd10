/**
 * The word count's data plane in one process, without scheduling, sockets or process start:
 * the map stage on each 50 000-line batch (split into 4 partitions), its output through a
 * msgpack frame and back (the wire), and the reduce stage; CPU ms of each, next to the plain
 * Bun loop (`baseline_wordcount.ts`) on the same bytes. It separates what the operators cost
 * from what running them as a distributed job adds.
 *
 *     bun bench/dataplane.ts [MB=50] [reps=3]
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { StageRunner } from "../engine/executor/task.ts";
import { splitAtLines } from "../engine/io/batcher.ts";
import { Rejects } from "../engine/ops/reject.ts";
import { buildPlan, loadPipeline } from "../engine/plan/mod.ts";
import { encodeFrame, FrameDecoder } from "../engine/wire/frame.ts";
import { countWords } from "./baseline_wordcount.ts";
import { textFile } from "./text_file.ts";

const PARTITIONS = 4;
const BATCH_LINES = 50_000;

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function batchesOf(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  let lines = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 10 && ++lines === BATCH_LINES) {
      out.push(data.subarray(start, i + 1));
      start = i + 1;
      lines = 0;
    }
  }
  if (start < data.length) out.push(data.subarray(start));
  return out;
}

function engine(file: string, batches: Uint8Array[]) {
  const plan = buildPlan(loadPipeline(readFileSync(file, "utf8"), file), { partitions: PARTITIONS });
  const map = new StageRunner(plan, 0, new Rejects(false));
  const reduce = new StageRunner(plan, 1, new Rejects(false));
  const t = { map: 0, wire: 0, reduce: 0 };
  let outBytes = 0;
  batches.forEach((batch, b) => {
    // Per reduce partition, the blocks the map tasks sent it (a block is a list of records).
    const toReduce: unknown[][][] = Array.from({ length: PARTITIONS }, () => []);
    splitAtLines(batch, PARTITIONS).forEach((data, p) => {
      const t0 = cpuMs();
      const out = map.run(p, { kind: "source", data, time: 0 }, false);
      const t1 = cpuMs();
      if (out.kind !== "shuffle") throw new Error("the map stage should shuffle");
      const [back] = new FrameDecoder().push(encodeFrame(out.blocks)) as unknown[][][];
      back.forEach((block, q) => toReduce[q].push(block));
      t.map += t1 - t0;
      t.wire += cpuMs() - t1;
    });
    const t2 = cpuMs();
    toReduce.forEach((blocks, p) => {
      const out = reduce.run(p, { kind: "shuffle", blocks, time: 0, maxTime: null }, b === batches.length - 1);
      if (out.kind === "sink") outBytes += out.data.length;
    });
    t.reduce += cpuMs() - t2;
  });
  return { ...t, outBytes };
}

if (import.meta.main) {
  const mb = Number(process.argv[2] ?? 50);
  const reps = Number(process.argv[3] ?? 3);
  const data = new Uint8Array(readFileSync(textFile(mb * 1_000_000)));
  const batches = batchesOf(data);
  const pipeline = new URL("../pipelines/wordcount.yaml", import.meta.url).pathname;
  for (let r = 0; r < reps; r++) {
    const e = engine(pipeline, batches);
    const t0 = cpuMs();
    const counts = await countWords((function* () {
      for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536);
    })() as unknown as AsyncIterable<Uint8Array>);
    const loop = cpuMs() - t0;
    const total = e.map + e.wire + e.reduce;
    console.log(
      `${mb} MB: engine map ${e.map.toFixed(0)} + wire ${e.wire.toFixed(0)} + reduce ${e.reduce.toFixed(0)} = ` +
        `${total.toFixed(0)} ms CPU (${e.outBytes} bytes out); Bun loop ${
          loop.toFixed(0)
        } ms (${counts.size} words); ` +
        `engine / loop ${(total / loop).toFixed(2)}x`,
    );
  }
}
