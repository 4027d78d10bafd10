import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle, ROOT } from "../support/cli.ts";

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), "drizzle-help-"))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EXIT_LINES = ["0    ok", "1    runtime failure", "2    usage or pipeline error", "3    finished, but records"];

describe("help", () => {
  test("--help lists every command, examples and the exit codes", async () => {
    const r = await drizzle(["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["run", "validate", "plan", "schema"]) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    expect(r.stdout).not.toMatch(/^ {2}executor /m);
    expect(r.stdout).toContain("Examples:\n  drizzle run pipelines/wordcount.yaml < README.md");
    for (const l of EXIT_LINES) expect(r.stdout).toContain(l);
  }, 30_000);

  test("every command's --help has examples", async () => {
    const commands = ["run", "validate", "plan", "schema", "executor"];
    const results = await Promise.all(commands.map((c) => drizzle([c, "--help"])));
    results.forEach((r, i) => {
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: drizzle ${commands[i]}`);
      expect(r.stdout).toMatch(/Examples:\n {2}\S/);
    });
  }, 30_000);

  test("run --help documents every flag, progress and the exit codes", async () => {
    const r = await drizzle(["help", "run"]);
    expect(r.code).toBe(0);
    for (
      const flag of [
        "--workers",
        "--mode",
        "--group-size",
        "--interval",
        "--batch-records",
        "--footprint",
        "--pipe-buffer",
        "--partitions",
        "--executors",
        "--recovery",
        "--heartbeat-timeout",
        "--checkpoint-dir",
        "--resume",
        "--progress",
        "--no-progress",
        "--metrics",
        "--quiet",
        "--color",
        "--log-level",
      ]
    ) expect(r.stdout).toContain(flag);
    for (const l of EXIT_LINES) expect(r.stdout).toContain(l);
  }, 30_000);

  test("--version prints package.json's version and the runtime", async () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8"));
    const r = await drizzle(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `drizzle ${pkg.version} (bun ${process.versions.bun}, ${process.platform}-${process.arch})\n`,
    );
  }, 30_000);
});

describe("usage errors exit 2 and say what would be right", () => {
  test("a mistyped command gets a suggestion", async () => {
    const r = await drizzle(["rnu", "pipelines/wordcount.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("drizzle: error: unknown command 'rnu'");
    expect(r.stderr).toContain("(Did you mean run?)");
    expect(r.stdout).toBe("");
  }, 30_000);

  test("a mistyped option gets a suggestion", async () => {
    const r = await drizzle(["run", "pipelines/wordcount.yaml", "--metric", "x.jsonl"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--metric'");
    expect(r.stderr).toContain("(Did you mean --metrics?)");
  }, 30_000);

  test("no command shows the usage on stderr", async () => {
    const r = await drizzle([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Usage: drizzle [options] [command]");
  }, 30_000);

  test("a bad option value says what was expected", async () => {
    const [color, workers] = await Promise.all([
      drizzle(["run", "pipelines/wordcount.yaml", "--color", "sometimes"]),
      drizzle(["run", "pipelines/wordcount.yaml", "--workers", "0"]),
    ]);
    expect(color.code).toBe(2);
    expect(color.stderr).toContain("Allowed choices are auto, always, never");
    expect(workers.code).toBe(2);
    expect(workers.stderr).toContain("--workers must be a whole number >= 1, got '0'");
  }, 30_000);

  test("a --metrics file that cannot be written", async () => {
    const r = await drizzle(["run", "pipelines/wordcount.yaml", "--metrics", join(dir, "no", "such", "dir.jsonl")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("drizzle: error: cannot write --metrics file");
    expect(r.stderr).toContain("ENOENT");
  }, 30_000);

  test("--resume without what it needs", async () => {
    const [noDir, stdin] = await Promise.all([
      drizzle(["run", "pipelines/wordcount.yaml", "--resume"]),
      drizzle(["run", "pipelines/wordcount.yaml", "--resume", "--checkpoint-dir", join(dir, "ck")]),
    ]);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toBe("drizzle: error: --resume needs --checkpoint-dir\n");
    expect(stdin.code).toBe(2);
    expect(stdin.stderr).toContain("--resume needs a file source");
  }, 30_000);

  test("validate checks every file it is given", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "source: { stdin: {} }\nsteps:\n  - mapp: line\n");
    const r = await drizzle(["validate", bad, "pipelines/wordcount.yaml", "pipelines/status_counts.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:3:5: step 1: unknown step 'mapp'`);
    expect(r.stderr).toContain("pipelines/wordcount.yaml: ok\npipelines/status_counts.yaml: ok\n");
    const ok = await drizzle(["validate", "pipelines/wordcount.yaml"]);
    expect(ok.code).toBe(0);
  }, 30_000);
});

describe("data on stdout, nothing else", () => {
  test("plan and schema write to stdout only", async () => {
    const plan = await drizzle(["plan", "pipelines/wordcount.yaml", "--partitions", "3"]);
    expect(plan.code).toBe(0);
    expect(plan.stderr).toBe("");
    expect(plan.stdout).toContain("stage 1: 3 partition(s), input: shuffle from stage 0");
    const schema = await drizzle(["schema"]);
    expect(schema.code).toBe(0);
    expect(schema.stderr).toBe("");
    expect(JSON.parse(schema.stdout).type).toBe("object");
  }, 30_000);
});
