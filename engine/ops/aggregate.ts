import type { AggregatePlan } from "../plan/plan.ts";
import { type Compiled, compileExpression } from "./expr.ts";
import { hashSpan, type Key, KeyIndex } from "./partition.ts";
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

/**
 * Partials by key as columns, not a record per key: the map side's partials bound for one reduce
 * partition (a shuffle block), and a partition's state in a snapshot. Key i's slots are
 * `slots[i * width ... (i + 1) * width - 1]` (width = AggregateFns.slots). Empty (`[]`) when
 * there are none. A shuffle block whose keys are all strings carries them joined, with their
 * lengths: one string to encode and decode instead of one per key, and the reduce side looks
 * keys up in it without making a string for the keys it already holds.
 */
export type PartialBlock =
  | [keys: Key[], slots: Slot[]]
  | [joined: string, lengths: number[], slots: Slot[]]
  | [];

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
  /** Exactly one plain count: slots are a single number. */
  readonly singleCount: boolean;
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
    this.singleCount = this.countOnly && this.columns.length === 1;
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

  /**
   * A copy of the slots at `s[at...]` that shares nothing mutable with `s` (state must never
   * alias a partial it merged).
   */
  clone(s: Slots, at = 0): Slots {
    const out = s.slice(at, at + this.slots);
    for (const i of this.#objectSlots) out[i] = { ...(s[at + i] as Counts) };
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

  /** Merges the partial at `p[at...]` (same slot layout) into `acc`. */
  merge(acc: Slots, p: Slots, at = 0): void {
    if (this.singleCount) {
      (acc[0] as number) += p[at] as number;
      return;
    }
    for (const c of this.columns) {
      const i = c.slot;
      const v = p[at + i];
      switch (c.kind) {
        case "count":
        case "sum":
          (acc[i] as number) += v as number;
          break;
        case "avg":
          (acc[i] as number) += v as number;
          (acc[i + 1] as number) += p[at + i + 1] as number;
          break;
        case "min":
          if (v !== null && (acc[i] === null || (v as number) < (acc[i] as number))) acc[i] = v;
          break;
        case "max":
          if (v !== null && (acc[i] === null || (v as number) > (acc[i] as number))) acc[i] = v;
          break;
        case "distinct": {
          const into = acc[i] as Counts;
          for (const id in v as Counts) into[id] = 1;
          break;
        }
        case "topK": {
          const into = acc[i] as Counts;
          const from = v as Counts;
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
  readonly #index = new KeyIndex();
  /** A single plain count (the word-count hot path): one number per key, not slots. */
  readonly #counts: number[] | null;
  readonly #slots: Slots[] = [];

  constructor(readonly fns: AggregateFns) {
    this.#counts = fns.singleCount ? [] : null;
  }

  /** Keys seen. */
  get size(): number {
    return this.#index.size;
  }

  /** Folds one record into its key's partial. Throws (and keeps no partial for a new key) on a bad value. */
  add(key: Key, record: unknown): void {
    const counts = this.#counts;
    if (counts) {
      const i = this.#index.add(key);
      if (i === counts.length) counts.push(1);
      else counts[i]++;
      return;
    }
    const i = this.#index.find(key);
    if (i >= 0) return this.fns.add(this.#slots[i], record);
    const fresh = this.fns.init();
    this.fns.add(fresh, record);
    this.#index.add(key);
    this.#slots.push(fresh);
  }

  /**
   * A count-only combiner (`fns.singleCount`): counts the key text.slice(start, end), whose hash
   * is `h`, without making the string unless the key is new.
   */
  addSpan(text: string, start: number, end: number, h: number): void {
    const counts = this.#counts!;
    const i = this.#index.addSpan(text, start, end, h);
    if (i === counts.length) counts.push(1);
    else counts[i]++;
  }

  /** The partials as one block per reduce partition (of n), keys in order of first appearance. */
  blocks(n: number): PartialBlock[] {
    const index = this.#index;
    const counts = this.#counts;
    const keys: Key[][] = [];
    const lengths: number[][] = [];
    const slots: Slot[][] = [];
    let strings = true;
    for (let p = 0; p < n; p++) {
      keys.push([]);
      lengths.push([]);
      slots.push([]);
    }
    for (let i = 0; i < index.size; i++) {
      const p = index.partitionOf(i, n);
      const k = index.keys[i];
      keys[p].push(k);
      if (typeof k === "string") lengths[p].push(k.length);
      else strings = false;
      if (counts) slots[p].push(counts[i]);
      else for (const v of this.#slots[i]) slots[p].push(v);
    }
    return keys.map((k, p): PartialBlock => {
      if (k.length === 0) return [];
      return strings ? [k.join(""), lengths[p], slots[p]] : [k, slots[p]];
    });
  }
}

/** Reduce side: the keyed state of one partition, across batches. */
export class AggregateState {
  #index = new KeyIndex();
  /** Slots of #index.keys[i]. */
  #slots: Slots[] = [];
  /** Indices of the keys changed since the last takeUpdates, in order of first change. */
  readonly #changed: Set<number> | null;

  constructor(readonly fns: AggregateFns, emit: AggregatePlan["emit"]) {
    this.#changed = emit === "updates" ? new Set() : null;
  }

  /** Keys held. */
  get size(): number {
    return this.#index.size;
  }

  /** Merges one shuffle block of partials. */
  mergeBlock(block: PartialBlock): void {
    if (block.length === 0) return;
    const width = this.fns.slots;
    if (block.length === 3) {
      const [text, lengths, slots] = block;
      let start = 0;
      for (let i = 0; i < lengths.length; i++) {
        const end = start + lengths[i];
        this.#mergeAt(this.#index.addSpan(text, start, end, hashSpan(text, start, end)), slots, i * width);
        start = end;
      }
      if (start !== text.length) throw new Error("shuffle block: key lengths do not add up to its keys");
      return;
    }
    const [keys, slots] = block;
    for (let i = 0; i < keys.length; i++) this.#mergeAt(this.#index.add(keys[i]), slots, i * width);
  }

  /** Merges the slots at `at` in `p` into key i's (a key just added gets a copy). */
  #mergeAt(i: number, p: Slots, at: number): void {
    if (i === this.#slots.length) this.#slots.push(this.fns.clone(p, at));
    else this.fns.merge(this.#slots[i], p, at);
    this.#changed?.add(i);
  }

  /** Records for the keys changed since the last call (emit: updates). */
  takeUpdates(emit: (r: unknown) => void): void {
    if (!this.#changed) return;
    const { keys } = this.#index;
    for (const i of this.#changed) emit(this.fns.output(keys[i], this.#slots[i]));
    this.#changed.clear();
  }

  /** Records for every key (emit: final, at end of input). */
  emitAll(emit: (r: unknown) => void): void {
    const { keys } = this.#index;
    for (let i = 0; i < keys.length; i++) emit(this.fns.output(keys[i], this.#slots[i]));
  }

  /** A deep copy of the state: every key with its slots, in order of first appearance. */
  snapshot(): PartialBlock {
    const keys = this.#index.keys;
    if (keys.length === 0) return [];
    const slots: Slot[] = [];
    for (let i = 0; i < keys.length; i++) slots.push(...this.fns.clone(this.#slots[i]));
    return [keys.slice(), slots];
  }

  /** Replaces the state with a snapshot's (changes not yet taken are dropped with it). */
  restore(snapshot: PartialBlock): void {
    this.#index = new KeyIndex();
    this.#slots = [];
    this.mergeBlock(snapshot);
    this.#changed?.clear();
  }
}
