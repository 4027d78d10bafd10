/**
 * Every message drizzle sends, as discriminated unions on `type`. Commands to executors are
 * imperative, reports back are past tense. Every message after the handshake carries the job id
 * and the attempt, so that a message from before a restart is recognised and dropped in one
 * place (`isCurrent`).
 */

export type JobId = string & { readonly __brand: "JobId" };
export type ExecutorId = number & { readonly __brand: "ExecutorId" };
/** Micro-batch number, 0-based and dense. */
export type BatchId = number;
/** Index of a stage in the plan. */
export type StageId = number;
/** Index of a partition within a stage. */
export type PartitionId = number;

export const jobId = (s: string): JobId => s as JobId;
export const executorId = (n: number): ExecutorId => n as ExecutorId;

/** Fields every post-handshake message has. */
export interface Envelope {
  job: JobId;
  attempt: number;
}

// ---- handshake (before authentication; see auth.ts) ----

export interface Challenge {
  type: "Challenge";
  nonce: Uint8Array;
}
/**
 * The version of this wire protocol (frames and messages). Raised whenever either changes, so a
 * driver and an executor of different builds (say, an older drizzle installed on a host) refuse
 * each other at the handshake with a clear message instead of misreading each other's messages.
 */
export const PROTOCOL = 2;

export interface Authenticate {
  type: "Authenticate";
  /** The client's PROTOCOL (absent before protocol 2). */
  protocol?: number;
  /** HMAC of the server's nonce: proves the client knows the secret. */
  proof: Uint8Array;
  /** The client's own nonce: the server must prove itself too. */
  nonce: Uint8Array;
  /** Who is connecting: "driver" is never a client; executors give their id. */
  from: number;
  /** "heartbeat": an executor's second connection, for heartbeats only (from its own thread). */
  channel?: "heartbeat";
}
export interface Authenticated {
  type: "Authenticated";
  proof: Uint8Array;
}
export type Handshake = Challenge | Authenticate | Authenticated;

// ---- driver -> executor ----

/** Where each task runs: placement[stage][partition] = executor. */
export type Placement = ExecutorId[][];

export interface PeerAddress {
  executor: ExecutorId;
  host: string;
  port: number;
}

/** The state of one stateful (stage, partition) after a batch: a checkpoint's unit. */
export interface LaneState {
  stage: StageId;
  partition: PartitionId;
  /** The state is as of the end of this batch. */
  batch: BatchId;
  /** The state, encoded by the executor (encodeState); the driver keeps and forwards it as it is. */
  state: Uint8Array;
}

/**
 * Starts (or, with a higher attempt, restarts) the job on an executor: everything from an
 * earlier attempt is dropped, the given lane states are restored, and batches run from `from`.
 */
export interface StartJob extends Envelope {
  type: "StartJob";
  /** The physical plan (engine/plan), sent once per attempt. */
  plan: unknown;
  mode: "drizzle" | "bsp";
  peers: PeerAddress[];
  placement: Placement;
  /** First batch this attempt runs (0, or the batch after the restored checkpoint). */
  from: BatchId;
  restore: LaneState[];
  /** How often to send a Heartbeat when there is nothing else to say. */
  heartbeatMs: number;
}

/**
 * Drizzle mode, partial recovery: executors in `lost` are gone. Lanes move as `placement` says
 * (for every batch from `from` on); the receiver restores the states it is given, re-runs its
 * new lanes from `from`, and re-sends the retained map output those lanes need.
 */
export interface Recover extends Envelope {
  type: "Recover";
  lost: ExecutorId[];
  placement: Placement;
  from: BatchId;
  restore: LaneState[];
  peers: PeerAddress[];
}

/**
 * Drizzle mode: the group ends early, at `last` (the input is paused and no later batch of the
 * group exists yet): lanes snapshot at `last` so a checkpoint can free the buffered input.
 */
export interface EndGroup extends Envelope {
  type: "EndGroup";
  group: number;
  last: BatchId;
}

