import { describe, expect, test } from "bun:test";
import {
  decodeState,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  encodeFrameParts,
  encodeState,
  FrameDecoder,
  FrameError,
} from "../../../engine/wire/frame.ts";
import { jobId, type Message } from "../../../engine/wire/messages.ts";

const job = jobId("job-1");

/** A few messages of different shapes: binary payloads, nested arrays, a large body. */
function sampleMessages(): Message[] {
  const big = new Uint8Array(100_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  return [
    {
      type: "InputChunk",
      job,
      attempt: 1,
      batch: 0,
      chunks: [{ partition: 2, data: Uint8Array.of(0, 1, 2, 253, 254, 255) }],
      empty: [0, 1],
      final: false,
      time: 1700000000000,
      header: ["a", "b"],
    },
    {
      type: "ShuffleBlocks",
      job,
      attempt: 1,
      outputs: [{
        batch: 3,
        stage: 1,
        froms: [0],
        partitions: [0, 1, 2],
        final: true,
        time: 1700000000000,
        maxTime: null,
        blocks: [
          { from: 0, partition: 0, records: [["word", 3], ["other", [1, [2, [3, null]]]]] },
          { from: 0, partition: 2, records: [{ key: "k", bytes: Uint8Array.of(9, 8, 7) }] },
        ],
      }],
    },
    { type: "Shutdown", job, attempt: 2 },
    { type: "SinkData", job, attempt: 1, parts: [{ batch: 4, partition: 0, data: big, records: 2 ** 40 }], empty: [] },
    { type: "SinkData", job, attempt: 1, parts: [], empty: [{ batch: 5, partitions: [1, 3] }] },
  ];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Deterministic PRNG (mulberry32), so a failing chunking can be reproduced. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A frame with the given raw body bytes (for bodies encodeFrame would never produce). */
function rawFrame(body: number[]): Uint8Array {
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length);
  frame.set(body, 4);
  return frame;
}

describe("encodeFrame / FrameDecoder", () => {
  test("a frame is a 4-byte big-endian body length followed by the body", () => {
    const frame = encodeFrame({ type: "Shutdown", job, attempt: 1 });
    const length = new DataView(frame.buffer, frame.byteOffset).getUint32(0);
    expect(length).toBe(frame.length - 4);
    expect(length).toBeGreaterThan(0);
  });

  test("round trip keeps Uint8Array payloads, nested arrays and large integers", () => {
    const messages = sampleMessages();
    const decoder = new FrameDecoder();
    const decoded: unknown[] = [];
    for (const m of messages) {
      const out = decoder.push(encodeFrame(m));
      expect(out).toHaveLength(1);
      decoded.push(out[0]);
    }
    expect(decoded).toEqual(messages);
    const input = decoded[0] as { chunks: { data: unknown }[] };
    expect(input.chunks[0].data).toBeInstanceOf(Uint8Array);
    expect(Array.from(input.chunks[0].data as Uint8Array)).toEqual([0, 1, 2, 253, 254, 255]);
    const shuffle = decoded[1] as { outputs: { blocks: { records: unknown[] }[] }[] };
    expect(shuffle.outputs[0].blocks[0].records[1]).toEqual(["other", [1, [2, [3, null]]]]);
    expect(Array.from((shuffle.outputs[0].blocks[1].records[0] as { bytes: Uint8Array }).bytes)).toEqual([9, 8, 7]);
    expect((decoded[3] as { parts: { records: number }[] }).parts[0].records).toBe(2 ** 40);
    expect(decoder.buffered).toBe(0);
  });

  test("several frames in one chunk decode in order", () => {
    const messages = sampleMessages();
    const decoder = new FrameDecoder();
    expect(decoder.push(concat(messages.map(encodeFrame)))).toEqual(messages);
    expect(decoder.buffered).toBe(0);
  });

  test("a stream fed one byte at a time decodes to the same messages in order", () => {
    // The large message would make this slow byte by byte; the others cover every boundary.
    const messages = sampleMessages().filter((m) => m.type !== "SinkData" || m.parts.length === 0);
    const stream = concat(messages.map(encodeFrame));
    const decoder = new FrameDecoder();
    const out: unknown[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...decoder.push(stream.subarray(i, i + 1)));
    expect(out).toEqual(messages);
    expect(decoder.buffered).toBe(0);
  });

  test("random-sized chunks (frames split across chunks, several per chunk) decode in order", () => {
    const messages = sampleMessages();
    const stream = concat([...messages, ...messages].map(encodeFrame));
    for (const seed of [1, 2, 3, 42, 1234]) {
      const next = rng(seed);
      const decoder = new FrameDecoder();
      const out: unknown[] = [];
      let splitFrames = 0;
      for (let at = 0; at < stream.length;) {
        // Mostly small chunks, sometimes big ones that carry several frames at once.
        const size = 1 + Math.floor(next() < 0.8 ? next() * 40 : next() * 60_000);
        const got = decoder.push(stream.subarray(at, at + size));
        out.push(...got);
        if (decoder.buffered > 0) splitFrames++;
        at += size;
      }
      expect(out).toEqual([...messages, ...messages]);
      expect(decoder.buffered).toBe(0);
      expect(splitFrames).toBeGreaterThan(0);
    }
  });

  test("empty chunks are harmless", () => {
    const decoder = new FrameDecoder();
    const frame = encodeFrame({ type: "Shutdown", job, attempt: 1 });
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(decoder.push(frame.subarray(0, 2))).toEqual([]);
    expect(decoder.push(new Uint8Array(0))).toEqual([]);
    expect(decoder.push(frame.subarray(2))).toEqual([{ type: "Shutdown", job, attempt: 1 }]);
  });
});

describe("FrameDecoder limits and errors", () => {
  test("the default limit is DEFAULT_MAX_FRAME_BYTES", () => {
    expect(new FrameDecoder().maxFrameBytes).toBe(DEFAULT_MAX_FRAME_BYTES);
  });

  test("a length header above maxFrameBytes throws FrameError as soon as the header is in", () => {
    const header = Uint8Array.of(0, 0, 0, 17); // body of 17 bytes, limit 16: no body needed to refuse
    expect(() => new FrameDecoder(16).push(header)).toThrow(FrameError);
    expect(() => new FrameDecoder(16).push(header)).toThrow(/17 bytes is larger than the limit of 16/);
    // A header with the top bit set must not be read as a negative (and so "small") length.
    expect(() => new FrameDecoder().push(Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toThrow(FrameError);
    expect(() => new FrameDecoder().push(Uint8Array.of(0x80, 0, 0, 0))).toThrow(FrameError);
  });

  test("a frame of exactly maxFrameBytes is accepted", () => {
    const frame = encodeFrame("x".repeat(20));
    const limit = frame.length - 4;
    expect(new FrameDecoder(limit).push(frame)).toEqual(["x".repeat(20)]);
    expect(() => new FrameDecoder(limit - 1).push(frame)).toThrow(FrameError);
  });

  test("a body that is not valid msgpack throws FrameError", () => {
    const bad = [
      [], // empty body
      [0x92, 0x01], // array of 2 with only one element
      [0xa5, 0x61, 0x62], // str of 5 with only 2 bytes
      [0x01, 0x02], // a complete value followed by trailing bytes
    ];
    for (const body of bad) {
      expect(() => new FrameDecoder().push(rawFrame(body))).toThrow(FrameError);
    }
    expect(() => new FrameDecoder().push(rawFrame([0x92, 0x01]))).toThrow(/not valid msgpack/);
  });

  test("a bad frame after a good one in the same chunk still throws", () => {
    const good = encodeFrame({ type: "Shutdown", job, attempt: 1 });
    expect(() => new FrameDecoder().push(concat([good, rawFrame([0x92, 0x01])]))).toThrow(FrameError);
  });
});

describe("FrameDecoder.buffered", () => {
  test("counts bytes of a partial header and the bytes left after complete frames", () => {
    const frame = encodeFrame({ type: "Shutdown", job, attempt: 1 });
    const decoder = new FrameDecoder();
    expect(decoder.buffered).toBe(0);
    decoder.push(frame.subarray(0, 3));
    expect(decoder.buffered).toBe(3);
    // Rest of the first frame plus 2 bytes of a second one.
    expect(decoder.push(concat([frame.subarray(3), frame.subarray(0, 2)]))).toHaveLength(1);
    expect(decoder.buffered).toBe(2);
    expect(decoder.push(frame.subarray(2))).toHaveLength(1);
    expect(decoder.buffered).toBe(0);
  });

  // A header already read counts as buffered until its frame is complete.
  test("counts the header of a frame whose body is still incomplete", () => {
    const frame = encodeFrame({ type: "Shutdown", job, attempt: 1 });
    const decoder = new FrameDecoder();
    decoder.push(frame.subarray(0, 3));
    expect(decoder.buffered).toBe(3);
    decoder.push(frame.subarray(3, 5));
    expect(decoder.buffered).toBe(5);
    decoder.push(frame.subarray(5, frame.length - 1));
    expect(decoder.buffered).toBe(frame.length - 1);
  });
});

describe("attachments: an InputChunk's raw input travels after the msgpack part, not copied into it", () => {
  const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
  const chunk = (sizes: number[]) => ({
    type: "InputChunk",
    job: "j",
    attempt: 0,
    batch: 3,
    chunks: sizes.map((n, i) => ({ partition: i, data: bytes(n, i) })),
    empty: [7],
    time: 1,
    final: false,
  });

  test("big chunks go as separate parts (the sender's own buffers) and come back whole", () => {
    const m = chunk([40_000, 0, 17, 100_000]);
    const parts = encodeFrameParts(m);
    expect(parts.length).toBe(4); // head + 3 non-empty chunks
    expect(parts[1]).toBe(m.chunks[0].data); // the same buffer: nothing copied
    const joined = Buffer.concat(parts);
    // Delivered in small pieces, as TCP may.
    const d = new FrameDecoder();
    const out: unknown[] = [];
    for (let i = 0; i < joined.length; i += 997) out.push(...d.push(joined.subarray(i, i + 997)));
    expect(out).toEqual([m]);
  });

  test("small input stays inside the msgpack body; other messages are never split", () => {
    expect(encodeFrameParts(chunk([100, 200])).length).toBe(1);
    expect(encodeFrameParts({ type: "Heartbeat", job: "j", attempt: 0, executor: 1, big: bytes(50_000, 1) }).length)
      .toBe(1);
  });

  test("attachment lengths that do not add up are a FrameError", () => {
    const parts = encodeFrameParts(chunk([40_000]));
    const joined = Buffer.concat(parts);
    // One byte short of what the head announces, with the frame length adjusted to match.
    const cut = Buffer.from(joined.subarray(0, joined.length - 1));
    const size = (cut.readUInt32BE(0) & 0x7fffffff) - 1;
    cut.writeUInt32BE((size | 0x80000000) >>> 0, 0);
    expect(() => new FrameDecoder().push(cut)).toThrow(FrameError);
  });
});

describe("lane state: encoded once by the executor, carried as bytes", () => {
  test("a StateSnapshot's state arrives as the same bytes, which decode to the snapshot", () => {
    const words = Array.from({ length: 3000 }, (_, i) => `word${i}`);
    const snapshot = { keys: words, slots: words.map((_, i) => i * 3), watermark: { max: 1_700_000_000_000 } };
    const state = encodeState(snapshot);
    const m = { type: "StateSnapshot", job, attempt: 2, executor: 1, stage: 1, partition: 3, batch: 9, state };
    const [got] = new FrameDecoder().push(encodeFrame(m)) as Array<typeof m>;
    // The driver sees bytes (no 3000 strings to decode), equal to what the executor encoded.
    expect(got.state).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(got.state).equals(Buffer.from(state))).toBe(true);
    expect(decodeState(got.state)).toEqual(snapshot);
  });

  test("anything but state bytes is refused", () => {
    expect(() => decodeState({ keys: [] })).toThrow("not encoded state bytes");
  });
});
