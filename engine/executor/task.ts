import type { PhysicalPlan, StagePlan, WindowPlan } from "../plan/plan.ts";
import { countsPiecesInPlace } from "../plan/stages.ts";
import { AggregateFns, AggregateState, Combiner, type PartialBlock, type Slots } from "../ops/aggregate.ts";
import { compileExpression } from "../ops/expr.ts";
import { type Emit, fuseSteps } from "../ops/narrow.ts";
import { parseJsonLines, scansJsonFields } from "../ops/parse.ts";
import { type PieceSink, separatorTest, splitPieces } from "../ops/split.ts";
import { type Key, normalizeKey, partitionOf } from "../ops/partition.ts";
import type { Rejects } from "../ops/reject.ts";
import { combinesBeforeShuffle, eventTime, Watermark, WindowCombiner, WindowState } from "../ops/window.ts";
import { decodeRecords, decodeText } from "../io/decode.ts";
import { encodeRecords } from "../io/encode.ts";
import { ysbEvents } from "../io/ysb.ts";

/**
 * What a task reads: raw source bytes (stage 0) or shuffle blocks from every upstream task.
 * `time` is the batch's processing time (set by the driver when it cut the batch, so a re-run
 * sees the same); `maxTime` is the highest event time any upstream task saw in the batch.
 */
export type TaskInput =
  | {
    kind: "source";
    data: Uint8Array;
    header?: string[];
    time: number;
    /** A generated source: make these events here instead of reading `data`. */
    gen?: { start: number; count: number; startTimeMs: number };
  }
  | { kind: "shuffle"; blocks: unknown[][]; time: number; maxTime: number | null };

/** What a task produced: one block per downstream partition, or formatted sink output. */
export type TaskOutput =
  | { kind: "shuffle"; blocks: unknown[][]; records: number; maxTime: number | null }
  | { kind: "sink"; data: Uint8Array; records: number };

/** The keyed state of one stateful partition: what checkpoints save and recovery restores. */
export interface LaneStateHolder {
  snapshot(): unknown;
  restore(s: unknown): void;
}

/** A window stage's partition: its windows and its watermark, checkpointed together. */
class WindowLane implements LaneStateHolder {
  readonly windows: WindowState;
  readonly watermark: Watermark;
  constructor(readonly plan: WindowPlan) {
    this.windows = new WindowState(plan);
    this.watermark = new Watermark(plan.maxDelayMs, plan.idleTimeoutMs);
  }
  snapshot(): unknown {
    return { windows: this.windows.snapshot(), watermark: this.watermark.snapshot() };
  }
  restore(s: unknown): void {
    const v = s as { windows: unknown; watermark: { max: number | null } } | [];
    if (Array.isArray(v)) return; // an empty checkpoint: nothing to restore
    this.windows.restore(v.windows);
    this.watermark.restore(v.watermark);
  }
}

/**
 * Runs the tasks of one stage. Compiled once per executor; holds the keyed state of each
 * partition this executor owns (the reduce side of an aggregate, or of a windowed aggregate).
 */
export class StageRunner {
  readonly stage: StagePlan;
  readonly #aggregates = new Map<number, AggregateState>();
  readonly #windows = new Map<number, WindowLane>();
  readonly #fns: AggregateFns | undefined;
  readonly #combineFns: AggregateFns | undefined;
  readonly #key: ((r: unknown) => unknown) | undefined;
  /** The next stage is a window: records travel as [key, time, record]. */
  readonly #windowed: boolean;
  /** ... or, combined per (key, window), as [key, window start, partial, records]. */
  readonly #windowCombine: WindowPlan | undefined;
  /** This stage's window receives combined partials. */
  readonly #receivesPartials: boolean;
  readonly #time: ((r: unknown) => unknown) | undefined;
  readonly #downstreamPartitions: number;
  /**
   * The stage ends in `split`, keyed by the piece itself, counted: pieces go to the combiner as
   * positions in their text (ops/split.ts), a string made only per new key.
   */
  readonly #countsPieces: boolean;
  /**
   * Set when the stage is only that split, of each input line itself: the whole chunk is then
   * split at once, a newline being one more separator, without a string per line. The test
   * includes the newline.
   */
  readonly #splitsChunks: ((c: number) => boolean) | undefined;
  /**
   * Set when the stage starts with `parse: { json, fields }` of each input line itself: the
   * fields, read from the chunk's bytes without a string per line (ops/parse.ts, parseJsonLines).
   */
  readonly #parsesLines: string[] | undefined;

