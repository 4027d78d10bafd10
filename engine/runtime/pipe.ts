/**
 * A larger buffer for the pipe drizzle reads its input from. A Linux pipe holds 64 KB by
 * default, so a producer writing 250 MB/s into it and drizzle reading it out meet about 4000
 * times a second, each time with a context switch on both sides (in a profile of the driver at
 * 1M YSB events/s, 43% of its samples were in task switches). With 1 MB (what an unprivileged
 * process may ask for by default, `/proc/sys/fs/pipe-max-size`) reads and writes come in larger
 * pieces: the 8.5M-event YSB backlog through `cat |` took 6.5 s instead of 7.6 (medians of 4
 * interleaved runs; `bun bench/stdin_pipe.ts` compares the two). Neither runtime has `fcntl`, so
 * it is called in the C library through the runtime's foreign function interface. Where any of
 * it is missing (not Linux, no `libc.so.6`, not a pipe) nothing changes.
 * @module
 */

import { readFileSync } from "node:fs";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;

/** What a pipe is grown to. */
export const PIPE_BUFFER_BYTES = 1 << 20;

type Fcntl = (fd: number, cmd: number, arg: number) => number;

async function loadFcntl(): Promise<Fcntl | null> {
  if (process.platform !== "linux") return null;
  try {
    if (g.Bun) {
      const ffi = await import("bun:ffi");
      const lib = ffi.dlopen("libc.so.6", {
        fcntl: { args: [ffi.FFIType.i32, ffi.FFIType.i32, ffi.FFIType.i32], returns: ffi.FFIType.i32 },
      });
      return (fd, cmd, arg) => lib.symbols.fcntl(fd, cmd, arg) as number;
    }
    if (g.Deno) {
      const lib = g.Deno.dlopen("libc.so.6", { fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" } });
      return (fd, cmd, arg) => lib.symbols.fcntl(fd, cmd, arg) as number;
    }
  } catch {
    // No C library by that name, or no permission for foreign functions (Deno without --allow-ffi).
  }
  return null;
}

/** The most an unprivileged process may ask for (`/proc/sys/fs/pipe-max-size`). */
function pipeMaxSize(): number {
  try {
    return Number(readFileSync("/proc/sys/fs/pipe-max-size", "utf8").trim()) || PIPE_BUFFER_BYTES;
  } catch {
    return PIPE_BUFFER_BYTES;
  }
}

/** The largest size `growPipe` asks for (what fits the call's 32-bit argument, rounded to a power of two). */
export const PIPE_BUFFER_MAX = 1 << 30;

/**
 * When `fd` is a pipe, grows its buffer to `bytes` (at most PIPE_BUFFER_MAX; the system rounds
 * up to a power of two of pages), or, when the system refuses that, to its limit for
 * unprivileged processes; returns its size before and after, or null when `fd` is not a pipe or
 * this cannot be done here. A pipe already as large is left as it is.
 */
export async function growPipe(
  fd: number,
  bytes = PIPE_BUFFER_BYTES,
): Promise<{ before: number; after: number } | null> {
  const fcntl = await loadFcntl();
  if (!fcntl) return null;
  const before = fcntl(fd, F_GETPIPE_SZ, 0);
  if (before < 0) return null; // not a pipe
  const want = Math.min(bytes, PIPE_BUFFER_MAX);
  if (before < want && fcntl(fd, F_SETPIPE_SZ, want) < 0) {
    const limit = pipeMaxSize();
    if (limit > before && limit < want) fcntl(fd, F_SETPIPE_SZ, limit);
  }
  return { before, after: fcntl(fd, F_GETPIPE_SZ, 0) };
}
