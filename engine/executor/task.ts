import type { PhysicalPlan, StagePlan } from "../plan/plan.ts";
import { AggregateFns, AggregateState, Combiner, type Partial } from "../ops/aggregate.ts";
import { compileExpression } from "../ops/expr.ts";
import { type Emit, fuseSteps } from "../ops/narrow.ts";
import { normalizeKey, partitionOf } from "../ops/partition.ts";
import type { Rejects } from "../ops/reject.ts";
import { decodeRecords } from "../io/decode.ts";
import { encodeRecords } from "../io/encode.ts";

/** What a task reads: raw source bytes (stage 0) or shuffle blocks from every upstream task. */
export type TaskInput =
  | { kind: "source"; data: Uint8Array; header?: string[] }
  | { kind: "shuffle"; blocks: unknown[][] };

/** What a task produced: one block per downstream partition, or formatted sink output. */
export type TaskOutput =
  | { kind: "shuffle"; blocks: unknown[][]; records: number }
  | { kind: "sink"; data: Uint8Array; records: number };

/**
 * Runs the tasks of one stage. Compiled once per executor; holds the keyed state of each
 * partition this executor owns (the reduce side of an aggregate).
 */
export class StageRunner {
  readonly stage: StagePlan;
  readonly #state = new Map<number, AggregateState>();
  readonly #fns: AggregateFns | undefined;
  readonly #combineFns: AggregateFns | undefined;
  readonly #key: ((r: unknown) => unknown) | undefined;
  readonly #downstreamPartitions: number;

  constructor(readonly plan: PhysicalPlan, stageId: number, readonly rejects: Rejects) {
    this.stage = plan.stages[stageId];
    const out = this.stage.output;
    this.#fns = this.stage.head ? new AggregateFns(this.stage.head) : undefined;
    if (out.kind === "shuffle") {
      this.#key = compileExpression(out.key.expr, out.key.as);
      this.#combineFns = out.combine ? new AggregateFns(out.combine) : undefined;
      this.#downstreamPartitions = plan.stages[stageId + 1].partitions;
    } else {
      this.#downstreamPartitions = 0;
    }
  }

  /** Keyed state of a partition (created empty on first use). */
  state(partition: number): AggregateState | undefined {
    if (!this.#fns) return undefined;
    let s = this.#state.get(partition);
    if (!s) {
      s = new AggregateState(this.#fns, this.stage.head!.emit);
      this.#state.set(partition, s);
    }
    return s;
  }

  run(partition: number, input: TaskInput, final: boolean): TaskOutput {
    const { emit, finish } = this.#collector();
    const chain = fuseSteps(this.stage.steps, this.rejects, emit);
    if (input.kind === "source") {
      decodeRecords(input.data, this.plan.source.format, input.header, this.rejects, chain);
    } else if (this.stage.head) {
      const state = this.state(partition)!;
      for (const block of input.blocks) state.mergeAll(block as Partial[]);
      if (this.stage.head.emit === "updates") state.takeUpdates(chain);
      else if (final) state.emitAll(chain);
    } else {
      for (const block of input.blocks) {
        for (let i = 0; i < block.length; i++) chain((block[i] as [unknown, unknown])[1]);
      }
    }
    return finish();
  }

  #collector(): { emit: Emit; finish: () => TaskOutput } {
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
    const n = this.#downstreamPartitions;
    const blocks: unknown[][] = Array.from({ length: n }, () => []);
    if (this.#combineFns) {
      const combiner = new Combiner(this.#combineFns);
      const aggLabel = out.combine!.label;
      return {
        emit: (r) => {
          let k;
          try {
            k = normalizeKey(key(r));
          } catch (e) {
            rejects.add(keyLabel, r, e);
            return;
          }
          try {
            combiner.add(k, r);
          } catch (e) {
            rejects.add(aggLabel, r, e);
          }
        },
        finish: () => {
          for (const [k, slots] of combiner.partials) blocks[partitionOf(k, n)].push([k, slots]);
          return { kind: "shuffle", blocks, records: combiner.partials.size };
        },
      };
    }
    let count = 0;
    return {
      emit: (r) => {
        let k;
        try {
          k = normalizeKey(key(r));
        } catch (e) {
          rejects.add(keyLabel, r, e);
          return;
        }
        blocks[partitionOf(k, n)].push([k, r]);
        count++;
      },
      finish: () => ({ kind: "shuffle", blocks, records: count }),
    };
  }
}
