import type { Readable } from "node:stream";
import { buffersPassed } from "../runtime/mod.ts";

/** One micro-batch of raw input as cut by the driver: whole lines only. */
export interface RawBatch {
  data: Uint8Array;
  records: number;
  /** Input ended with this batch. */
  final: boolean;
  /** A generated source: which events the batch covers (data is empty). */
  gen?: { start: number; count: number; startTimeMs: number };
}

export interface BatcherOptions {
  /** Cut a batch when this much processing time has passed since the last cut. */
  intervalMs: number;
  /** Cut early when this many records are waiting (backlogged input runs at full speed). */
  batchRecords: number;
  /** Cut early when this many bytes are waiting. */
  batchBytes: number;
  /** Consume the first line as a header instead of a record. */
  header: boolean;
  /** Called for every batch, in order. */
  onBatch: (b: RawBatch) => void;
  /** Called once with the header line (and its size with the newline), when `header` is set. */
  onHeader?: (line: string, bytes: number) => void;
  /** Resume: bytes of line data (after any header) to skip, already covered by a checkpoint. */
  skipBytes?: number;
  /** Resume: exact record counts of the first batches (cut as logged before a restart). */
  cuts?: number[];
  /** False while the consumer has no room: the batcher pauses input and skips timer cuts. */
  hasRoom: () => boolean;
  onError: (e: Error) => void;
}

const NL = 10;

/**
 * Cuts a byte stream into micro-batches of whole lines, by time (every interval) or by size
 * (batchRecords / batchBytes), whichever comes first. Record-count cuts are exact, so the same
 * input with a long interval always gives the same batches.
 */
export class Batcher {
  #parts: Uint8Array[] = [];
  #bytes = 0;
  #records = 0;
  /** Bytes after the last newline: the start of a line not yet complete. */
  #tail: Uint8Array[] = [];
  #headerDone: boolean;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #ended = false;
  #paused = false;
  #stopped = false;

  constructor(readonly input: Readable, readonly opts: BatcherOptions) {
    this.#headerDone = !opts.header;
    this.#skip = opts.skipBytes ?? 0;
    this.#cuts = [...(opts.cuts ?? [])];
  }

