import { describe, expect, test } from "bun:test";
import { compareValues, valueId } from "../../../engine/ops/values.ts";

describe("valueId", () => {
  test("is the JSON text: types stay apart, equal structures are equal", () => {
    expect(valueId(1)).not.toBe(valueId("1"));
    expect(valueId(true)).not.toBe(valueId("true"));
    expect(valueId({ a: [1] })).toBe(valueId({ a: [1] }));
    expect(valueId(-0)).toBe(valueId(0));
  });

  test("throws for what JSON would turn into null or cannot hold", () => {
    for (const v of [NaN, Infinity, undefined, () => 0, Symbol("x"), 1n]) expect(() => valueId(v)).toThrow(TypeError);
  });
});

describe("compareValues", () => {
  test("null < false < true < numbers < strings < objects, each ascending", () => {
    const sorted = ["b", 10, { z: 1 }, true, null, -3, "B", false, [0], "a", 2].sort(compareValues);
    expect(sorted).toEqual([null, false, true, -3, 2, 10, "B", "a", "b", [0], { z: 1 }]);
  });

  test("equal values compare 0; strings by code units, not locale", () => {
    expect(compareValues("é", "é")).toBe(0);
    expect(compareValues(undefined, null)).toBe(0);
    expect(compareValues("Z", "a")).toBeLessThan(0);
    expect(compareValues("10", "9")).toBeLessThan(0);
  });
});
