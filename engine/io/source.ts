import { close, open, read } from "node:fs";
import type { Readable } from "node:stream";
import type { SourcePlan } from "../plan/plan.ts";
import type { ByteReader } from "./batcher.ts";

/**
 * The bytes behind a driver-side source: stdin, or the source's files read one after the
 * other (a newline is added between files whose last line lacks one).
 */
export function openSource(plan: SourcePlan, stdin: Readable | ByteReader): Readable | ByteReader {
  if (plan.kind === "stdin") return stdin;
  return filesReader(plan.paths);
}

const readFd = (fd: number, buf: Uint8Array, offset: number, length: number) =>
  new Promise<number>((resolve, reject) => {
    const attempt = (tries: number) =>
      read(fd, buf, offset, length, null, (e, n) => {
        // A descriptor left non-blocking by whoever handed it over: wait for data instead.
        if (e && (e as NodeJS.ErrnoException).code === "EAGAIN") {
          setTimeout(() => attempt(tries + 1), Math.min(tries, 10));
        } else if (e) {
          reject(e);
        } else resolve(n);
      });
    attempt(0);
  });

/** Reads a file descriptor (stdin is 0) from where it stands, into the caller's buffer. */
export function fdReader(fd: number): ByteReader {
  return { readInto: (buf, offset, length) => readFd(fd, buf, offset, length) };
}

/** Reads the files in turn; a file whose last byte is not a newline is followed by one. */
export function filesReader(paths: string[]): ByteReader {
  let i = 0;
  let fd: number | null = null;
  let last = 10;
  const openNext = () =>
    new Promise<number>((resolve, reject) => open(paths[i], "r", (e, f) => (e ? reject(e) : resolve(f))));
  return {
    async readInto(buf, offset, length) {
      for (;;) {
        if (fd === null) {
          if (i >= paths.length) return 0;
          fd = await openNext();
          last = 10;
        }
        const n = await readFd(fd, buf, offset, length);
        if (n > 0) {
          last = buf[offset + n - 1];
          return n;
        }
        close(fd, () => {});
        fd = null;
        i++;
        if (last !== 10) {
          buf[offset] = 10;
          return 1;
        }
      }
    },
  };
}
