import { describe, expect, test } from "bun:test";
import { Readable } from "node:stream";
import { mkdtempSync, openSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Batcher,
  type BatcherOptions,
  type ByteReader,
  type RawBatch,
  splitAtLines,
} from "../../../engine/io/batcher.ts";
import { fdReader, filesReader } from "../../../engine/io/source.ts";
import { prng } from "../../support/prng.ts";

const enc = new TextEncoder();
const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

/** Random lines (some empty, some multi-byte UTF-8), newline-terminated. */
function randomInput(lines: number, seed: number): string {
  const rnd = prng(seed);
  let s = "";
  for (let i = 0; i < lines; i++) s += "xyzé,\t".repeat(Math.floor(rnd() * 4)).slice(0, Math.floor(rnd() * 20)) + "\n";
  return s;
}

const chunkings: Record<string, (s: string) => Uint8Array[]> = {
  "one chunk": (s) => [Buffer.from(s)],
  "1-byte chunks": (s) => Array.from(Buffer.from(s), (b) => Buffer.from([b])),
  "random chunks": (s) => {
    const rnd = prng(s.length);
    const all = Buffer.from(s);
    const out: Uint8Array[] = [];
    for (let i = 0; i < all.length;) {
      const n = 1 + Math.floor(rnd() * 9);
      out.push(all.subarray(i, i + n));
      i += n;
    }
    return out;
  },
};

const base = { intervalMs: 1e9, batchRecords: 1e9, batchBytes: 1e12, header: false };

interface Run {
  batches: RawBatch[];
  headers: string[];
}

function runBatcher(chunks: Uint8Array[] | ByteReader, o: Partial<BatcherOptions>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const batches: RawBatch[] = [];
    const headers: string[] = [];
    const b = new Batcher(Array.isArray(chunks) ? Readable.from(chunks) : chunks, {
      ...base,
      hasRoom: () => true,
      onError: reject,
      onHeader: (line) => {
        if (batches.length > 0) reject(new Error("header after a batch"));
        headers.push(line);
      },
      onBatch: (x) => {
        batches.push({ ...x, data: x.data.slice() });
        if (x.final) resolve({ batches, headers });
      },
      ...o,
    });
    b.start();
  });
}

const lineCount = (b: Uint8Array) => b.reduce((n, c) => n + (c === 10 ? 1 : 0), 0);

function checkRecordCuts(batches: RawBatch[], batchRecords: number, input: string): void {
  expect(batches.map((b) => text(b.data)).join("")).toBe(input);
  expect(batches.map((b) => b.final)).toEqual(batches.map((_, i) => i === batches.length - 1));
  for (const b of batches) expect(b.records).toBe(lineCount(b.data));
  for (const b of batches.slice(0, -1)) expect(b.records).toBe(batchRecords);
  expect(batches.at(-1)!.records).toBeLessThanOrEqual(batchRecords);
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  if (!cond()) throw new Error("condition never held");
}

const settle = () => new Promise((r) => setTimeout(r, 30));

