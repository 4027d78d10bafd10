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
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function partitionOf(key: Key, partitions: number): number {
  if (partitions === 1) return 0;
  const text = typeof key === "string" ? key : String(key);
  return hashString(text) % partitions;
}
