import type { Readable } from "node:stream";
import { buffersPassed } from "../runtime/mod.ts";

/**
 * Input read straight into the batcher's slabs: no chunk is allocated per read, so there is
 * neither a copy nor garbage to collect (a file descriptor: stdin, a file).
 */
export interface ByteReader {
  /** Reads up to `length` bytes into `buf` at `offset`; resolves to 0 at the end of input. */
  readInto(buf: Uint8Array, offset: number, length: number): Promise<number>;
}

/** The least free room a read is given; a slab with less left is replaced first. */
const MIN_READ = 64 << 10;

/** One micro-batch of raw input as cut by the driver: whole lines only. */
export interface RawBatch {
  data: Uint8Array;
  records: number;
  /** Input ended with this batch. */
  final: boolean;
  /** A generated source: which events the batch covers (data is empty). */
  gen?: { start: number; count: number; startTimeMs: number };
  /**
   * The consumer is done with `data`: its memory may be reused for later input. Call it once
   * nothing refers to the bytes any more (not even a write waiting to go out).
   */
  release?: () => void;
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
 * Input is gathered into slabs of four batches' size (from 1 to 16 MB); a batch is a view of one
 * slab. When a slab is full, the input not yet in a batch (under a batch) moves to the next.
 */
function slabBytes(batchBytes: number): number {
  return Math.min(16 << 20, Math.max(1 << 20, 4 * batchBytes));
}

interface Slab {
  buf: Uint8Array;
  /** Batches cut from it and not yet released. */
  refs: number;
}

/**
 * Cuts a byte stream into micro-batches of whole lines, by time (every interval) or by size
 * (batchRecords / batchBytes), whichever comes first. Record-count cuts are exact, so the same
 * input with a long interval always gives the same batches.
 *
 * Input is copied into reused slabs and each batch is a view of one slab, released by the
 * consumer (`RawBatch.release`) once it no longer needs the bytes. Concatenating chunks into a
 * fresh buffer per batch instead cost the driver more than everything else it does: fresh
 * memory faults its pages in, and dead buffers need collections.
 */
export class Batcher {
  /** The slab being filled; [#start, #end) is input not yet in a batch. */
  #slab: Slab = { buf: new Uint8Array(0), refs: 0 };
  /** The slab up to #end: newlines are searched in it. */
  #view: Uint8Array = new Uint8Array(0);
  /**
   * Released slabs, for reuse. Never more than were in use at once, which the consumer's limit
   * on input it holds bounds (the driver's --max-buffer).
   */
  #free: Uint8Array[] = [];
  readonly #slabBytes: number;
  #start = 0;
  /** The end of the last line counted into the batch being built. */
  #cutEnd = 0;
  /** Where the search for the next newline resumes. */
  #scan = 0;
  #end = 0;
  #records = 0;
  #headerDone: boolean;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #ended = false;
  #paused = false;
  #stopped = false;
  #overdue = false;
  #skip: number;
  #cuts: number[];
  /** The input ended while paused. */
  #endSeen = false;

  /** A read into the slab is in flight (ByteReader input). */
  #reading = false;

  constructor(readonly input: Readable | ByteReader, readonly opts: BatcherOptions) {
    this.#headerDone = !opts.header;
    this.#skip = opts.skipBytes ?? 0;
    this.#cuts = [...(opts.cuts ?? [])];
    this.#slabBytes = slabBytes(opts.batchBytes);
  }

