import type { Readable, Writable } from "node:stream";
import type { PhysicalPlan } from "../plan/plan.ts";
import type { RejectCount } from "../ops/reject.ts";
import type { Launcher } from "./launcher.ts";
import type { ByteReader } from "../io/batcher.ts";

export interface DriverOptions {
  plan: PhysicalPlan;
  mode: "drizzle" | "bsp";
  workers: number;
  /** Batches per group in drizzle mode (bsp always uses 1), or "auto" for the controller. */
  groupSize: number | "auto";
  /** auto group size: keep coordination under this fraction of batch time. */
  maxOverhead?: number;
  /** auto group size: a group spans at most this long. */
  maxGroupTimeMs?: number;
  intervalMs: number;
  batchRecords: number;
  batchBytes?: number;
  /**
   * Raw input the driver may hold for batches no checkpoint covers yet (it is what a recovery
   * replays); beyond it, input is paused (backpressure) rather than memory growing.
   */
  maxBufferBytes?: number;
  launcher: Launcher;
  /** Input of a stdin source: a stream, or read straight into the input buffers (`fdReader(0)`). */
  stdin: Readable | ByteReader;
  stdout: Writable;
  /** How long executors have to start and register. */
  startTimeoutMs?: number;
  /**
   * After losing an executor: "partial" re-runs only the lost tasks (drizzle mode); "global"
   * rolls every partition back to the last checkpoint and replays (the Flink way; bsp always).
   */
  recovery?: "partial" | "global";
  heartbeatMs?: number;
  /** An executor silent for this long is declared lost. */
  heartbeatTimeoutMs?: number;
  /** bsp: checkpoint every this many batches (drizzle checkpoints at every group end). */
  checkpointEvery?: number;
  /** Keep checkpoints, the batch log and the sink manifest here ("" = in memory only). */
  checkpointDir?: string;
  /** Continue the run whose checkpoints are in checkpointDir (file sources only). */
  resume?: boolean;
  /** Start a replacement for each lost executor, when the launcher can (default true). */
  replace?: boolean;
  observer?: DriverObserver;
}

/** Per-batch facts, reported as each batch commits (for progress and --metrics). */
export interface BatchMetrics {
  batch: number;
  group: number;
  groupSize: number;
  recordsIn: number;
  recordsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** ms the driver spent dispatching the batch (scheduling messages and input chunks). */
  scheduleMs: number;
  /** ms from dispatch until the last output part arrived (compute and shuffle on executors). */
  processMs: number;
  /** ms from the last output part until the output was written (commit). */
  commitMs: number;
  /** ms from the batch being cut to its output written: what a record waits at most. */
  latencyMs: number;
  /** Wall-clock time of the commit (epoch ms). */
  committedAt: number;
  /** The batch was (partly) re-run after a lost executor. */
  recovered: boolean;
  /** Raw input the driver holds for batches no checkpoint covers yet (bounded by maxBufferBytes). */
  bufferedBytes: number;
}

/** Per-group facts, reported when every executor has completed the group. */
export interface GroupMetrics {
  group: number;
  first: number;
  size: number;
  executors: number;
  /** Summed over executors: ms running tasks, and ms encoding and sending shuffle data. */
  computeMs: number;
  shuffleMs: number;
  /** ms the driver spent scheduling the group (building and sending RunGroup). */
  scheduleMs: number;
  /** ms of coordination in all: driver scheduling and checkpointing plus executors' share. */
  coordinationMs: number;
  /** Why the group has the size it has. */
  reason: string;
}

/** One lost executor and how the run got over it. */
export interface RecoveryReport {
  executor: number;
  reason: string;
  kind: "partial" | "global";
  /** Epoch ms the loss was detected. */
  detectedAt: number;
  /** Epoch ms of the first batch committed after the recovery started (null if none). */
  firstCommitAt: number | null;
  /** Batches re-run (from the checkpoint to the newest batch cut). */
  replayedBatches: number;
}

export interface DriverObserver {
  batch?(m: BatchMetrics): void;
  group?(m: GroupMetrics): void;
  /** Something worth a line in a log: executors registered, lost, recovered. */
  event?(message: string): void;
}

export interface RunSummary {
  batches: number;
  groups: number;
  recordsIn: number;
  recordsOut: number;
  rejected: Record<string, RejectCount>;
  rejectedTotal: number;
  /** Scheduling messages the driver sent (RunGroup, LaunchTask, MapOutputs, Checkpoint, Recover). */
  scheduleMessages: number;
  elapsedMs: number;
  /** Per batch, ms from cut to commit. */
  latencies: number[];
  /** The reader of the output went away (EPIPE): the run stopped early, without error. */
  outputClosed: boolean;
  /** Stopped by a signal: input was cut short, what was read was committed. */
  interrupted: boolean;
  recoveries: RecoveryReport[];
  /** Batch of the last complete checkpoint (-1: none). */
  checkpoint: number;
  /** When resumed: the checkpoint it started from and the batches already committed before. */
  resumed: { checkpoint: number; committed: number } | null;
}

/** A run that cannot go on: every executor died, a task failed, startup failed. */
export class RunError extends Error {
  override name = "RunError";
}
