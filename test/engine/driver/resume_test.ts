/**
 * A driver killed with SIGKILL mid-run, then resumed from its checkpoint directory, leaves the
 * file sink exactly as an uninterrupted run would: nothing lost, nothing written twice. And a
 * corrupt newest checkpoint is detected and the one before it used.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { evaluateReference } from "../../support/reference.ts";

const root = new URL("../../../", import.meta.url).pathname;
let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), "drizzle-resume-"))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pipelineFile(name: string, input: string, out: string, agg: "final" | "updates"): string {
  const p = join(dir, `${name}.yaml`);
  writeFileSync(
    p,
    `source: { file: { path: "${input}" } }
steps:
  - flatMap: "line.split(/[ \\\\t]+/)"
  - filter: "line.length > 0"
  - keyBy: "line"
  - aggregate: { count: {} }
    emit: ${agg}
sink: { file: { path: "${out}", format: tsv } }
`,
  );
  return p;
}

/** Runs the driver script; kills it with SIGKILL once `killWhen` holds (checked on each commit). */
function runDriver(
  opts: object,
  killWhen?: (commits: number) => boolean,
): Promise<{ killed: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${root}test/support/run_driver.ts`, JSON.stringify(opts)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    let killed = false;
    child.stderr.on("data", (c) => {
      stderr += c;
      const commits = stderr.split("\n").filter((l) => l.startsWith("committed")).length;
      if (killWhen?.(commits) && !killed) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.on("close", () => resolve({ killed, stderr }));
  });
}

const words = () => readFileSync(`${root}test/golden/wordcount.in`, "utf8").repeat(3);

describe("driver killed and resumed", () => {
  for (const agg of ["updates", "final"] as const) {
    test(`emit ${agg}: the file sink ends identical to an uninterrupted run`, async () => {
      const input = join(dir, `in-${agg}.txt`);
      writeFileSync(input, words());
      const out = join(dir, `out-${agg}.tsv`);
      const ckdir = join(dir, `ck-${agg}`);
      const pipeline = pipelineFile(`p-${agg}`, input, out, agg);
      const base = { pipeline, workers: 2, batchRecords: 100, groupSize: 3, checkpointDir: ckdir };
      const first = await runDriver({ ...base, resume: false }, (n) => n >= 40 && checkpoints(ckdir).length > 0);
      expect(first.killed).toBe(true);
      const second = await runDriver({ ...base, resume: true });
      expect(second.stderr).toContain("done");
      const resumed = JSON.parse(second.stderr.split("done ")[1]).resumed;
      // It resumed mid-run: from a checkpoint, with some batches committed after it.
      expect(resumed.checkpoint).toBeGreaterThanOrEqual(0);
      expect(resumed.committed).toBeGreaterThanOrEqual(resumed.checkpoint);
      const yaml = readFileSync(pipeline, "utf8");
      const ref = evaluateReference(yaml, readFileSync(input, "utf8"), 100);
      // Sorted: the order of lines within a batch is not defined. Every line exactly once.
      const got = readFileSync(out, "utf8").trim().split("\n");
      expect([...got].sort()).toEqual([...ref.lines].sort());
      // Resuming a run that already finished changes nothing and ends.
      const third = await runDriver({ ...base, resume: true });
      expect(third.stderr).toContain("done");
      expect(readFileSync(out, "utf8").trim().split("\n").sort()).toEqual([...ref.lines].sort());
    }, 60_000);
  }

  test("a corrupt newest checkpoint is detected and the previous one is used", async () => {
    const input = join(dir, "in-corrupt.txt");
    writeFileSync(input, words());
    const out = join(dir, "out-corrupt.tsv");
    const ckdir = join(dir, "ck-corrupt");
    const pipeline = pipelineFile("p-corrupt", input, out, "final");
    const base = { pipeline, workers: 2, batchRecords: 100, groupSize: 3, checkpointDir: ckdir };
    await runDriver({ ...base, resume: false }, () => checkpoints(ckdir).length >= 2);
    const files = checkpoints(ckdir);
    // Two are kept; a third may be there if the kill came between a write and the clean-up.
    expect(files.length).toBeGreaterThanOrEqual(2);
    const newest = join(ckdir, files[files.length - 1]);
    const bytes = readFileSync(newest);
    bytes[bytes.length - 3] ^= 0xff;
    writeFileSync(newest, bytes);
    const second = await runDriver({ ...base, resume: true });
    expect(second.stderr).toContain("torn or corrupt");
    const resumed = JSON.parse(second.stderr.split("done ")[1]).resumed;
    expect(resumed.checkpoint).toBe(Number(files[files.length - 2].match(/\d+/)![0]));
    const ref = evaluateReference(readFileSync(pipeline, "utf8"), readFileSync(input, "utf8"), 100);
    expect(readFileSync(out, "utf8").trim().split("\n").sort()).toEqual([...ref.lines].sort());
  }, 60_000);
});

function checkpoints(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => /^checkpoint-\d+\.bin$/.test(f)).sort();
  } catch {
    return [];
  }
}