  start(): void {
    this.#cutLoggedEmpty(0);
    this.#arm();
    const input = this.input;
    if ("readInto" in input) return this.#pull();
    input.on("data", (c: Uint8Array) => {
      // The chunk is copied into a slab and dropped at once.
      buffersPassed(c.length);
      this.#onData(c);
    });
    input.on("end", () => this.#onEnd());
    input.on("error", (e) => this.opts.onError(e));
  }

  /** ByteReader input: reads into the slab's free room until paused or at the end. */
  #pull(): void {
    const input = this.input;
    if (!("readInto" in input) || this.#reading || this.#paused || this.#ended) return;
    if (this.#slab.buf.length - this.#end < MIN_READ) this.#moveToNewSlab(MIN_READ);
    this.#reading = true;
    const buf = this.#slab.buf;
    input.readInto(buf, this.#end, buf.length - this.#end).then((n) => {
      this.#reading = false;
      if (this.#ended) return;
      if (n === 0) return this.#onEnd();
      this.#end += n;
      this.#view = buf.subarray(0, this.#end);
      this.#scanLines();
      this.#pull();
    }, (e) => {
      this.#reading = false;
      if (!this.#ended) this.opts.onError(e as Error);
    });
  }

  #pauseInput(): void {
    if (!("readInto" in this.input)) this.input.pause();
  }

  #resumeInput(): void {
    if ("readInto" in this.input) this.#pull();
    else this.input.resume();
  }

  /** The consumer has room again: resume reading, and cut a batch if its interval is overdue. */
  resume(): void {
    if (this.#stopped || this.#ended) return;
    if (this.#paused && this.opts.hasRoom()) {
      this.#paused = false;
      this.#scanLines();
      if (this.#paused) return;
      if (this.#endSeen) this.#onEnd();
      else this.#resumeInput();
    }
    if (this.#overdue && this.opts.hasRoom()) {
      this.#overdue = false;
      this.#cut(false);
      this.#arm();
    }
  }

  /** Stops reading for good (Ctrl-C): the lines counted so far go out as the final batch. */
  stop(): void {
    if (this.#stopped || this.#ended) return;
    this.#stopped = true;
    this.#pauseInput();
    this.#onEnd();
  }

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

  /** Appends bytes after #end, moving the input not yet cut to another slab if they do not fit. */
  #append(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#slab.buf.length) this.#moveToNewSlab(chunk.length);
    this.#slab.buf.set(chunk, this.#end);
    this.#end += chunk.length;
    this.#view = this.#slab.buf.subarray(0, this.#end);
  }

  /** Continues in another slab with room for `room` more bytes: the input not yet cut moves there. */
  #moveToNewSlab(room: number): void {
    const old = this.#slab;
    const pending = this.#end - this.#start;
    const need = pending + room;
    const size = this.#slabBytes;
    const buf = need <= size ? (this.#free.pop() ?? new Uint8Array(size)) : new Uint8Array(need * 2);
    buf.set(old.buf.subarray(this.#start, this.#end));
    this.#slab = { buf, refs: 0 };
    if (old.refs === 0) this.#recycle(old.buf);
    this.#cutEnd -= this.#start;
    this.#scan -= this.#start;
    this.#end = pending;
    this.#start = 0;
    this.#view = buf.subarray(0, this.#end);
  }

  #recycle(buf: Uint8Array): void {
    if (buf.length === this.#slabBytes) this.#free.push(buf);
    else buffersPassed(buf.length);
  }

  #onData(chunk: Uint8Array): void {
    if (this.#ended) return;
    this.#append(chunk);
    this.#scanLines();
  }

  /** Counts the complete lines after #scan into batches, cutting as the limits are reached. */
  #scanLines(): void {
    this.#cutLoggedEmpty(0);
    if (!this.#headerDone) {
      const nl = this.#view.indexOf(NL, this.#start);
      if (nl < 0) return;
      const head = Buffer.from(this.#view.buffer, this.#view.byteOffset + this.#start, nl - this.#start);
      this.#headerDone = true;
      this.opts.onHeader?.(head.toString("utf8"), nl - this.#start + 1);
      this.#start = this.#cutEnd = this.#scan = nl + 1;
    }
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, this.#end - this.#start);
      this.#skip -= n;
      this.#start = this.#cutEnd = this.#scan = this.#start + n;
      if (this.#skip > 0) return;
    }
    const view = this.#view;
    while (!this.#paused) {
      // Resumed runs first re-cut the logged batches exactly; then the usual limits apply.
      const batchRecords = this.#cuts.length ? this.#cuts[0] : this.opts.batchRecords;
      const batchBytes = this.#cuts.length ? Infinity : this.opts.batchBytes;
      let full = this.#records >= batchRecords;
      while (!full) {
        const nl = view.indexOf(NL, this.#scan);
        if (nl < 0) {
          this.#scan = this.#end;
          return;
        }
        this.#records++;
        this.#cutEnd = this.#scan = nl + 1;
        full = this.#records >= batchRecords || this.#cutEnd - this.#start >= batchBytes;
      }
      this.#cut(false);
      this.#arm();
      if (!this.opts.hasRoom()) {
        // The rest stays in the slab and is counted when resumed.
        this.#paused = true;
        this.#pauseInput();
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
    const rest = this.#end - this.#cutEnd;
    if (rest > 0 && !this.#stopped) {
      if (this.#headerDone) {
        // A last line without a newline is still a record.
        this.#append(new Uint8Array([NL]));
        this.#records++;
        this.#cutEnd = this.#scan = this.#end;
      } else {
        this.#headerDone = true;
        const head = Buffer.from(this.#view.buffer, this.#view.byteOffset + this.#start, rest);
        this.opts.onHeader?.(head.toString("utf8"), rest);
        this.#start = this.#cutEnd = this.#scan = this.#end;
      }
    }
    this.#cut(true);
  }

  #cut(final: boolean): void {
    this.#cuts.shift();
    const slab = this.#slab;
    const data = slab.buf.subarray(this.#start, this.#cutEnd);
    const b: RawBatch = { data, records: this.#records, final };
    if (data.length > 0) {
      slab.refs++;
      let released = false;
      b.release = () => {
        if (released) return;
        released = true;
        if (--slab.refs === 0 && slab !== this.#slab) this.#recycle(slab.buf);
      };
    }
    this.#start = this.#cutEnd;
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
