import { describe, expect, test } from "bun:test";
import { encodeRecords, formatRecord } from "../../../engine/io/encode.ts";
import { decodeRecords } from "../../../engine/io/decode.ts";
import { Rejects } from "../../../engine/ops/reject.ts";

const dec = new TextDecoder();

describe("formatRecord: tsv", () => {
  test("objects become their values in key order, arrays their elements", () => {
    expect(formatRecord({ key: "a", n: 3, avg: 1.5 }, "tsv")).toBe("a\t3\t1.5");
    expect(formatRecord(["x", 1, true], "tsv")).toBe("x\t1\ttrue");
    expect(formatRecord("plain", "tsv")).toBe("plain");
    expect(formatRecord(7, "tsv")).toBe("7");
  });

  test("null and undefined are empty fields; nested values are JSON", () => {
    expect(formatRecord({ a: null, b: undefined, c: { d: [1] } }, "tsv")).toBe('\t\t{"d":[1]}');
    expect(formatRecord([[1, 2], "x"], "tsv")).toBe("[1,2]\tx");
  });

  test("tabs, newlines, CRs and backslashes inside a field are escaped", () => {
    const line = formatRecord(["a\tb", "c\nd", "e\r\nf", "back\\slash", "ok"], "tsv");
    expect(line).toBe("a\\tb\tc\\nd\te\\r\\nf\tback\\\\slash\tok");
    // The output is one line with exactly one separator per field boundary.
    expect(line.split("\t").length).toBe(5);
    expect(line).not.toContain("\n");
  });

  test("a lone backslash without other specials is escaped too", () => {
    expect(formatRecord(["C:\\dir"], "tsv")).toBe("C:\\\\dir");
  });
});

describe("formatRecord: csv", () => {
  test("plain fields are not quoted", () => {
    expect(formatRecord({ k: "a", n: 2 }, "csv")).toBe("a,2");
    expect(formatRecord([null, "", 0], "csv")).toBe(",,0");
  });

  test("fields with commas, quotes, or line breaks are quoted, quotes doubled", () => {
    expect(formatRecord(["a,b", 'say "hi"', "x\ny", "r\r", "plain"], "csv")).toBe(
      '"a,b","say ""hi""","x\ny","r\r",plain',
    );
  });

  test("nested values are JSON, quoted because JSON has quotes", () => {
    expect(formatRecord([{ a: 1 }], "csv")).toBe('"{""a"":1}"');
  });

  test("round trips through the csv decoder for single-line fields", () => {
    const rows = [["a,b", 'q"uote', "", "plain", '""', ",", " sp "]];
    const out: unknown[] = [];
    decodeRecords(encodeRecords(rows, "csv"), "csv", undefined, new Rejects(), (r) => out.push(r));
    expect(out).toEqual(rows);
  });
});

describe("formatRecord: jsonl and lines", () => {
  test("jsonl is JSON; undefined becomes null", () => {
    expect(formatRecord({ a: [1, "x"], b: null }, "jsonl")).toBe('{"a":[1,"x"],"b":null}');
    expect(formatRecord("s", "jsonl")).toBe('"s"');
    expect(formatRecord(undefined, "jsonl")).toBe("null");
    expect(formatRecord(3, "jsonl")).toBe("3");
  });

  test("lines writes strings as they are and other values as text", () => {
    expect(formatRecord("a\tb, c", "lines")).toBe("a\tb, c");
    expect(formatRecord(12, "lines")).toBe("12");
    expect(formatRecord(null, "lines")).toBe("");
    expect(formatRecord({ a: 1 }, "lines")).toBe('{"a":1}');
  });
});

describe("encodeRecords", () => {
  test("one newline-terminated line per record", () => {
    const recs = [{ k: "a", n: 1 }, { k: "b", n: 2 }];
    expect(dec.decode(encodeRecords(recs, "tsv"))).toBe("a\t1\nb\t2\n");
    expect(dec.decode(encodeRecords(recs, "csv"))).toBe("a,1\nb,2\n");
    expect(dec.decode(encodeRecords(recs, "jsonl"))).toBe('{"k":"a","n":1}\n{"k":"b","n":2}\n');
    expect(dec.decode(encodeRecords(["x", "y"], "lines"))).toBe("x\ny\n");
  });

  test("no records give no bytes", () => {
    expect(encodeRecords([], "tsv").length).toBe(0);
    expect(encodeRecords([], "jsonl").length).toBe(0);
  });

  test("encodes UTF-8", () => {
    const bytes = encodeRecords(["é"], "lines");
    expect([...bytes]).toEqual([0xc3, 0xa9, 0x0a]);
  });

  test("jsonl output decodes back to the same records", () => {
    const recs = [{ a: 1, b: "t\tab\nnl" }, [1, null], "s", 0, null];
    const out: unknown[] = [];
    decodeRecords(encodeRecords(recs, "jsonl"), "jsonl", undefined, new Rejects(), (r) => out.push(r));
    expect(out).toEqual(recs);
  });
});