/** BSP mode: snapshot every stateful lane you own; their state is as of the end of `batch`. */
export interface Checkpoint extends Envelope {
  type: "Checkpoint";
  batch: BatchId;
}

/** Drizzle mode: one command per executor covers batches first..first+count-1. */
export interface RunGroup extends Envelope {
  type: "RunGroup";
  group: number;
  first: BatchId;
  count: number;
  placement: Placement;
  /** Map outputs of batches before this one are committed and may be dropped. */
  releaseBefore: BatchId;
}

/** Raw input records of one source partition of one batch. */
export interface SourceChunk {
  partition: PartitionId;
  data: Uint8Array;
  /** A generated source: the events this partition makes itself (data is empty). */
  gen?: { start: number; count: number; startTimeMs: number };
}

/**
 * The input of one batch for the first-stage partitions the receiver owns (data plane, not
 * scheduling): the chunks with data, and the partitions whose chunk is empty.
 */
export interface InputChunk extends Envelope {
  type: "InputChunk";
  batch: BatchId;
  chunks: SourceChunk[];
  empty: PartitionId[];
  /** The batch's processing time (epoch ms when the driver cut it; the same on a re-run). */
  time: number;
  /** The last batch of the input: stateful steps emit their final results after it. */
  final: boolean;
  /** Column names when the source format has a header line. */
  header?: string[];
}

/** BSP mode: run one task now; its inputs are fetched from map outputs. */
export interface LaunchTask extends Envelope {
  type: "LaunchTask";
  batch: BatchId;
  stage: StageId;
  partition: PartitionId;
  final: boolean;
  releaseBefore: BatchId;
}

/** BSP mode: answer to GetMapOutputs: which executor holds the output of each map partition. */
export interface MapOutputs extends Envelope {
  type: "MapOutputs";
  batch: BatchId;
  stage: StageId;
  locations: ExecutorId[];
}

/** The job is over: finish and exit. */
export interface Shutdown extends Envelope {
  type: "Shutdown";
}

export type DriverCommand =
  | StartJob
  | RunGroup
  | InputChunk
  | LaunchTask
  | MapOutputs
  | Checkpoint
  | EndGroup
  | Recover
  | Shutdown;

// ---- executor -> driver ----

export interface ExecutorRegistered extends Envelope {
  type: "ExecutorRegistered";
  executor: ExecutorId;
  host: string;
  port: number;
  pid: number;
}

/** Formatted sink output of one last-stage task of one batch. */
export interface SinkPart {
  batch: BatchId;
  partition: PartitionId;
  data: Uint8Array;
  records: number;
}

/**
 * Sink output of the last-stage tasks an executor ran in one burst: the parts with data, and
 * by batch the partitions whose task produced none (still a part of the batch, an empty one).
 */
export interface SinkData extends Envelope {
  type: "SinkData";
  parts: SinkPart[];
  empty: Array<{ batch: BatchId; partitions: PartitionId[] }>;
}

/**
 * Records rejected (bad input, an expression threw), per task ("batch:stage:partition") and
 * step. Keyed by task so that a task run twice (after a recovery) is counted once.
 */
export interface Rejections {
  [task: string]: { [step: string]: { count: number; sample: string } };
}

export interface TaskTimings {
  /** ms spent running tasks. */
  compute: number;
  /** ms spent encoding and sending shuffle output. */
  shuffle: number;
  /** ms spent on coordination: registering a group's tasks, snapshotting state. */
  coord: number;
}

/** Drizzle mode: every task this executor owned in the group has run. */
export interface GroupCompleted extends Envelope {
  type: "GroupCompleted";
  executor: ExecutorId;
  group: number;
  last: BatchId;
  timings: TaskTimings;
  rejected: Rejections;
}

