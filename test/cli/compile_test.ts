import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { awkWordCount, ROOT } from "../support/cli.ts";
import { run, sortedLines, wordsText } from "./helpers.ts";

/**
 * `npm run compile` builds dist/drizzle with `bun build --compile`. Bun cross-builds only for
 * the targets it ships a runtime for; anywhere else the build is impossible, and only then is
 * this skipped.
 */
const SUPPORTED = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "win32-x64"];
const target = `${process.platform}-${process.arch}`;
const impossible = SUPPORTED.includes(target) ? null : `bun build --compile has no runtime for ${target}`;
if (impossible) console.warn(`compile_test skipped: ${impossible}`);

const BINARY = `${ROOT}dist/drizzle`;
let dir: string;

beforeAll(() => {
  if (impossible) return;
  dir = mkdtempSync(join(tmpdir(), "drizzle-compile-"));
  writeFileSync(join(dir, "words.txt"), wordsText(8_000));
  const build = spawnSync("npm", ["run", "--silent", "compile"], { cwd: ROOT, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`npm run compile failed:\n${build.stdout}${build.stderr}`);
}, 120_000);
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

describe.skipIf(impossible !== null)("the standalone binary (npm run compile)", () => {
  test("is a standalone binary", async () => {
    expect(existsSync(BINARY)).toBe(true);
    const r = await run(BINARY, ["--version"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^drizzle \d+\.\d+\.\d+ \(standalone binary, bun /);
  });

  test("runs wordcount from anywhere, its executors being the binary itself; matches awk", async () => {
    const words = join(dir, "words.txt");
    // From a directory with no sources and no node_modules: nothing but the binary is used.
    const r = await run(
      BINARY,
      ["run", `${ROOT}pipelines/wordcount.yaml`, "--workers", "2", "--batch-records", "5000", "--log-level", "debug"],
      { cwd: dir, stdinFile: words },
    );
    expect(r.code).toBe(0);
    expect(sortedLines(r.stdout)).toEqual(await awkWordCount(words));
    const started = r.stderr.split("\n").filter((l) => / debug: started: /.test(l));
    expect(started.length).toBe(2);
    for (const l of started) expect(l).toContain(`, ${BINARY}, pid `);
  }, 30_000);

  test("bench is a usage error that points at the source checkout", async () => {
    const r = await run(BINARY, ["bench", "--report", "memory", "--out", dir], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("benchmarks run from a source checkout: 'npm run bench'");
    expect(existsSync(join(dir, "memory.md"))).toBe(false);
  });
});
