import { createWriteStream } from "node:fs";
import { mkdir, truncate } from "node:fs/promises";
import { dirname } from "node:path";
import type { Writable } from "node:stream";
import type { SinkPlan } from "../plan/plan.ts";

/**
 * Driver-side sink writers. The driver hands them each batch's output once, in batch order
 * (the commit); a writer only has to write and apply backpressure.
 */
export interface SinkWriter {
  /** Writes committed bytes; resolves when the writer can take more. */
  write(data: Uint8Array): Promise<void>;
  /** Flushes and closes (stdout is flushed, not closed). */
  close(): Promise<void>;
  /** Set when the reader went away (EPIPE): the job should stop quietly. */
  readonly gone: boolean;
}

export class StreamSink implements SinkWriter {
  gone = false;
  #error: Error | null = null;

  constructor(readonly out: Writable, readonly owned: boolean) {
    out.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE" || e.code === "ERR_STREAM_DESTROYED") this.gone = true;
      else this.#error = e;
    });
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.gone || data.length === 0) return Promise.resolve();
    // Resolves once the bytes were handed to the OS: a commit is recorded only after that. A
    // failed write calls back too (with its error, which the stream's "error" listener keeps).
    return new Promise((resolve) => {
      this.out.write(data, () => resolve());
    });
  }

  close(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (!this.owned) {
      if (this.gone || this.out.writableLength === 0) return Promise.resolve();
      return new Promise((resolve) => this.out.write(new Uint8Array(0), () => resolve()));
    }
    return new Promise((resolve, reject) => {
      this.out.end((e?: Error | null) => (e ? reject(e) : resolve()));
    });
  }
}

/**
 * Opens the sink. `resumeAt` (resuming a run) keeps the first that many bytes of a file sink,
 * the output committed before the restart, and appends after them (Infinity: keeps it all).
 */
export async function openSink(plan: SinkPlan, stdout: Writable, resumeAt?: number): Promise<SinkWriter> {
  if (plan.kind === "stdout") return new StreamSink(stdout, false);
  const path = plan.path!;
  await mkdir(dirname(path), { recursive: true });
  if (resumeAt !== undefined && Number.isFinite(resumeAt)) await truncate(path, resumeAt).catch(() => {});
  const file = createWriteStream(path, { flags: resumeAt !== undefined ? "a" : "w" });
  await new Promise<void>((resolve, reject) => {
    file.once("open", () => resolve());
    file.once("error", reject);
  });
  return new StreamSink(file, true);
}
