import { describe, expect, test } from "bun:test";
import { decodeRecords, parseCsvLine, parseHeader, splitLines } from "../../../engine/io/decode.ts";
import { Rejects } from "../../../engine/ops/reject.ts";
import type { Format } from "../../../engine/plan/spec.ts";

const enc = new TextEncoder();

function decode(input: string, format: Format, header?: string[]): { records: unknown[]; rejects: Rejects } {
  const records: unknown[] = [];
  const rejects = new Rejects();
  decodeRecords(enc.encode(input), format, header, rejects, (r) => records.push(r));
  return { records, rejects };
}

describe("splitLines", () => {
  test("splits at newlines, strips CR, and drops only the final empty piece", () => {
    expect(splitLines(enc.encode("a\r\nb\n\nc\r\n"))).toEqual(["a", "b", "", "c"]);
    expect(splitLines(enc.encode("no newline"))).toEqual(["no newline"]);
    expect(splitLines(enc.encode(""))).toEqual([]);
    expect(splitLines(enc.encode("\n"))).toEqual([""]);
    expect(splitLines(enc.encode("keep\rinner\r\n"))).toEqual(["keep\rinner"]);
  });

  test("decodes multi-byte UTF-8", () => {
    expect(splitLines(enc.encode("héllo\n日本\n"))).toEqual(["héllo", "日本"]);
  });
});

describe("decodeRecords: lines", () => {
  test("emits each line as a string, CRLF stripped, blank lines kept", () => {
    const { records, rejects } = decode("one\r\ntwo\n\nthree", "lines");
    expect(records).toEqual(["one", "two", "", "three"]);
    expect(rejects.total).toBe(0);
  });

  test("empty input emits nothing", () => {
    expect(decode("", "lines").records).toEqual([]);
  });
});

describe("decodeRecords: jsonl", () => {
  test("parses each line; a bad line is rejected and counted, the rest go through", () => {
    const input = '{"a":1}\n{bad json}\n[1,2]\r\n"str"\nnot json either\n42\n';
    const { records, rejects } = decode(input, "jsonl");
    expect(records).toEqual([{ a: 1 }, [1, 2], "str", 42]);
    expect(rejects.total).toBe(2);
    expect(rejects.byStep.source.count).toBe(2);
    expect(rejects.byStep.source.sample).toContain("(record: {bad json})");
  });

  test("blank and whitespace-only lines are skipped, not rejected", () => {
    const { records, rejects } = decode('\n{"a":1}\n   \n\t\r\n{"a":2}\n\n', "jsonl");
    expect(records).toEqual([{ a: 1 }, { a: 2 }]);
    expect(rejects.total).toBe(0);
  });

  test("null is a valid record", () => {
    expect(decode("null\n", "jsonl").records).toEqual([null]);
  });
});

describe("decodeRecords: csv", () => {
  test("without header, records are arrays of fields", () => {
    const { records } = decode("a,b,c\r\n1,,3\n", "csv");
    expect(records).toEqual([["a", "b", "c"], ["1", "", "3"]]);
  });

  test("quoted fields may hold commas and escaped quotes", () => {
    const { records, rejects } = decode('x,"a, b","say ""hi""",""\n"only"\n', "csv");
    expect(records).toEqual([["x", "a, b", 'say "hi"', ""], ["only"]]);
    expect(rejects.total).toBe(0);
  });

  test("an unterminated quote is rejected; blank lines are skipped", () => {
    const { records, rejects } = decode('ok,1\n\n"open,2\nfine,3\n', "csv");
    expect(records).toEqual([["ok", "1"], ["fine", "3"]]);
    expect(rejects.byStep.source.count).toBe(1);
    expect(rejects.byStep.source.sample).toContain("unterminated quoted field");
  });

  test("with a header, records are objects keyed by column", () => {
    const { records, rejects } = decode('ann,"3,5"\nbob,4\nextra,1,2\n', "csv", ["name", "score"]);
    expect(records).toEqual([{ name: "ann", score: "3,5" }, { name: "bob", score: "4" }]);
    expect(rejects.byStep.source.count).toBe(1);
    expect(rejects.byStep.source.sample).toContain("expected 2 fields, got 3");
  });
});

describe("parseCsvLine", () => {
  test("RFC 4180 quoting on one line", () => {
    expect(parseCsvLine("a,b")).toEqual(["a", "b"]);
    expect(parseCsvLine('"a""b",c')).toEqual(['a"b', "c"]);
    expect(parseCsvLine('"a",')).toEqual(["a", ""]);
    expect(parseCsvLine(',"a"')).toEqual(["", "a"]);
    expect(parseCsvLine('"",""')).toEqual(["", ""]);
    expect(parseCsvLine('a"b,c')).toEqual(['a"b', "c"]);
    expect(parseCsvLine('"a"x,b')).toBeNull();
    expect(parseCsvLine('"abc')).toBeNull();
  });
});

describe("decodeRecords: tsv", () => {
  test("without header, records are arrays split on tabs (commas and quotes are data)", () => {
    const { records } = decode('a\tb,c\t"q"\n\t\n', "tsv");
    expect(records).toEqual([["a", "b,c", '"q"'], ["", ""]]);
  });

  test("with a header, a wrong field count is rejected and counted", () => {
    const input = "ann\t3\r\nbob\n\ncy\t5\tx\ndee\t7\n";
    const { records, rejects } = decode(input, "tsv", ["name", "age"]);
    expect(records).toEqual([{ name: "ann", age: "3" }, { name: "dee", age: "7" }]);
    expect(rejects.total).toBe(2);
    expect(rejects.byStep.source.count).toBe(2);
    expect(rejects.byStep.source.sample).toBe("expected 2 fields, got 1 (record: bob)");
  });
});

describe("parseHeader", () => {
  test("splits, trims and strips a trailing CR", () => {
    expect(parseHeader("name\t age \r", "tsv")).toEqual(["name", "age"]);
    expect(parseHeader('id,"full name", x\r', "csv")).toEqual(["id", "full name", "x"]);
  });

  test("a header used for decoding gives the column names", () => {
    const header = parseHeader("a,b\r", "csv");
    expect(decode("1,2\n", "csv", header).records).toEqual([{ a: "1", b: "2" }]);
  });
});
