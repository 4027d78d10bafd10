import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { awkWordCount } from "../support/cli.ts";
import { DENO, hasDeno, run, sortedLines, wordsText } from "./helpers.ts";

/** The CLI under Deno 2 (npm's `deno` package, a devDependency), through the deno task users run. */
let dir: string;
const words = () => join(dir, "words.txt");

beforeAll(() => {
  if (!hasDeno()) throw new Error(`${DENO} is missing: run 'npm ci' (deno is a devDependency)`);
  dir = mkdtempSync(join(tmpdir(), "drizzle-deno-"));
  writeFileSync(words(), wordsText(8_000));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("under Deno", () => {
  test("deno task drizzle: wordcount matches awk, executors run under Deno too", async () => {
    const r = await run(
      DENO,
      [
        "task",
        "-q",
        "drizzle",
        "run",
        "pipelines/wordcount.yaml",
        "--workers",
        "2",
        "--batch-records",
        "5000",
        "--log-level",
        "debug",
      ],
      { stdinFile: words() },
    );
    expect(r.code).toBe(0);
    expect(sortedLines(r.stdout)).toEqual(await awkWordCount(words()));
    const started = r.stderr.split("\n").filter((l) => / debug: started: /.test(l));
    expect(started.length).toBe(2);
    for (const l of started) expect(l).toMatch(/: debug: started: deno 2\.\d+\.\d+, /);
  }, 30_000);

  test("bsp mode, --metrics and exit code 3 for rejected records", async () => {
    const metrics = join(dir, "m.jsonl");
    const input = join(dir, "log.txt");
    writeFileSync(input, '1.2.3.4 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10\nnot a log line\n');
    const r = await run(
      DENO,
      [
        "task",
        "-q",
        "drizzle",
        "run",
        "pipelines/status_counts.yaml",
        "--workers",
        "2",
        "--mode",
        "bsp",
        "--metrics",
        metrics,
      ],
      { stdinFile: input },
    );
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("200\t1\t10\n");
    expect(r.stderr).toContain("1 record(s) rejected");
    const last = JSON.parse(readFileSync(metrics, "utf8").trim().split("\n").pop()!);
    expect(last).toMatchObject({ type: "summary", recordsIn: 2, exitCode: 3 });
  }, 30_000);
});