  start(): void {
    this.#cutLoggedEmpty(0);
    this.input.on("data", (c: Uint8Array) => {
      buffersPassed(c.length);
      this.#onData(c);
    });
    this.input.on("end", () => this.#onEnd());
    this.input.on("error", (e) => this.opts.onError(e));
    this.#arm();
  }

  /** The consumer has room again: resume reading, and cut a batch if its interval is overdue. */
  resume(): void {
    if (this.#stopped || this.#ended) return;
    if (this.#paused && this.opts.hasRoom()) {
      this.#paused = false;
      const held = this.#held;
      this.#held = null;
      if (held) this.#onData(held);
      if (this.#paused) return;
      if (this.#endSeen) this.#onEnd();
      else this.input.resume();
    }
    if (this.#overdue && this.opts.hasRoom()) {
      this.#overdue = false;
      this.#cut(false);
      this.#arm();
    }
  }

  /** Stops reading for good (Ctrl-C): whatever is buffered goes out as the final batch. */
  stop(): void {
    if (this.#stopped || this.#ended) return;
    this.#stopped = true;
    this.input.pause();
    this.#onEnd();
  }

  #overdue = false;
  #skip: number;
  #cuts: number[];
  /** The unread rest of a chunk, kept while paused. */
  #held: Uint8Array | null = null;
  /** The input ended while paused with data held. */
  #endSeen = false;

  #arm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#ended) return;
      if (this.#cuts.length) return this.#arm();
      if (!this.opts.hasRoom()) {
        this.#overdue = true;
        return;
      }
      this.#cut(false);
      this.#arm();
    }, this.opts.intervalMs);
  }

  /** Resumed runs: batches that were logged empty are cut as soon as they are next. */
  #cutLoggedEmpty(keep: number): void {
    while (this.#cuts.length > keep && this.#cuts[0] === 0 && this.#records === 0) this.#cut(false);
  }

  #onData(chunk: Uint8Array): void {
    if (this.#ended) return;
    this.#cutLoggedEmpty(0);
    let start = 0;
    if (!this.#headerDone) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        this.#tail.push(chunk);
        return;
      }
      const head = Buffer.concat([...this.#tail, chunk.subarray(0, nl)]);
      this.#tail = [];
      this.#headerDone = true;
      this.opts.onHeader?.(head.toString("utf8"), head.length + 1);
      start = nl + 1;
    }
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, chunk.length - start);
      this.#skip -= n;
      start += n;
    }
    while (start < chunk.length) {
      // Resumed runs first re-cut the logged batches exactly; then the usual limits apply.
      const batchRecords = this.#cuts.length ? this.#cuts[0] : this.opts.batchRecords;
      const batchBytes = this.#cuts.length ? Infinity : this.opts.batchBytes;
      // Find newlines up to the record limit; the last one found ends the complete part.
      let pos = start;
      let lastNl = -1;
      // The start of a line carried over from the previous chunk counts towards the size.
      const carried = this.#tail.reduce((n, t) => n + t.length, 0);
      while (this.#records < batchRecords) {
        const nl = chunk.indexOf(NL, pos);
        if (nl < 0) break;
        this.#records++;
        lastNl = nl;
        pos = nl + 1;
        if (this.#bytes + carried + (nl + 1 - start) >= batchBytes) break;
      }
      if (lastNl < 0) {
        this.#tail.push(chunk.subarray(start));
        return;
      }
      if (this.#tail.length) {
        this.#parts.push(...this.#tail);
        for (const t of this.#tail) this.#bytes += t.length;
        this.#tail = [];
      }
      this.#parts.push(chunk.subarray(start, lastNl + 1));
      this.#bytes += lastNl + 1 - start;
      start = lastNl + 1;
      if (this.#records >= batchRecords || this.#bytes >= batchBytes) {
        this.#cut(false);
        this.#arm();
        if (!this.opts.hasRoom()) {
          this.#paused = true;
          this.input.pause();
          // Keep the rest of this chunk; it is read first when resumed.
          if (start < chunk.length) this.#held = chunk.subarray(start);
          return;
        }
      }
    }
  }

  #onEnd(): void {
    if (this.#ended) return;
    if (this.#paused && !this.#stopped) {
      this.#endSeen = true;
      return;
    }
    this.#cutLoggedEmpty(1);
    this.#ended = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#tail.length && !this.#stopped) {
      // A last line without a newline is still a record.
      const bytes = this.#tail.reduce((n, t) => n + t.length, 0);
      if (bytes > 0 && this.#headerDone) {
        this.#parts.push(...this.#tail, new Uint8Array([NL]));
        this.#bytes += bytes + 1;
        this.#records++;
      } else if (!this.#headerDone && bytes > 0) {
        this.#headerDone = true;
        const head = Buffer.concat(this.#tail);
        this.opts.onHeader?.(head.toString("utf8"), head.length);
      }
      this.#tail = [];
    }
    this.#cut(true);
  }

  #cut(final: boolean): void {
    this.#cuts.shift();
    const data = this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts);
    const b: RawBatch = {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      records: this.#records,
      final,
    };
    this.#parts = [];
    this.#bytes = 0;
    this.#records = 0;
    this.opts.onBatch(b);
  }
}

/** Splits a batch's lines into n chunks of about equal size, at line boundaries. */
export function splitAtLines(data: Uint8Array, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    if (i === n - 1) {
      out.push(data.subarray(start));
      break;
    }
    const target = Math.floor((data.length * (i + 1)) / n);
    let end = target <= start ? start : data.indexOf(NL, target - 1);
    end = end < 0 ? data.length : end + 1;
    if (target <= start) end = start;
    out.push(data.subarray(start, end));
    start = end;
  }
  return out;
}