  constructor(readonly plan: PhysicalPlan, stageId: number, readonly rejects: Rejects) {
    this.stage = plan.stages[stageId];
    const out = this.stage.output;
    this.#fns = this.stage.head ? new AggregateFns(this.stage.head) : undefined;
    if (out.kind === "shuffle") {
      this.#key = compileExpression(out.key.expr, out.key.as);
      this.#combineFns = out.combine ? new AggregateFns(out.combine) : undefined;
      this.#downstreamPartitions = plan.stages[stageId + 1].partitions;
      const next = plan.stages[stageId + 1].window;
      this.#windowed = next !== undefined;
      this.#windowCombine = next && combinesBeforeShuffle(next, plan.deadLetter !== undefined) ? next : undefined;
      this.#time = out.time ? compileExpression(out.time.expr, out.time.as) : undefined;
    } else {
      this.#downstreamPartitions = 0;
      this.#windowed = false;
    }
    this.#countsPieces = countsPiecesInPlace(this.stage);
    const only = this.stage.steps.length === 1 ? this.stage.steps[0] : undefined;
    this.#splitsChunks = this.#countsPieces && stageId === 0 && plan.source.format === "lines" &&
        only?.kind === "split" && only.from.trim() === only.as
      ? separatorTest(only.on + "\n")
      : undefined;
    const first = this.stage.steps[0];
    this.#parsesLines = stageId === 0 && plan.source.format === "lines" && !plan.source.generate &&
        first?.kind === "parse" && first.format === "json" && first.from.trim() === first.as &&
        scansJsonFields(first.fields)
      ? first.fields
      : undefined;
    const own = this.stage.window;
    this.#receivesPartials = own !== undefined && combinesBeforeShuffle(own, plan.deadLetter !== undefined);
  }

  /** Whether this stage's `split` hands its pieces to the combiner as positions (see #countsPieces). */
  get countsPieces(): boolean {
    return this.#countsPieces;
  }

  /** Keyed state of a partition (created empty on first use); undefined for a stateless stage. */
  state(partition: number): LaneStateHolder | undefined {
    if (this.stage.window) return this.#windowLane(partition);
    if (this.#fns) return this.#aggregate(partition);
    return undefined;
  }

  #aggregate(partition: number): AggregateState {
    let s = this.#aggregates.get(partition);
    if (!s) {
      s = new AggregateState(this.#fns!, this.stage.head!.emit);
      this.#aggregates.set(partition, s);
    }
    return s;
  }

  #windowLane(partition: number): WindowLane {
    let w = this.#windows.get(partition);
    if (!w) this.#windows.set(partition, w = new WindowLane(this.stage.window!));
    return w;
  }

  run(partition: number, input: TaskInput, final: boolean): TaskOutput {
    const { emit, finish, pieces } = this.#collector(input.time);
    const chain = fuseSteps(this.stage.steps, this.rejects, emit, pieces);
    if (input.kind === "source" && input.gen) {
      const g = this.plan.source.generate!;
      // Unpaced, events are still spaced in event time as if they came at 100k/s.
      const rate = g.rate > 0 ? g.rate : 100_000;
      const lines = ysbEvents({ ...input.gen, seed: g.seed, rate, skew: g.skew });
      for (let i = 0; i < lines.length; i++) chain(lines[i]);
    } else if (input.kind === "source") {
      const text = this.#splitsChunks && pieces ? chunkText(input.data) : null;
      if (text !== null) splitPieces(text, this.#splitsChunks!, pieces!);
      else {
        // A chunk parseJsonLines leaves alone goes the line way, with the text it decoded.
        const decoded = this.#parsesLines ? decodeText(input.data) : undefined;
        const parsed = decoded !== undefined &&
          parseJsonLines(input.data, decoded, this.#parsesLines!, this.#afterParse(emit, pieces), chain);
        if (!parsed) decodeRecords(input.data, this.plan.source.format, input.header, this.rejects, chain, decoded);
      }
    } else if (this.stage.window) {
      this.#runWindow(partition, input, final, chain);
    } else if (this.stage.head) {
      const state = this.#aggregate(partition);
      for (const block of input.blocks) state.mergeBlock(block as PartialBlock);
      if (this.stage.head.emit === "updates") state.takeUpdates(chain);
      else if (final) state.emitAll(chain);
    } else {
      for (const block of input.blocks) {
        for (let i = 0; i < block.length; i++) chain((block[i] as [unknown, unknown])[1]);
      }
    }
    return finish();
  }

  /** The steps after the stage's first, fused: where parseJsonLines hands its records. */
  #afterParse(emit: Emit, pieces: PieceSink | undefined): Emit {
    return fuseSteps(this.stage.steps.slice(1), this.rejects, emit, pieces);
  }

  /** A windowed aggregate: add the batch's records, advance the watermark, emit closed windows. */
  #runWindow(partition: number, input: Extract<TaskInput, { kind: "shuffle" }>, final: boolean, chain: Emit): void {
    const lane = this.#windowLane(partition);
    const plan = this.stage.window!;
    // Event time: the highest time any upstream task saw, the same in every partition.
    // Processing time: the batch's own time.
    if (plan.time) {
      if (input.maxTime !== null) lane.watermark.observe(input.maxTime, input.time);
    } else {
      lane.watermark.observe(input.time, input.time);
    }
    const lateLabel = `${plan.label} (late)`;
    const late = (r: unknown) => this.rejects.add(lateLabel, r, new Error("arrived after its window closed"));
    if (this.#receivesPartials) {
      const latePartial = (p: unknown, n: number) => {
        for (let i = 0; i < n; i++) this.rejects.add(lateLabel, p, new Error("arrived after its window closed"));
      };
      for (const block of input.blocks) {
        for (let i = 0; i < block.length; i++) {
          const [key, start, slots, n] = block[i] as [Key, number, Slots, number];
          lane.windows.addPartial(key, start, slots, n, latePartial);
        }
      }
    } else {
      for (const block of input.blocks) {
        for (let i = 0; i < block.length; i++) {
          const [key, t, record] = block[i] as [Key, number, unknown];
          try {
            lane.windows.add(key, t, record, late);
          } catch (e) {
            this.rejects.add(plan.aggregate.label, record, e);
          }
        }
      }
    }
    lane.windows.advance(lane.watermark.current(input.time), chain);
    if (final) lane.windows.flush(chain);
  }

