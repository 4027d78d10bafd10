import { afterEach, describe, expect, test } from "bun:test";
import {
  clearTables,
  joinRecord,
  JoinTable,
  loadTables,
  lookupKey,
  parseTable,
  registerTable,
  tableFor,
} from "../../../engine/ops/join.ts";
import { fuseSteps } from "../../../engine/ops/narrow.ts";
import { Rejects } from "../../../engine/ops/reject.ts";
import type { JoinStepPlan, PhysicalPlan } from "../../../engine/plan/plan.ts";

afterEach(clearTables);

function joinStep(over: Partial<JoinStepPlan> = {}): JoinStepPlan {
  return {
    kind: "join",
    file: "/tables/ads.csv",
    format: "csv",
    key: "ad_id",
    on: "e.ad",
    unmatched: "drop",
    as: "e",
    label: "step 2 'join'",
    ...over,
  };
}

function planWith(...steps: JoinStepPlan[]): PhysicalPlan {
  return {
    name: "t",
    source: { kind: "stdin", paths: [], format: "jsonl", header: false, as: "record" },
    stages: [{ id: 0, partitions: 1, steps, output: { kind: "sink" } }],
    sink: { kind: "stdout", format: "tsv" },
  };
}

const ADS = "ad_id,campaign_id,price\na1,c1,3\na2,c2,5\r\n\na1,dup,9\n";

function run(step: JoinStepPlan, input: unknown[]) {
  const out: unknown[] = [];
  const rejects = new Rejects();
  const push = fuseSteps([step], rejects, (r) => out.push(r));
  for (const r of input) push(r);
  return { out, rejects };
}

describe("parseTable", () => {
  test("csv with a header: rows by key, the first row of a key wins, the key column left out", () => {
    const t = parseTable(ADS, "csv", "ad_id");
    expect(t.size).toBe(2);
    expect(t.get("a1")).toEqual({ campaign_id: "c1", price: "3" });
    expect(t.get("a2")).toEqual({ campaign_id: "c2", price: "5" });
    expect(t.get("a3")).toBeUndefined();
  });

  test("tsv and jsonl; keys compare as text", () => {
    const tsv = parseTable("id\tname\n7\tseven\n", "tsv", "id");
    expect(tsv.get(7)).toEqual({ name: "seven" });
    const jsonl = parseTable('{"id":7,"tags":["x"]}\n\n{"id":"8","on":true}\n', "jsonl", "id");
    expect(jsonl.get("7")).toEqual({ tags: ["x"] });
    expect(jsonl.get(8)).toEqual({ on: true });
    expect(jsonl.get(null)).toBeUndefined();
  });

  test("malformed tables fail with the line", () => {
    expect(() => parseTable("a,b\n1,2,3\n", "csv", "a")).toThrow(/line 2: expected 2 fields, got 3/);
    expect(() => parseTable("a,b\n1,2\n", "csv", "k")).toThrow(/no key column 'k'/);
    expect(() => parseTable("", "csv", "k")).toThrow(/empty/);
    expect(() => parseTable('{"k":1}\n[1]\n', "jsonl", "k")).toThrow(/line 2: expected an object/);
    expect(() => parseTable('{"k":1}\n{"j":2}\n', "jsonl", "k")).toThrow(/line 2: no key column/);
    expect(() => parseTable("{oops\n", "jsonl", "k")).toThrow(/line 1/);
  });

  test("lookupKey: strings as they are, numbers and booleans as written, null never matches", () => {
    expect([lookupKey("x"), lookupKey(7), lookupKey(true), lookupKey(null), lookupKey(undefined)]).toEqual([
      "x",
      "7",
      "true",
      undefined,
      undefined,
    ]);
  });
});

describe("the join step", () => {
  test("drop (default): matches are merged with the row, the rest dropped; non-objects become { value }", () => {
    registerTable(joinStep(), parseTable(ADS, "csv", "ad_id"));
    const { out, rejects } = run(joinStep({ on: "e.ad ?? e" }), [
      { ad: "a1", t: 1 },
      { ad: "zz", t: 2 },
      "a2",
      { ad: "a2", price: "old" },
    ]);
    expect(out).toEqual([
      { ad: "a1", t: 1, campaign_id: "c1", price: "3" },
      { value: "a2", campaign_id: "c2", price: "5" },
      { ad: "a2", price: "5", campaign_id: "c2" },
    ]);
    expect(rejects.total).toBe(0);
  });

  test("keep: unmatched records pass through unchanged", () => {
    registerTable(joinStep(), parseTable(ADS, "csv", "ad_id"));
    const { out } = run(joinStep({ unmatched: "keep" }), [{ ad: "zz" }, { ad: "a1" }]);
    expect(out).toEqual([{ ad: "zz" }, { ad: "a1", campaign_id: "c1", price: "3" }]);
  });

  test("an `on` expression that throws rejects the record against the step", () => {
    registerTable(joinStep(), parseTable(ADS, "csv", "ad_id"));
    const { out, rejects } = run(joinStep({ on: "e.ad.id" }), [null, { ad: { id: "a1" } }]);
    expect(out).toEqual([{ ad: { id: "a1" }, campaign_id: "c1", price: "3" }]);
    expect(rejects.byStep["step 2 'join'"].count).toBe(1);
  });

  test("fusing a join whose table is not loaded throws a clear error", () => {
    expect(() => run(joinStep(), [])).toThrow(/step 2 'join': table \/tables\/ads.csv is not loaded.*loadTables/);
  });

  test("joinRecord: arrays are not objects", () => {
    expect(joinRecord([1], { a: 1 })).toEqual({ value: [1], a: 1 });
  });
});

describe("loadTables", () => {
  test("reads each table once per process, through the given reader", async () => {
    const reads: string[] = [];
    const read = (p: string) => {
      reads.push(p);
      return Promise.resolve(ADS);
    };
    const a = joinStep();
    const b = joinStep({ label: "step 5 'join'", on: "x" }); // same table: shared
    await loadTables(planWith(a, b), read);
    await loadTables(planWith(a), read);
    expect(reads).toEqual(["/tables/ads.csv"]);
    expect(tableFor(b).get("a2")).toEqual({ campaign_id: "c2", price: "5" });
    expect(tableFor(a)).toBeInstanceOf(JoinTable);
  });

  test("an unreadable or malformed table rejects naming the step", async () => {
    const missing = () => Promise.reject(Object.assign(new Error("nope"), { code: "ENOENT" }));
    await expect(loadTables(planWith(joinStep()), missing)).rejects.toThrow(
      "step 2 'join': cannot read table /tables/ads.csv: ENOENT",
    );
    await expect(loadTables(planWith(joinStep({ key: "nope" })), () => ADS)).rejects.toThrow(
      /step 2 'join': table \/tables\/ads.csv: the header has no key column 'nope'/,
    );
  });
});