/** BSP mode: one task ran; sizes[r] = records produced for reduce partition r. */
export interface TaskFinished extends Envelope {
  type: "TaskFinished";
  executor: ExecutorId;
  batch: BatchId;
  stage: StageId;
  partition: PartitionId;
  sizes: number[];
  rejected: Rejections;
}

/** BSP mode: a reducer's executor asks where the map outputs of a shuffle are. */
export interface GetMapOutputs extends Envelope {
  type: "GetMapOutputs";
  batch: BatchId;
  stage: StageId;
}

export interface TaskFailed extends Envelope {
  type: "TaskFailed";
  executor: ExecutorId;
  batch: BatchId;
  stage: StageId;
  partition: PartitionId;
  error: string;
}

/** A stateful lane's state at a checkpoint batch (end of a group, or on Checkpoint). */
export interface StateSnapshot extends Envelope, LaneState {
  type: "StateSnapshot";
  executor: ExecutorId;
}

/** The records one task rejected, for the dead-letter output (data, deduplicated by task). */
export interface DeadLetters extends Envelope {
  type: "DeadLetters";
  batch: BatchId;
  stage: StageId;
  partition: PartitionId;
  records: Array<{ step: string; error: string; record: unknown }>;
}

/** Sent every heartbeat interval; any message also proves the executor alive. */
export interface Heartbeat extends Envelope {
  type: "Heartbeat";
  executor: ExecutorId;
}

/** Answer to Shutdown: the executor's last counts, sent just before it exits. */
export interface ExecutorStopped extends Envelope {
  type: "ExecutorStopped";
  executor: ExecutorId;
  rejected: Rejections;
}

export type ExecutorEvent =
  | ExecutorRegistered
  | DeadLetters
  | StateSnapshot
  | Heartbeat
  | ExecutorStopped
  | SinkData
  | GroupCompleted
  | TaskFinished
  | GetMapOutputs
  | TaskFailed;

// ---- executor -> executor ----

/** The records one map task produced for one reduce partition; only non-empty blocks travel. */
export interface Block {
  from: PartitionId;
  partition: PartitionId;
  records: unknown[];
}

/**
 * The output of map tasks `froms` of one batch for reduce partitions `partitions` of stage
 * `stage`. Map tasks share one entry when they agree on `final`, `time` and `maxTime`. A
 * (from, partition) pair missing from `blocks` is an empty block: it still counts as map task
 * `from`'s input to reduce task `partition`, so many near-empty tasks cost a few bytes each.
 */
export interface ShuffleOutput {
  batch: BatchId;
  /** The reduce stage. */
  stage: StageId;
  froms: PartitionId[];
  partitions: PartitionId[];
  final: boolean;
  /** The batch's processing time, passed along from its input. */
  time: number;
  /** The highest event time the map tasks saw (event-time windows), or null. */
  maxTime: number | null;
  blocks: Block[];
}

/**
 * Drizzle mode: map output pushed to the executor that owns the reduce partitions, as soon as
 * the map tasks ran (everything one executor ran in one burst of tasks travels together).
 */
export interface ShuffleBlocks extends Envelope {
  type: "ShuffleBlocks";
  outputs: ShuffleOutput[];
}

/** BSP mode: a reducer asks a map executor for its output blocks. */
export interface FetchBlocks extends Envelope {
  type: "FetchBlocks";
  batch: BatchId;
  /** The map stage whose output is wanted. */
  stage: StageId;
  partitions: PartitionId[];
}

/** BSP mode: answer to FetchBlocks: the output of every map partition the answering executor holds. */
export interface BlocksFetched extends Envelope {
  type: "BlocksFetched";
  outputs: ShuffleOutput[];
}

export type PeerMessage = ShuffleBlocks | FetchBlocks | BlocksFetched;

export type Message = DriverCommand | ExecutorEvent | PeerMessage;

/** True when a message belongs to the given job and attempt; everything else is stale. */
export function isCurrent(m: Envelope, job: JobId, attempt: number): boolean {
  return m.job === job && m.attempt === attempt;
}
