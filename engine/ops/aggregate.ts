import type { AggregatePlan } from "../plan/plan.ts";
import { type Compiled, compileExpression } from "./expr.ts";
import type { Key } from "./partition.ts";

/**
 * Aggregations as flat number slots per key, so that map-side partials and reduce-side state
 * have the same shape and merge by slot: count [n], sum [s], min [m], max [m], avg [s, n].
 * min/max slots hold null until a value is seen (and may hold strings, compared as strings).
 */
export type Slots = Array<number | string | null>;

/** One key's map-side partial as it travels in a shuffle block. */
export type Partial = [Key, Slots];

interface Column {
  name: string;
  kind: AggregatePlan["columns"][number]["kind"];
  of?: Compiled;
  slot: number;
}

export class AggregateFns {
  readonly columns: Column[];
  readonly slots: number;
  /** All columns are plain counts: the hot path of word counts. */
  readonly countOnly: boolean;

  constructor(plan: AggregatePlan) {
    let slot = 0;
    this.columns = plan.columns.map((c) => {
      const col: Column = {
        name: c.name,
        kind: c.kind,
        slot,
        of: c.of === undefined ? undefined : compileExpression(c.of, plan.as),
      };
      slot += c.kind === "avg" ? 2 : 1;
      return col;
    });
    this.slots = slot;
    this.countOnly = this.columns.every((c) => c.kind === "count" && !c.of);
  }

  init(): Slots {
    const s: Slots = new Array(this.slots);
    for (const c of this.columns) {
      if (c.kind === "min" || c.kind === "max") s[c.slot] = null;
      else s[c.slot] = 0;
      if (c.kind === "avg") s[c.slot + 1] = 0;
    }
    return s;
  }

  /** Folds one record into `acc`. Throws (and leaves `acc` untouched) when a value is unusable. */
  add(acc: Slots, record: unknown): void {
    if (this.countOnly) {
      for (const c of this.columns) (acc[c.slot] as number)++;
      return;
    }
    // Evaluate everything first so a throwing column leaves no half-applied record.
    const vals = this.columns.map((c) => (c.of ? c.of(record) : undefined));
    for (let i = 0; i < this.columns.length; i++) {
      const c = this.columns[i];
      const v = vals[i];
      if (c.kind === "sum" || c.kind === "avg" || (c.kind === "count" && c.of)) {
        if (c.kind === "count") continue;
        const n = typeof v === "number" ? v : Number(v);
        if (v === null || v === undefined || v === "" || Number.isNaN(n)) {
          throw new TypeError(`${c.kind} '${c.name}': expected a number, got ${JSON.stringify(v) ?? "undefined"}`);
        }
        vals[i] = n;
      } else if (c.kind === "min" || c.kind === "max") {
        if (typeof v !== "number" && typeof v !== "string") {
          throw new TypeError(
            `${c.kind} '${c.name}': expected a number or string, got ${JSON.stringify(v) ?? "undefined"}`,
          );
        }
      }
    }
    for (let i = 0; i < this.columns.length; i++) {
      const c = this.columns[i];
      const v = vals[i];
      switch (c.kind) {
        case "count":
          // count with `of` counts records whose value is not null/undefined.
          if (!c.of || (v !== null && v !== undefined)) (acc[c.slot] as number)++;
          break;
        case "sum":
          (acc[c.slot] as number) += v as number;
          break;
        case "avg":
          (acc[c.slot] as number) += v as number;
          (acc[c.slot + 1] as number)++;
          break;
        case "min":
          if (acc[c.slot] === null || (v as number) < (acc[c.slot] as number)) acc[c.slot] = v as number;
          break;
        case "max":
          if (acc[c.slot] === null || (v as number) > (acc[c.slot] as number)) acc[c.slot] = v as number;
          break;
      }
    }
  }

  /** Merges a partial (same slot layout) into `acc`. */
  merge(acc: Slots, p: Slots): void {
    for (const c of this.columns) {
      const i = c.slot;
      switch (c.kind) {
        case "count":
        case "sum":
          (acc[i] as number) += p[i] as number;
          break;
        case "avg":
          (acc[i] as number) += p[i] as number;
          (acc[i + 1] as number) += p[i + 1] as number;
          break;
        case "min":
          if (p[i] !== null && (acc[i] === null || (p[i] as number) < (acc[i] as number))) acc[i] = p[i];
          break;
        case "max":
          if (p[i] !== null && (acc[i] === null || (p[i] as number) > (acc[i] as number))) acc[i] = p[i];
          break;
      }
    }
  }

  /** The output record of one key: { key, <column>: value, ... } in declared column order. */
  output(key: Key, acc: Slots): Record<string, unknown> {
    const out: Record<string, unknown> = { key };
    for (const c of this.columns) {
      out[c.name] = c.kind === "avg"
        ? (acc[c.slot + 1] as number) === 0 ? null : (acc[c.slot] as number) / (acc[c.slot + 1] as number)
        : acc[c.slot];
    }
    return out;
  }
}

/** Map side: folds records into one partial per key before the shuffle. */
export class Combiner {
  readonly partials = new Map<Key, Slots>();
  /** One plain count: the word-count hot path, a bare increment. */
  readonly #singleCount: boolean;
  constructor(readonly fns: AggregateFns) {
    this.#singleCount = fns.countOnly && fns.columns.length === 1;
  }

  add(key: Key, record: unknown): void {
    const acc = this.partials.get(key);
    if (acc === undefined) {
      const fresh = this.fns.init();
      this.fns.add(fresh, record);
      this.partials.set(key, fresh);
    } else if (this.#singleCount) {
      (acc[0] as number)++;
    } else {
      this.fns.add(acc, record);
    }
  }
}

/** Reduce side: the keyed state of one partition, across batches. */
export class AggregateState {
  readonly state = new Map<Key, Slots>();
  readonly #changed: Set<Key> | null;

  constructor(readonly fns: AggregateFns, emit: AggregatePlan["emit"]) {
    this.#changed = emit === "updates" ? new Set() : null;
  }

  mergeAll(partials: Partial[]): void {
    const { state, fns } = this;
    const changed = this.#changed;
    for (let i = 0; i < partials.length; i++) {
      const [key, p] = partials[i];
      const acc = state.get(key);
      if (acc === undefined) state.set(key, p.slice());
      else fns.merge(acc, p);
      changed?.add(key);
    }
  }

  /** Records for the keys changed since the last call (emit: updates). */
  takeUpdates(emit: (r: unknown) => void): void {
    if (!this.#changed) return;
    for (const key of this.#changed) emit(this.fns.output(key, this.state.get(key)!));
    this.#changed.clear();
  }

  /** Records for every key (emit: final, at end of input). */
  emitAll(emit: (r: unknown) => void): void {
    for (const [key, acc] of this.state) emit(this.fns.output(key, acc));
  }

  snapshot(): Partial[] {
    return [...this.state].map(([k, v]) => [k, v.slice()]);
  }

  restore(entries: Partial[]): void {
    this.state.clear();
    for (const [k, v] of entries) this.state.set(k, v.slice());
  }
}
