import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle, ROOT } from "../support/cli.ts";

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), "drizzle-bench-cli-"))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("bench --report --out writes the summary and the figure from a saved result, in that directory only", async () => {
  const out = join(dir, "results");
  mkdirSync(out);
  copyFileSync(`${ROOT}bench/results/memory.json`, join(out, "memory.json"));
  const before = statSync(`${ROOT}bench/results/memory.md`).mtimeMs;
  const r = await drizzle(["bench", "--report", "memory", "--out", out]);
  expect(r.stderr).toContain(`from the saved results in ${out}`);
  expect(r.code).toBe(0);
  const saved = JSON.parse(readFileSync(join(out, "memory.json"), "utf8")) as {
    runs: Array<{ bytes: number; purgeDelay?: string; batchRecords?: number; footprint?: string }>;
  };
  const md = readFileSync(join(out, "memory.md"), "utf8");
  // One table row per setting and input size in the saved runs, below the header and its rule.
  const settings = new Set(saved.runs.map((r) => `${r.bytes} ${r.purgeDelay} ${r.batchRecords} ${r.footprint}`));
  const rows = md.split("\n").filter((l) => /^\| +\d/.test(l));
  expect(rows.length).toBe(settings.size);
  expect(readFileSync(join(out, "memory.svg"), "utf8")).toStartWith("<svg");
  expect(statSync(`${ROOT}bench/results/memory.md`).mtimeMs).toBe(before);
}, 60_000);

test("bench: a result that was never saved, or an unknown benchmark, is a usage error", async () => {
  const empty = join(dir, "empty");
  mkdirSync(empty);
  const missing = await drizzle(["bench", "--report", "ysb", "--out", empty]);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain(`no saved result ${empty}/ysb.json`);
  expect(existsSync(join(empty, "ysb.md"))).toBe(false);
  const unknown = await drizzle(["bench", "nosuch"]);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain("unknown benchmark 'nosuch'");
}, 60_000);
