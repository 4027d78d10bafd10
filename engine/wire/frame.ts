import { Packr, RESERVE_START_SPACE } from "msgpackr/pack";

/** Frames larger than this are refused: a corrupt length must not make us allocate gigabytes. */
export const DEFAULT_MAX_FRAME_BYTES = 256 * 1024 * 1024;

const HEADER_BYTES = 4;

// Plain msgpack maps (no record extension): every frame is self-contained, so a frame can be
// decoded without the history of the connection it came on.
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: "number" });

/** A frame that cannot be read: the connection it came on must be closed. */
export class FrameError extends Error {
  override name = "FrameError";
}

/**
 * The top bit of a frame's length says its body carries attachments: raw byte fields that
 * travel after the msgpack part instead of inside it, so the sender never copies them into
 * the encoder's buffer (a batch's input is megabytes). Such a body is: the msgpack part's
 * length (4 bytes), the msgpack part, then the attachments back to back.
 */
const ATTACHED = 0x80000000;

/** A field is sent as an attachment from this size on; below it, copying is cheaper than a part. */
const ATTACH_MIN_BYTES = 16 * 1024;

interface WithChunks {
  type: "InputChunk";
  chunks: Array<{ data: Uint8Array | number }>;
}

/**
 * The raw input chunks of an InputChunk, taken out of the message (each `data` replaced by its
 * length) when any is big enough to be worth it; null for every other message.
 */
function detach(message: unknown): { head: unknown; parts: Uint8Array[] } | null {
  const m = message as WithChunks;
  if (m?.type !== "InputChunk" || !m.chunks.some((c) => (c.data as Uint8Array).length >= ATTACH_MIN_BYTES)) {
    return null;
  }
  const parts = m.chunks.map((c) => c.data as Uint8Array);
  return { head: { ...m, chunks: m.chunks.map((c) => ({ ...c, data: (c.data as Uint8Array).length })) }, parts };
}

/** Puts attachments back where detach() took them from (views into the body: no copy). */
function attach(message: unknown, rest: Uint8Array): unknown {
  const m = message as WithChunks;
  if (m?.type !== "InputChunk") throw new FrameError("attachments on a message that has none");
  let at = 0;
  for (const c of m.chunks) {
    const n = c.data as number;
    if (!Number.isInteger(n) || n < 0 || at + n > rest.length) throw new FrameError("attachment lengths do not add up");
    c.data = rest.subarray(at, at + n);
    at += n;
  }
  if (at !== rest.length) throw new FrameError("attachment lengths do not add up");
  return m;
}

function readLength(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];
}

function unpackBody(body: Uint8Array): unknown {
  try {
    return packr.unpack(body);
  } catch (e) {
    throw new FrameError(`frame of ${body.length} bytes is not valid msgpack: ${(e as Error).message}`);
  }
}

function withAttachments(body: Uint8Array): unknown {
  const packed = body.length >= HEADER_BYTES ? readLength(body, 0) : -1;
  if (packed < 0 || HEADER_BYTES + packed > body.length) throw new FrameError("frame with attachments is truncated");
  const head = unpackBody(body.subarray(HEADER_BYTES, HEADER_BYTES + packed));
  return attach(head, body.subarray(HEADER_BYTES + packed));
}

function writeLength(frame: Uint8Array, at: number, n: number): void {
  frame[at] = n >>> 24;
  frame[at + 1] = (n >>> 16) & 0xff;
  frame[at + 2] = (n >>> 8) & 0xff;
  frame[at + 3] = n & 0xff;
}

/**
 * Encodes one message as a frame in parts to write back to back: the first holds the header and
 * the msgpack body; any others are attachments, the caller's own buffers (not copied).
 */
export function encodeFrameParts(message: unknown): Uint8Array[] {
  const d = detach(message);
  if (!d) return [encodeFrame(message)];
  const head = packr.pack(d.head, RESERVE_START_SPACE | (2 * HEADER_BYTES));
  const packed = head.length - 2 * HEADER_BYTES;
  const size = d.parts.reduce((n, p) => n + p.length, HEADER_BYTES + packed);
  writeLength(head, 0, (size | ATTACHED) >>> 0);
  writeLength(head, HEADER_BYTES, packed);
  return [head, ...d.parts.filter((p) => p.length > 0)];
}

/**
 * A lane's state as it travels and is kept: msgpack bytes, encoded once by the executor that
 * snapshotted it and decoded only by the one that restores it. The driver stores and forwards
 * them without reading them (decoding a word count's 30k keys at every checkpoint cost the
 * driver more CPU than reading its input).
 */
export function encodeState(state: unknown): Uint8Array {
  return packr.pack(state);
}

/** The state `encodeState` encoded. */
export function decodeState(bytes: unknown): unknown {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("lane state is not encoded state bytes");
  return packr.unpack(bytes);
}

/** Encodes one message as a frame: 4-byte big-endian body length, then the msgpack body. */
export function encodeFrame(message: unknown): Uint8Array {
  // msgpackr leaves the header's 4 bytes free in front of the body, so the frame is built in
  // place without copying the body (which can be megabytes of input data). The returned
  // buffer is not reused by later packs.
  const frame = packr.pack(message, RESERVE_START_SPACE | HEADER_BYTES);
  writeLength(frame, 0, frame.length - HEADER_BYTES);
  return frame;
}

/**
 * Turns a byte stream back into messages. Chunks may split frames anywhere; `push` returns every
 * message completed by the chunk and keeps the rest for the next call. A large frame arriving in
 * many chunks is joined once, when its last byte is there (no quadratic re-copying).
 */
export class FrameDecoder {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** Body size of the frame being assembled, once its header is known. */
  #need = -1;
  /** Whether that frame's body carries attachments. */
  #attached = false;

  constructor(readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    // A header already read stays counted until its body is complete.
    return this.#buffered + (this.#need >= 0 ? HEADER_BYTES : 0);
  }

  push(chunk: Uint8Array): unknown[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const messages: unknown[] = [];
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < HEADER_BYTES) break;
        const head = this.#take(HEADER_BYTES);
        const word = readLength(head, 0);
        this.#attached = word >= ATTACHED;
        const size = this.#attached ? word - ATTACHED : word;
        if (size > this.maxFrameBytes) {
          throw new FrameError(`frame of ${size} bytes is larger than the limit of ${this.maxFrameBytes}`);
        }
        this.#need = size;
      }
      if (this.#buffered < this.#need) break;
      const body = this.#take(this.#need);
      this.#need = -1;
      messages.push(this.#attached ? withAttachments(body) : unpackBody(body));
    }
    return messages;
  }

  /** Removes and returns the first n buffered bytes (n <= buffered). */
  #take(n: number): Uint8Array {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first && first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0];
      const use = Math.min(c.length, n - filled);
      out.set(c.subarray(0, use), filled);
      filled += use;
      if (use === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(use);
    }
    return out;
  }
}
