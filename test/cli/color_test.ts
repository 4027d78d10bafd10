import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "../support/cli.ts";
import { hasScript, inPty, statusDraws } from "./helpers.ts";

let dir: string;
const input = () => join(dir, "in.txt");
const ESC = "\x1b";
const LINE = '1.2.3.4 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10\n';

beforeAll(() => {
  if (!hasScript()) throw new Error("these tests need util-linux 'script' for a pseudo-terminal (Debian: bsdutils)");
  dir = mkdtempSync(join(tmpdir(), "drizzle-color-"));
  // Some rejected records too, so the run prints a warning as well as the summary.
  writeFileSync(input(), LINE.repeat(500) + "garbage\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Executors in-process: colour is all about the driver's stderr, and this saves process starts.
const run = (flags: string, env: Record<string, string> = {}) =>
  inPty(
    `bin/drizzle run pipelines/status_counts.yaml --workers 2 --executors in-process ${flags} < ${input()} > /dev/null`,
    env,
  );

describe("colour on stderr", () => {
  test("a terminal gets colour by default", async () => {
    const r = await run("");
    expect(r.code).toBe(3);
    expect(r.screen).toContain(`${ESC}[`);
    expect(r.screen).toContain("record(s) rejected");
  }, 30_000);

  test("NO_COLOR: no escape codes at all, status line included", async () => {
    const r = await run("", { NO_COLOR: "1" });
    expect(r.code).toBe(3);
    expect(statusDraws(r.screen).length).toBeGreaterThan(0);
    expect(r.screen).toContain("record(s) rejected");
    expect(r.screen).not.toContain(ESC);
  }, 30_000);

  test("--color never: no escape codes at all", async () => {
    const r = await run("--color never");
    expect(r.code).toBe(3);
    expect(statusDraws(r.screen).length).toBeGreaterThan(0);
    expect(r.screen).not.toContain(ESC);
  }, 30_000);

  test("--color always: colour into a pipe too (and it beats NO_COLOR); stdout never coloured", async () => {
    const r = await drizzle(
      ["run", "pipelines/status_counts.yaml", "--workers", "2", "--progress", "--color", "always"],
      LINE,
      {
        NO_COLOR: "1",
      },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${ESC}[32mdone${ESC}[39m`);
    expect(r.stdout).toBe("200\t1\t10\n");
  }, 30_000);

  test("usage errors are coloured only when asked", async () => {
    const [plain, coloured] = await Promise.all([drizzle(["rnu"]), drizzle(["--color", "always", "rnu"])]);
    expect(plain.stderr).toStartWith("drizzle: error: unknown command 'rnu'");
    expect(coloured.stderr).toContain(`${ESC}[31m${ESC}[1merror:`);
  }, 30_000);
});
