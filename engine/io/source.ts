import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { SourcePlan } from "../plan/plan.ts";

/**
 * The byte stream behind a driver-side source: stdin, or the source's files read one after the
 * other (a newline is added between files whose last line lacks one).
 */
export function openSource(plan: SourcePlan, stdin: Readable): Readable {
  if (plan.kind === "stdin") return stdin;
  const paths = plan.paths;
  async function* files(): AsyncGenerator<Uint8Array> {
    for (const p of paths) {
      let last = 10;
      for await (const chunk of createReadStream(p, { highWaterMark: 1 << 20 })) {
        const c = chunk as Uint8Array;
        if (c.length) last = c[c.length - 1];
        yield c;
      }
      if (last !== 10) yield new Uint8Array([10]);
    }
  }
  return Readable.from(files(), { objectMode: false });
}
