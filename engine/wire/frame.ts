import { Packr, RESERVE_START_SPACE } from "msgpackr";

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

/** Encodes one message as a frame: 4-byte big-endian body length, then the msgpack body. */
export function encodeFrame(message: unknown): Uint8Array {
  // msgpackr leaves the header's 4 bytes free in front of the body, so the frame is built in
  // place without copying the body (which can be megabytes of input data). The returned
  // buffer is not reused by later packs.
  const frame = packr.pack(message, RESERVE_START_SPACE | HEADER_BYTES);
  const size = frame.length - HEADER_BYTES;
  frame[0] = size >>> 24;
  frame[1] = (size >>> 16) & 0xff;
  frame[2] = (size >>> 8) & 0xff;
  frame[3] = size & 0xff;
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
        const size = ((head[0] << 24) >>> 0) + (head[1] << 16) + (head[2] << 8) + head[3];
        if (size > this.maxFrameBytes) {
          throw new FrameError(`frame of ${size} bytes is larger than the limit of ${this.maxFrameBytes}`);
        }
        this.#need = size;
      }
      if (this.#buffered < this.#need) break;
      const body = this.#take(this.#need);
      this.#need = -1;
      try {
        messages.push(packr.unpack(body));
      } catch (e) {
        throw new FrameError(`frame of ${body.length} bytes is not valid msgpack: ${(e as Error).message}`);
      }
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
