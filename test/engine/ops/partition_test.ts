import { describe, expect, test } from "bun:test";
import { hashString, type Key, KeyIndex, normalizeKey, partitionOf } from "../../../engine/ops/partition.ts";
import { prng } from "../../support/prng.ts";

function randomWord(rnd: () => number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_éü";
  const len = 1 + Math.floor(rnd() * 12);
  let s = "";
  for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
  return s;
}

function distinctRandomWords(n: number, seed: number): string[] {
  const rnd = prng(seed);
  const set = new Set<string>();
  while (set.size < n) set.add(randomWord(rnd));
  return [...set];
}

describe("hashString", () => {
  test("is 32-bit FNV-1a (fixed, so every process agrees)", () => {
    expect(hashString("")).toBe(0x811c9dc5);
    expect(hashString("a")).toBe(0xe40c292c);
    expect(hashString("foobar")).toBe(0xbf9cf968);
  });

  test("is an unsigned 32-bit integer", () => {
    for (const w of distinctRandomWords(500, 3)) {
      const h = hashString(w);
      expect(Number.isInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThan(2 ** 32);
    }
  });
});

describe("partitionOf", () => {
  const keys: Key[] = [
    "",
    "a",
    "hello",
    "héllo",
    0,
    1,
    -1,
    3.5,
    1e21,
    true,
    false,
    null,
    ...distinctRandomWords(300, 1),
  ];

  test("is stable: the same key always lands on the same partition", () => {
    for (const n of [2, 3, 8, 64]) {
      const first = keys.map((k) => partitionOf(k, n));
      for (let round = 0; round < 3; round++) expect(keys.map((k) => partitionOf(k, n))).toEqual(first);
      // An equal key built separately (not the same string object) agrees too.
      expect(partitionOf(["ab", "c"].join(""), n)).toBe(partitionOf("abc", n));
    }
  });

  test("is always an integer in [0, partitions)", () => {
    for (let n = 1; n <= 17; n++) {
      for (const k of keys) {
        const p = partitionOf(k, n);
        expect(Number.isInteger(p)).toBe(true);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(n);
      }
    }
  });

  test("one partition is always partition 0", () => {
    for (const k of keys) expect(partitionOf(k, 1)).toBe(0);
  });

  test("depends on the key's text only", () => {
    expect(partitionOf(42, 8)).toBe(hashString("42") % 8);
    expect(partitionOf("42", 8)).toBe(hashString("42") % 8);
    expect(partitionOf(null, 5)).toBe(hashString("null") % 5);
  });

  const families: Record<string, Key[]> = {
    "key<i>": Array.from({ length: 10000 }, (_, i) => `key${i}`),
    "integers": Array.from({ length: 10000 }, (_, i) => i),
    "multiples of 8": Array.from({ length: 10000 }, (_, i) => i * 8),
    "zero-padded ids": Array.from({ length: 10000 }, (_, i) => `user-${String(i).padStart(6, "0")}`),
    "hex": Array.from({ length: 10000 }, (_, i) => i.toString(16)),
    "random words": distinctRandomWords(10000, 42),
  };

  for (const [name, family] of Object.entries(families)) {
    test(`spreads 10000 distinct keys over 8 partitions, each getting at least 5% (${name})`, () => {
      expect(new Set(family).size).toBe(10000);
      const counts = new Array(8).fill(0);
      for (const k of family) counts[partitionOf(k, 8)]++;
      for (const c of counts) expect(c).toBeGreaterThanOrEqual(500);
    });
  }

  test("also spreads over a non-power-of-two partition count", () => {
    const counts = new Array(7).fill(0);
    for (const k of families["random words"]) counts[partitionOf(k, 7)]++;
    for (const c of counts) expect(c).toBeGreaterThanOrEqual(10000 / 7 / 2);
  });
});

describe("normalizeKey", () => {
  test("primitives stay as they are; null and undefined become null", () => {
    expect(normalizeKey("a")).toBe("a");
    expect(normalizeKey("")).toBe("");
    expect(normalizeKey(3)).toBe(3);
    expect(normalizeKey(0)).toBe(0);
    expect(normalizeKey(false)).toBe(false);
    expect(normalizeKey(null)).toBeNull();
    expect(normalizeKey(undefined)).toBeNull();
  });

  test("bigint becomes its decimal text", () => {
    expect(normalizeKey(12345678901234567890n)).toBe("12345678901234567890");
  });

  test("objects and arrays are grouped by their JSON text", () => {
    expect(normalizeKey({ a: 1, b: [2, "x"] })).toBe('{"a":1,"b":[2,"x"]}');
    expect(normalizeKey([1, "two", null])).toBe('[1,"two",null]');
    // Equal-looking objects built separately give the same key.
    expect(normalizeKey({ user: "u1", day: 3 })).toBe(normalizeKey(JSON.parse('{"user":"u1","day":3}')));
    expect(normalizeKey({ a: 1 })).not.toBe(normalizeKey({ a: 2 }));
    // Empty containers are keys of their own, not null.
    expect(normalizeKey([])).toBe("[]");
    expect(normalizeKey({})).toBe("{}");
  });

  test("a normalized object key partitions stably", () => {
    const k1 = normalizeKey({ city: "Oslo", year: 2020 });
    const k2 = normalizeKey({ city: "Oslo", year: 2020 });
    expect(partitionOf(k1, 16)).toBe(partitionOf(k2, 16));
  });
});

describe("KeyIndex", () => {
  test("numbers keys by first appearance, as a Map would see them (1 and '1' differ, NaN is one key)", () => {
    const index = new KeyIndex();
    const keys: Key[] = ["a", 1, "1", null, "null", true, NaN, 0, -0, NaN, "a", 1];
    expect(keys.map((k) => index.add(k))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 7, 6, 0, 1]);
    expect(index.keys).toEqual(["a", 1, "1", null, "null", true, NaN, 0]);
    expect(index.find("1")).toBe(2);
    expect(index.find("b")).toBe(-1);
    for (let i = 0; i < index.size; i++) expect(index.partitionOf(i, 5)).toBe(partitionOf(index.keys[i], 5));
  });

  test("keeps every key findable as it grows (random words)", () => {
    const words = distinctRandomWords(20000, 11);
    const index = new KeyIndex();
    words.forEach((w, i) => expect(index.add(w)).toBe(i));
    expect(index.size).toBe(words.length);
    words.forEach((w, i) => expect(index.find(w)).toBe(i));
  });
});
