/**
 * Generated input files, cached in the temp directory by size and seed (the same bytes every
 * time, so a rerun does not pay for generating them again).
 * @module
 */
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { textChunks } from "./gen_text.ts";

export const BENCH_TMP = `${tmpdir()}/drizzle-bench`;

/** Path of a text file of exactly `bytes` bytes (generated on first use). */
export function textFile(bytes: number, seed = 1): string {
  mkdirSync(BENCH_TMP, { recursive: true });
  const path = `${BENCH_TMP}/text-${bytes}-${seed}.txt`;
  if (existsSync(path) && statSync(path).size === bytes) return path;
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w");
  for (const chunk of textChunks(bytes, seed)) writeSync(fd, chunk);
  closeSync(fd);
  renameSync(tmp, path);
  return path;
}
