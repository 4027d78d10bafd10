import type { AggregatePlan } from "../plan/plan.ts";
import { type Compiled, compileExpression } from "./expr.ts";
import type { Key } from "./partition.ts";
import { compareValues, valueId } from "./values.ts";

/**
 * Aggregations as flat slots per key, so that map-side partials and reduce-side state have the
 * same shape and merge by slot: count [n], sum [s], min [m], max [m], avg [s, n], distinct
 * [{ id: 1 }], topK [{ id: count }]. min/max slots hold null until a value is seen (and may hold
 * strings, compared as strings). distinct and topK key their object by each value's JSON text
 * (see values.ts) and keep every value, so partials merge exactly; plain objects of numbers
 * travel as msgpack maps.
 */
export type Counts = Record<string, number>;
export type Slot = number | string | null | Counts;
export type Slots = Slot[];

/** One key's map-side partial as it travels in a shuffle block. */
export type Partial = [Key, Slots];

interface Column {
  name: string;
  kind: AggregatePlan["columns"][number]["kind"];
  of?: Compiled;
  slot: number;
  k?: number;
}

export class AggregateFns {
  readonly columns: Column[];
  readonly slots: number;
  /** All columns are plain counts: the hot path of word counts. */
  readonly countOnly: boolean;
  /** Some slot is an object (distinct, topK): copies must be deep. */
  readonly #objectSlots: number[];

  constructor(plan: AggregatePlan) {
    let slot = 0;
    this.columns = plan.columns.map((c) => {
      const col: Column = {
        name: c.name,
        kind: c.kind,
        slot,
        of: c.of === undefined ? undefined : compileExpression(c.of, plan.as),
      };
      if (c.kind === "topK") col.k = c.k ?? 10;
      slot += c.kind === "avg" ? 2 : 1;
      return col;
    });
    this.slots = slot;
    this.countOnly = this.columns.every((c) => c.kind === "count" && !c.of);
    this.#objectSlots = this.columns.filter((c) => c.kind === "distinct" || c.kind === "topK").map((c) => c.slot);
  }

  init(): Slots {
    const s: Slots = new Array(this.slots);
    for (const c of this.columns) {
      if (c.kind === "min" || c.kind === "max") s[c.slot] = null;
      else if (c.kind === "distinct" || c.kind === "topK") s[c.slot] = {};
      else s[c.slot] = 0;
      if (c.kind === "avg") s[c.slot + 1] = 0;
    }
    return s;
  }

  /** A copy that shares nothing mutable with `s` (state must never alias a partial it merged). */
  clone(s: Slots): Slots {
    const out = s.slice();
    for (const i of this.#objectSlots) out[i] = { ...(s[i] as Counts) };
    return out;
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
      } else if (c.kind === "distinct" || c.kind === "topK") {
        // null/undefined are not values here (as in count with `of`); the rest by JSON text.
        if (v === null || v === undefined) {
          vals[i] = undefined;
          continue;
        }
        try {
          vals[i] = valueId(v);
        } catch (e) {
          throw new TypeError(`${c.kind} '${c.name}': ${(e as Error).message}`);
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
        case "distinct":
          if (v !== undefined) (acc[c.slot] as Counts)[v as string] = 1;
          break;
        case "topK":
          if (v !== undefined) {
            const counts = acc[c.slot] as Counts;
            counts[v as string] = (counts[v as string] ?? 0) + 1;
          }
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
        case "distinct": {
          const into = acc[i] as Counts;
          for (const id in p[i] as Counts) into[id] = 1;
          break;
        }
        case "topK": {
          const into = acc[i] as Counts;
          const from = p[i] as Counts;
          for (const id in from) into[id] = (into[id] ?? 0) + from[id];
          break;
        }
      }
    }
  }

  /** The output record of one key: { key, <column>: value, ... } in declared column order. */
  output(key: Key, acc: Slots): Record<string, unknown> {
    const out: Record<string, unknown> = { key };
    for (const c of this.columns) {
      const v = acc[c.slot];
      if (c.kind === "avg") {
        const n = acc[c.slot + 1] as number;
        out[c.name] = n === 0 ? null : (v as number) / n;
      } else if (c.kind === "distinct") out[c.name] = Object.keys(v as Counts).length;
      else if (c.kind === "topK") out[c.name] = topOf(v as Counts, c.k!);
      else out[c.name] = v;
    }
    return out;
  }
}

/** The k most frequent values as [value, count]: highest count first, ties by compareValues. */
export function topOf(counts: Counts, k: number): Array<[unknown, number]> {
  const all: Array<[unknown, number]> = Object.entries(counts).map(([id, n]) => [JSON.parse(id), n]);
  all.sort((a, b) => b[1] - a[1] || compareValues(a[0], b[0]));
  return all.slice(0, k);
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
      if (acc === undefined) state.set(key, fns.clone(p));
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
    return [...this.state].map(([k, v]) => [k, this.fns.clone(v)]);
  }

  restore(entries: Partial[]): void {
    this.state.clear();
    for (const [k, v] of entries) this.state.set(k, this.fns.clone(v));
  }
}