describe("Batcher", () => {
  test("cuts exactly every batchRecords records whatever the chunking", async () => {
    const input = randomInput(23, 1);
    const expected = input.split(/(?<=\n)/);
    const want = [0, 5, 10, 15, 20].map((i) => expected.slice(i, i + 5).join(""));
    for (const [name, chunk] of Object.entries(chunkings)) {
      const { batches } = await runBatcher(chunk(input), { batchRecords: 5 });
      expect({ name, got: batches.map((b) => text(b.data)) }).toEqual({ name, got: want });
      checkRecordCuts(batches, 5, input);
      expect(batches.map((b) => b.records)).toEqual([5, 5, 5, 5, 3]);
    }
  });

  test("gives the same batches for many inputs and chunkings", async () => {
    for (let seed = 0; seed < 12; seed++) {
      const input = randomInput(seed * 7, seed + 100);
      const batchRecords = 1 + (seed % 6);
      let reference: string[] | null = null;
      for (const chunk of Object.values(chunkings)) {
        const { batches } = await runBatcher(chunk(input), { batchRecords });
        checkRecordCuts(batches, batchRecords, input);
        const got = batches.map((b) => text(b.data));
        if (reference === null) reference = got;
        else expect(got).toEqual(reference);
      }
    }
  });

  test("a last line without a trailing newline becomes a record", async () => {
    for (const chunk of Object.values(chunkings)) {
      const { batches } = await runBatcher(chunk("a\nbb\nccc"), { batchRecords: 2 });
      const got = batches.map((b) => [text(b.data), b.records, b.final]);
      expect(got).toEqual([["a\nbb\n", 2, false], ["ccc\n", 1, true]]);
    }
  });

  test("empty input gives one empty final batch", async () => {
    const { batches } = await runBatcher([], { batchRecords: 3 });
    expect(batches.map((b) => [b.data.length, b.records, b.final])).toEqual([[0, 0, true]]);
  });

  test("the header option consumes the first line before any batch", async () => {
    const input = "name,age\r\nann,3\nbob,4\ncy,5\n";
    for (const chunk of Object.values(chunkings)) {
      const { batches, headers } = await runBatcher(chunk(input), { header: true, batchRecords: 2 });
      expect(headers).toEqual(["name,age\r"]);
      expect(batches.map((b) => text(b.data)).join("")).toBe("ann,3\nbob,4\ncy,5\n");
      expect(batches.map((b) => b.records)).toEqual([2, 1]);
    }
  });

  test("a header-only input without newline is still the header, not a record", async () => {
    for (const chunk of Object.values(chunkings)) {
      const { batches, headers } = await runBatcher(chunk("a\tb"), { header: true, batchRecords: 2 });
      expect(headers).toEqual(["a\tb"]);
      expect(batches.map((b) => [b.records, b.final, b.data.length])).toEqual([[0, true, 0]]);
    }
  });

  test("batchBytes cuts at the first line that reaches the limit", async () => {
    const lines = Array.from({ length: 10 }, (_, i) => `row-${String(i).padStart(i % 3 ? 5 : 9, "0")}\n`);
    const input = lines.join("");
    for (
      const [name, chunk] of Object.entries({
        ...chunkings,
        "per line": (_s: string) => lines.map((l) => enc.encode(l)),
      })
    ) {
      if (name === "random chunks") continue; // see the todo below
      const { batches } = await runBatcher(chunk(input), { batchBytes: 25 });
      expect(batches.map((b) => text(b.data)).join("")).toBe(input);
      expect(batches.length).toBeGreaterThan(2);
      for (const b of batches.slice(0, -1)) {
        const s = text(b.data);
        const last = s.slice(s.lastIndexOf("\n", s.length - 2) + 1);
        expect(b.data.length).toBeGreaterThanOrEqual(25);
        expect(b.data.length - last.length).toBeLessThan(25);
      }
    }
  });

  // Byte cuts must not depend on how the input is chunked: a carried-over line counts.
  test("batchBytes counts a line carried over from the previous chunk", async () => {
    const whole = await runBatcher([enc.encode("aaaaaaaaaaa\nb\nc\n")], { batchBytes: 5 });
    expect(whole.batches.map((b) => text(b.data))).toEqual(["aaaaaaaaaaa\n", "b\nc\n"]);
    const { batches } = await runBatcher(["aaaaaaaaaa", "a\nb\nc\n"].map((s) => enc.encode(s)), { batchBytes: 5 });
    expect(batches.map((b) => text(b.data))).toEqual(["aaaaaaaaaaa\n", "b\nc\n"]);
  });

  test("hasRoom=false pauses after a cut, and resume() continues with nothing lost", async () => {
    const input = randomInput(19, 5);
    for (const [name, chunk] of Object.entries(chunkings)) {
      let room = true;
      const batches: RawBatch[] = [];
      const errors: Error[] = [];
      const b = new Batcher(Readable.from(chunk(input)), {
        ...base,
        batchRecords: 4,
        onError: (e) => void errors.push(e),
        hasRoom: () => room,
        onBatch: (x) => {
          batches.push({ ...x, data: x.data.slice() });
          room = false;
        },
      });
      b.start();
      await until(() => batches.length === 1);
      await settle();
      expect({ name, n: batches.length }).toEqual({ name, n: 1 });
      b.resume(); // still no room: nothing happens
      await settle();
      expect(batches.length).toBe(1);
      while (!batches.at(-1)!.final) {
        const n = batches.length;
        room = true;
        b.resume();
        await until(() => batches.length > n);
        await settle();
        expect(batches.length).toBe(n + 1);
      }
      checkRecordCuts(batches, 4, input);
      expect(batches.map((x) => x.records)).toEqual([4, 4, 4, 4, 3]);
      expect(errors).toEqual([]);
    }
  });

  /** A ByteReader that hands out `chunks` one read at a time (split further if the room is smaller). */
  function chunkReader(chunks: Uint8Array[]): ByteReader {
    const queue = chunks.map((c) => c.slice());
    return {
      readInto(buf, offset, length) {
        const c = queue[0];
        if (!c) return Promise.resolve(0);
        const n = Math.min(c.length, length);
        buf.set(c.subarray(0, n), offset);
        if (n === c.length) queue.shift();
        else queue[0] = c.subarray(n);
        return Promise.resolve(n);
      },
    };
  }

  test("input read straight into its buffers gives the same batches as a stream", async () => {
    for (let seed = 0; seed < 6; seed++) {
      const input = randomInput(40 + seed * 9, seed + 7);
      const o = { batchRecords: 1 + seed, header: seed % 2 === 1 };
      for (const chunk of Object.values(chunkings)) {
        const stream = await runBatcher(chunk(input), o);
        const read = await runBatcher(chunkReader(chunk(input)), o);
        expect(read.headers).toEqual(stream.headers);
        expect(read.batches.map((b) => [text(b.data), b.records, b.final])).toEqual(
          stream.batches.map((b) => [text(b.data), b.records, b.final]),
        );
      }
    }
  });

  test("files and descriptors: a file's missing last newline is added between files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "batcher-"));
    writeFileSync(join(dir, "a"), "a1\na2");
    writeFileSync(join(dir, "b"), "");
    writeFileSync(join(dir, "c"), "c1\n");
    writeFileSync(join(dir, "d"), "d1");
    const files = await runBatcher(filesReader(["a", "b", "c", "d"].map((f) => join(dir, f))), { batchRecords: 100 });
    expect(files.batches.map((b) => text(b.data)).join("")).toBe("a1\na2\nc1\nd1\n");
    expect(files.batches.reduce((n, b) => n + b.records, 0)).toBe(4);
    const fd = await runBatcher(fdReader(openSync(join(dir, "c"), "r")), { batchRecords: 100 });
    expect(fd.batches.map((b) => text(b.data))).toEqual(["c1\n"]);
  });

  // Batches are views of reused input buffers: bytes must not change until the batch is released.
  async function slabRun(release: boolean) {
    // 1 MB buffers (batchBytes 64 KB); 6 MB of numbered lines in 10 KB reads.
    const input = Array.from({ length: 500_000 }, (_, i) => `line ${i}\n`).join("");
    const all = enc.encode(input);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < all.length; i += 10_000) chunks.push(all.subarray(i, i + 10_000));
    const seen: string[] = [];
    const batches: RawBatch[] = [];
    await new Promise<void>((resolve, reject) => {
      new Batcher(chunkReader(chunks), {
        ...base,
        batchBytes: 64 << 10,
        hasRoom: () => true,
        onError: reject,
        onBatch: (x) => {
          seen.push(text(x.data));
          batches.push(x);
          // Keep the last three batches, as a consumer holding input for a recovery would.
          if (release && batches.length > 3) batches[batches.length - 4].release?.();
          if (x.final) resolve();
        },
      }).start();
    });
    return { input, seen, batches };
  }

  test("released input buffers are reused; held ones are never written over", async () => {
    const held = await slabRun(false);
    expect(held.seen.join("")).toBe(held.input);
    // Nothing released: no batch's bytes changed after it was cut.
    expect(held.batches.map((b) => text(b.data))).toEqual(held.seen);
    expect(new Set(held.batches.map((b) => b.data.buffer)).size).toBeGreaterThan(4);

    const reused = await slabRun(true);
    expect(reused.seen.join("")).toBe(reused.input);
    // The three batches never released still hold their bytes.
    expect(reused.batches.slice(-3).map((b) => text(b.data))).toEqual(reused.seen.slice(-3));
    // Few distinct buffers for 6 MB: released ones came back.
    expect(new Set(reused.batches.map((b) => b.data.buffer)).size).toBeLessThanOrEqual(3);
  });
});