  #collector(batchTime: number): { emit: Emit; finish: () => TaskOutput; pieces?: PieceSink } {
    const out = this.stage.output;
    const rejects = this.rejects;
    if (out.kind === "sink") {
      const records: unknown[] = [];
      const format = this.plan.sink.format;
      return {
        emit: (r) => records.push(r),
        finish: () => ({ kind: "sink", data: encodeRecords(records, format), records: records.length }),
      };
    }
    const key = this.#key!;
    const keyLabel = out.key.label;
    // A record whose key (or event time) cannot be computed is rejected: undefined says so.
    const keyOf = (r: unknown): Key | undefined => {
      try {
        return normalizeKey(key(r));
      } catch (e) {
        rejects.add(keyLabel, r, e);
        return undefined;
      }
    };
    const time = this.#time;
    const timeLabel = out.time?.label ?? keyLabel;
    const timeOf = (r: unknown): number | undefined => {
      if (!time) return batchTime;
      try {
        return eventTime(time(r));
      } catch (e) {
        rejects.add(timeLabel, r, e);
        return undefined;
      }
    };
    const n = this.#downstreamPartitions;
    if (this.#combineFns) {
      const combiner = new Combiner(this.#combineFns);
      const aggLabel = out.combine!.label;
      return {
        emit: (r) => {
          const k = keyOf(r);
          if (k === undefined) return;
          try {
            combiner.add(k, r);
          } catch (e) {
            rejects.add(aggLabel, r, e);
          }
        },
        finish: () => ({ kind: "shuffle", blocks: combiner.blocks(n), records: combiner.size, maxTime: null }),
        pieces: this.#countsPieces ? (text, start, end, h) => combiner.addSpan(text, start, end, h) : undefined,
      };
    }
    const blocks: unknown[][] = Array.from({ length: n }, () => []);
    let count = 0;
    if (this.#windowed) {
      let maxTime: number | null = null;
      if (this.#windowCombine) {
        const combiner = new WindowCombiner(this.#windowCombine);
        const aggLabel = this.#windowCombine.aggregate.label;
        return {
          emit: (r) => {
            const k = keyOf(r);
            if (k === undefined) return;
            const t = timeOf(r);
            if (t === undefined) return;
            try {
              combiner.add(k, t, r);
            } catch (e) {
              rejects.add(aggLabel, r, e);
              return;
            }
            if (time && (maxTime === null || t > maxTime)) maxTime = t;
          },
          finish: () => {
            for (const e of combiner.entries()) {
              blocks[partitionOf(e[0], n)].push(e);
              count++;
            }
            return { kind: "shuffle", blocks, records: count, maxTime };
          },
        };
      }
      return {
        emit: (r) => {
          const k = keyOf(r);
          if (k === undefined) return;
          const t = timeOf(r);
          if (t === undefined) return;
          if (time && (maxTime === null || t > maxTime)) maxTime = t;
          blocks[partitionOf(k, n)].push([k, t, r]);
          count++;
        },
        finish: () => ({ kind: "shuffle", blocks, records: count, maxTime }),
      };
    }
    return {
      emit: (r) => {
        const k = keyOf(r);
        if (k === undefined) return;
        blocks[partitionOf(k, n)].push([k, r]);
        count++;
      },
      finish: () => ({ kind: "shuffle", blocks, records: count, maxTime: null }),
    };
  }
}

/**
 * A chunk of lines as one text, for a split over the whole chunk; null when a line ends in a
 * carriage return, which line decoding drops and a split would keep in the line's last piece.
 */
function chunkText(data: Uint8Array): string | null {
  if (data.indexOf(13) >= 0) return null;
  return decodeText(data);
}
