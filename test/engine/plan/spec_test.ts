import { expect, test } from "bun:test";
import { z } from "zod";
import { Pipeline, STEP_KINDS } from "../../../engine/plan/spec.ts";

/** The JSON Schema `drizzle schema` prints documents every step kind and aggregator. */
test("the JSON Schema covers every step, parse format, window kind and aggregator", () => {
  const schema = JSON.stringify(z.toJSONSchema(Pipeline, { io: "input" }));
  const steps = (z.toJSONSchema(Pipeline, { io: "input" }) as unknown as {
    properties: { steps: { items: { anyOf: { properties: Record<string, unknown> }[] } } };
  }).properties.steps.items.anyOf;
  expect(steps.map((s) => Object.keys(s.properties)[0])).toEqual([...STEP_KINDS]);
  for (const key of ['"json"', '"csv"', '"tsv"', '"regex"', '"columns"', '"fields"', '"from"']) {
    expect(schema).toContain(key);
  }
  for (const key of ['"file"', '"key"', '"on"', '"unmatched"', '"module"', '"export"']) expect(schema).toContain(key);
  for (const key of ['"tumbling"', '"sliding"', '"slide"', '"session"', '"maxDelay"', '"allowedLateness"']) {
    expect(schema).toContain(key);
  }
  for (const key of ['"idleTimeout"', '"time"', '"distinct"', '"topK"', '"k"']) expect(schema).toContain(key);
});

test("the schema accepts the documented forms of the new steps", () => {
  const ok = Pipeline.safeParse({
    source: { stdin: {} },
    steps: [
      { parse: { json: "line", fields: ["a"] } },
      { parse: { regex: "(?<a>.)", from: "line" } },
      { join: { file: "t.csv", key: "id", on: "r.id" } },
      { udf: { module: "./f.ts", export: "f", kind: "filter" } },
      { keyBy: "r.a" },
      { window: { sliding: "10s", slide: "5s", time: "r.t", maxDelay: "1s" } },
      { aggregate: { d: { distinct: "r.x" }, topK: { of: "r.x", k: 3 }, t: { topK: { of: "r.y" } } } },
    ],
  });
  expect(ok.success).toBe(true);
  if (!ok.success) return;
  expect(ok.data.steps[2]).toEqual({ join: { file: "t.csv", key: "id", on: "r.id", unmatched: "drop" } });
});