describe("splitAtLines", () => {
  const join = (parts: Uint8Array[]) => parts.map(text).join("");

  function checkSplit(data: Uint8Array, n: number): Uint8Array[] {
    const parts = splitAtLines(data, n);
    expect(parts.length).toBe(n);
    expect(join(parts)).toBe(text(data));
    let offset = 0;
    for (const p of parts) {
      // Every part starts at a line boundary.
      if (offset > 0 && p.length > 0) expect(data[offset - 1]).toBe(10);
      offset += p.length;
    }
    return parts;
  }

  test("splits into n parts at line boundaries whose concatenation is the input", () => {
    const rnd = prng(9);
    for (let i = 0; i < 200; i++) {
      const input = randomInput(Math.floor(rnd() * 40), i);
      const withTail = rnd() < 0.3 ? input + "no newline" : input;
      checkSplit(enc.encode(withTail), 1 + Math.floor(rnd() * 9));
    }
  });

  test("parts are about equal for equal lines", () => {
    const data = enc.encode("0123456789\n".repeat(100));
    const parts = checkSplit(data, 4);
    for (const p of parts) expect(p.length).toBe(275);
  });

  test("empty input gives n empty parts", () => {
    const parts = checkSplit(new Uint8Array(0), 3);
    expect(parts.map((p) => p.length)).toEqual([0, 0, 0]);
  });

  test("fewer lines than parts leaves some parts empty, never splits a line", () => {
    const parts = checkSplit(enc.encode("alpha\nbeta\n"), 5);
    expect(parts.map(text).filter((p) => p.length > 0)).toEqual(["alpha\n", "beta\n"]);
    const one = checkSplit(enc.encode("a single long line without newline"), 4);
    expect(one.map(text).filter((p) => p.length > 0)).toEqual(["a single long line without newline"]);
  });

  test("one part is the whole input", () => {
    expect(splitAtLines(enc.encode("a\nb\n"), 1).map(text)).toEqual(["a\nb\n"]);
  });
});
