import { createHash } from "node:crypto";
import type { PhysicalPlan } from "../plan/plan.ts";
import { log } from "../log.ts";
import type { CheckpointData } from "./checkpoints.ts";
import type { CheckpointStore } from "./checkpoint_store.ts";
import { RunError } from "./types.ts";

/** Where a resumed run picks up, read back from its checkpoint directory. */
export interface ResumePoint {
  checkpoint: CheckpointData;
  /** Input line bytes the checkpoint covers (skipped on re-reading). */
  offset: number;
  /** The last batch whose output was committed, and the sink's size just after it. */
  committed: number;
  sinkBytes: number;
  /** Record counts and processing times of the batches after the checkpoint, as first cut. */
  cuts: Array<{ records: number; time: number }>;
  /** The run had already finished: there is nothing to do. */
  complete: boolean;
}

/** A fingerprint of the plan: a checkpoint is only ever resumed by the pipeline that wrote it. */
export function pipelineId(plan: PhysicalPlan): string {
  const { stages, source, sink } = plan;
  return createHash("sha256").update(JSON.stringify({ stages, source, sink })).digest("hex").slice(0, 16);
}

/**
 * Reads the newest intact checkpoint, the sink manifest and the batch log, and works out how to
 * continue exactly where the output was committed.
 */
export async function readResumePoint(store: CheckpointStore, plan: PhysicalPlan): Promise<ResumePoint> {
  const { checkpoint, skipped } = await store.load(pipelineId(plan));
  for (const s of skipped) log.warn(`checkpoint ${s}; using an older one`);
  const c = checkpoint ?? { batch: -1, lanes: [], offset: 0, pipeline: "" };
  const manifest = (await store.manifest()) ?? { batch: -1, bytes: 0 };
  const logged = await store.batchLog();
  const point: ResumePoint = {
    checkpoint: { batch: c.batch, lanes: c.lanes },
    offset: c.offset,
    committed: manifest.batch,
    sinkBytes: manifest.bytes,
    cuts: [],
    complete: logged.get(manifest.batch)?.final ?? false,
  };
  if (point.complete) return point;
  if (manifest.batch < c.batch) {
    throw new RunError(
      `cannot resume: ${store.dir} has a checkpoint at batch ${c.batch} but output only up to ${manifest.batch}`,
    );
  }
  for (let b = c.batch + 1; b <= manifest.batch; b++) {
    const entry = logged.get(b);
    if (entry === undefined) throw new RunError(`cannot resume: batch ${b} is missing from ${store.dir}/batches.log`);
    point.cuts.push({ records: entry.records, time: entry.time });
  }
  log.info(`resuming from checkpoint at batch ${c.batch}; batches up to ${manifest.batch} are already committed`);
  return point;
}
