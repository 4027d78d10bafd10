/**
 * Which reduce partition a key belongs to. The same key must land on the same partition in
 * every process, so this is a fixed hash (FNV-1a over the key's text), never a runtime's own.
 */

/** Keys are primitives; anything else is grouped by its JSON text. */
export type Key = string | number | boolean | null;

export function normalizeKey(k: unknown): Key {
  if (k === null || k === undefined) return null;
  const t = typeof k;
  if (t === "string" || t === "number" || t === "boolean") return k as Key;
  if (t === "bigint") return String(k);
  return JSON.stringify(k);
}

export function hashString(s: string): number {
  return fnv1a(s) >>> 0;
}

/**
 * FNV-1a as a signed 32-bit integer: kept in int32 range (and the length read once) the loop
 * stays in integer arithmetic, about twice as fast as with the unsigned value.
 */
function fnv1a(s: string): number {
  return hashSpan(s, 0, s.length);
}

/** FNV-1a of text[start, end) (signed), without making the slice. */
export function hashSpan(text: string, start: number, end: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

/** The hash partitioning uses, as a signed int: FNV-1a of the key's text (a non-string key's `String`). */
function hashKey(key: Key): number {
  return fnv1a(typeof key === "string" ? key : String(key));
}

export function partitionOf(key: Key, partitions: number): number {
  if (partitions === 1) return 0;
  return (hashKey(key) >>> 0) % partitions;
}

/** Same key as Map and Set see it (SameValueZero): like ===, but NaN equals NaN. */
const sameKey = (a: Key, b: Key) => a === b || (a !== a && b !== b);

/**
 * Keys numbered in order of first appearance: the index of a key is its place in `keys`, and
 * `hashes` holds each key's partitioning hash, so the partition of every key is known without
 * hashing it again. Faster than a Map for keys that are fresh strings (every word a split makes):
 * a lookup hashes the key once and, on a hash match only, compares it, where a Map re-walks the
 * string and chases its entry. Iteration order (by index) is insertion order, as with a Map.
 */
export class KeyIndex {
  readonly keys: Key[] = [];
  /** hashKey of keys[i] (signed). */
  readonly hashes: number[] = [];
  /** Open addressing, linear probing: index + 1 of the key in each slot, 0 when empty. */
  #slots = new Int32Array(64);
  #shift = 32 - 6;

  get size(): number {
    return this.keys.length;
  }

  /** The index of `key`, appending it when new (then the index equals the old size). */
  add(key: Key): number {
    const h = hashKey(key);
    const s = this.#probe(key, h);
    const e = this.#slots[s];
    return e !== 0 ? e - 1 : this.#insert(key, h, s);
  }

  /**
   * As `add(text.slice(start, end))`, with `h` that key's hash (computed by the caller over the
   * same characters): the slice is made only when the key is new.
   */
  addSpan(text: string, start: number, end: number, h: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    const len = end - start;
    let s = Math.imul(h, 0x9e3779b1) >>> this.#shift;
    for (;;) {
      const e = slots[s];
      if (e === 0) break;
      if (this.hashes[e - 1] === h) {
        const k = this.keys[e - 1];
        if (typeof k === "string" && k.length === len) {
          let j = 0;
          while (j < len && k.charCodeAt(j) === text.charCodeAt(start + j)) j++;
          if (j === len) return e - 1;
        }
      }
      s = (s + 1) & mask;
    }
    return this.#insert(text.slice(start, end), h, s);
  }

  /** Appends a new key with hash `h` at the empty slot `s`; returns its index. */
  #insert(key: Key, h: number, s: number): number {
    const i = this.keys.length;
    this.keys.push(key);
    this.hashes.push(h);
    this.#slots[s] = i + 1;
    if ((i + 1) * 2 > this.#slots.length) this.#grow();
    return i;
  }

  /** The index of `key`, or -1. */
  find(key: Key): number {
    return this.#slots[this.#probe(key, hashKey(key))] - 1;
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  #probe(key: Key, h: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    // Fibonacci hashing spreads FNV's weak low bits over the table.
    let s = Math.imul(h, 0x9e3779b1) >>> this.#shift;
    for (;;) {
      const e = slots[s];
      if (e === 0 || (this.hashes[e - 1] === h && sameKey(this.keys[e - 1], key))) return s;
      s = (s + 1) & mask;
    }
  }

  /** The partition of keys[i] among n (as partitionOf). */
  partitionOf(i: number, n: number): number {
    return n === 1 ? 0 : (this.hashes[i] >>> 0) % n;
  }

  #grow(): void {
    const slots = new Int32Array(this.#slots.length * 2);
    this.#shift--;
    const mask = slots.length - 1;
    for (let i = 0; i < this.hashes.length; i++) {
      let s = Math.imul(this.hashes[i], 0x9e3779b1) >>> this.#shift;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = i + 1;
    }
    this.#slots = slots;
  }
}
