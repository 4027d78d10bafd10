import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { awkWordCount, DRIZZLE, drizzle, ROOT } from "../support/cli.ts";
import { processGroup } from "./helpers.ts";

let dir: string;
let text: string;
const textPath = () => join(dir, "words.txt");

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "drizzle-cli-"));
  // ~1.5 MB of varied text (words of the fixtures), with blanks of every kind.
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const vocab = readFileSync(`${ROOT}pipelines/data/access.log`, "utf8").split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  for (let i = 0; i < 40_000; i++) {
    const n = Math.floor(rnd() * 10);
    let l = rnd() < 0.1 ? "  " : "";
    for (let j = 0; j < n; j++) l += vocab[Math.floor(rnd() * vocab.length)] + (rnd() < 0.2 ? "\t" : " ");
    lines.push(l);
  }
  text = lines.join("\n") + "\n";
  writeFileSync(textPath(), text);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("process environment", () => {
  // The allocator settings pay where memory churns (engine/runtime/self.ts, processEnv).
  const envYaml = () => {
    const yaml = join(dir, "env.yaml");
    writeFileSync(
      yaml,
      "source: { stdin: { format: lines } }\nsteps:\n" +
        '  - map: "`${process.env.MIMALLOC_PURGE_DELAY} ${process.env.MIMALLOC_ALLOW_THP}`"\n' +
        "sink: { stdout: { format: lines } }\n",
    );
    return yaml;
  };
  const unset = () => {
    const without = { ...process.env };
    delete without.MIMALLOC_PURGE_DELAY;
    delete without.MIMALLOC_ALLOW_THP;
    delete without.DRIZZLE_FOOTPRINT;
    return without;
  };

  test("executors keep freed memory and ask for huge pages, unless the user chose otherwise", async () => {
    const yaml = envYaml();
    const byDefault = await drizzle(["run", yaml, "--workers", "2"], "a\nb\nc\nd\n", {}, unset());
    expect(byDefault.stderr).toBe("");
    expect(byDefault.stdout).toBe("-1 1\n".repeat(4));
    const chosen = await drizzle(
      ["run", yaml, "--workers", "2"],
      "a\nb\n",
      { MIMALLOC_PURGE_DELAY: "25", MIMALLOC_ALLOW_THP: "0" },
      unset(),
    );
    expect(chosen.stdout).toBe("25 0\n25 0\n");
  }, 30_000);

  test("bin/drizzle asks for huge pages in the driver too (not for the purge delay)", async () => {
    // In-process executors run the map inside the driver: it shows the driver's environment.
    const yaml = envYaml();
    const byDefault = await drizzle(["run", yaml, "--executors", "in-process"], "a\n", {}, unset());
    expect(byDefault.stdout).toBe("undefined 1\n");
    const chosen = await drizzle(
      ["run", yaml, "--executors", "in-process"],
      "a\n",
      { MIMALLOC_ALLOW_THP: "0" },
      unset(),
    );
    expect(chosen.stdout).toBe("undefined 0\n");
  }, 30_000);

  test("--footprint small: driver and executors hand freed memory back, in 4 KB pages", async () => {
    const yaml = envYaml();
    for (const how of [["--footprint", "small"], ["--footprint=small"]]) {
      const executors = await drizzle(["run", yaml, "--workers", "2", ...how], "a\nb\nc\n", {}, unset());
      expect(executors.stderr).toBe("");
      expect(executors.stdout).toBe("10 0\n".repeat(3));
      const driver = await drizzle(["run", yaml, "--executors", "in-process", ...how], "a\n", {}, unset());
      expect(driver.stdout).toBe("10 0\n");
    }
    // The environment can ask for it too; the flag wins over it.
    const byEnv = await drizzle(["run", yaml, "--workers", "1"], "a\n", { DRIZZLE_FOOTPRINT: "small" }, unset());
    expect(byEnv.stdout).toBe("10 0\n");
    const flagWins = await drizzle(
      ["run", yaml, "--workers", "1", "--footprint", "fast"],
      "a\n",
      { DRIZZLE_FOOTPRINT: "small" },
      unset(),
    );
    expect(flagWins.stdout).toBe("-1 1\n");
    const bad = await drizzle(["run", yaml, "--footprint", "tiny"], "a\n", {}, unset());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("fast, small");
  }, 60_000);

  test("--footprint small cuts batches of 10000 records unless --batch-records says otherwise", async () => {
    const yaml = envYaml();
    const input = "x\n".repeat(25_000);
    const sizes = async (extra: string[]) => {
      const metrics = join(dir, `footprint-${extra.length}.jsonl`);
      const r = await drizzle(
        ["run", yaml, "--workers", "1", "--interval", "1h", "--metrics", metrics, ...extra],
        input,
        {},
        unset(),
      );
      expect(r.code).toBe(0);
      return readFileSync(metrics, "utf8").trim().split("\n").map((l) => JSON.parse(l))
        .filter((m) => m.type === "batch").map((m) => m.recordsIn).filter((n) => n > 0);
    };
    expect(await sizes(["--footprint", "small"])).toEqual([10_000, 10_000, 5_000]);
    expect(await sizes(["--footprint", "small", "--batch-records", "20000"])).toEqual([20_000, 5_000]);
    expect(await sizes([])).toEqual([25_000]);
  }, 60_000);
});

describe("drizzle run wordcount", () => {
  for (const mode of ["drizzle", "bsp"]) {
    test(`${mode} mode matches awk`, async () => {
      const r = await drizzle([
        "run",
        "pipelines/wordcount.yaml",
        "--workers",
        "2",
        "--mode",
        mode,
        "--batch-records",
        "5000",
      ], text);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const got = r.stdout.split("\n").filter((l) => l !== "").sort();
      expect(got).toEqual(await awkWordCount(textPath()));
    }, 30_000);
  }

  test("empty input gives empty output and exit 0", async () => {
    const r = await drizzle(["run", "pipelines/wordcount.yaml", "--workers", "2"], "");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
  }, 30_000);

  test("a closed stdout (| head -1) ends the run quietly with exit 0", async () => {
    const big = text.repeat(4);
    const child = spawn(DRIZZLE, ["run", "pipelines/status_counts.yaml", "--workers", "2", "--batch-records", "100"], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    child.stdin.on("error", () => {});
    // Log lines, so the pipeline emits output every batch.
    const log = readFileSync(`${ROOT}pipelines/data/access.log`, "utf8");
    child.stdin.write(log.repeat(20));
    child.stdin.end(big.slice(0, 0));
    const first = await new Promise<string>((resolve) => child.stdout.once("data", (c) => resolve(String(c))));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(first.length).toBeGreaterThan(0);
    expect(code).toBe(0);
    expect(stderr).toBe("");
  }, 30_000);
});

describe("files", () => {
  test("file source (several files, last line without newline) and file sink", async () => {
    writeFileSync(join(dir, "a.txt"), "x y\nz x");
    writeFileSync(join(dir, "b.txt"), "y x\n");
    const p = join(dir, "files.yaml");
    writeFileSync(
      p,
      `source: { file: { path: ["${join(dir, "a.txt")}", "${join(dir, "b.txt")}"] } }
steps:
  - flatMap: "line.split(' ')"
  - keyBy: "line"
  - aggregate: { count: {} }
sink: { file: { path: "${join(dir, "out", "counts.csv")}", format: csv } }
`,
    );
    const r = await drizzle(["run", p, "--workers", "2"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    const lines = readFileSync(join(dir, "out", "counts.csv"), "utf8").trim().split("\n").sort();
    expect(lines).toEqual(["x,3", "y,2", "z,1"]);
  }, 30_000);
});

describe("bad input", () => {
  test("malformed pipeline: exit 2 with file:line:col", async () => {
    const p = join(dir, "bad.yaml");
    writeFileSync(p, 'source: { stdin: { format: lines } }\nsteps:\n  - mapp: "line"\n');
    const r = await drizzle(["run", p]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${p}:3:5: step 1: unknown step 'mapp'`);
    expect(r.stdout).toBe("");
  }, 30_000);

  test("a join table that cannot be read: exit 2 with file:line:col", async () => {
    const r = await drizzle(["validate", "pipelines/ysb.yaml"], "", { YSB_CAMPAIGNS: "/nonexistent/campaigns.csv" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("pipelines/ysb.yaml:17:19: step 4 'join': cannot read table");
    expect(r.stderr).toContain("ENOENT");
  });

  test("bad expression: exit 2 naming the step", async () => {
    const p = join(dir, "badexpr.yaml");
    writeFileSync(p, 'source: { stdin: {} }\nsteps:\n  - filter: "line.length >"\n');
    const r = await drizzle(["validate", p]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${p}:3:13: step 1 'filter': cannot compile expression`);
  }, 30_000);

  test("unknown flag: exit 2 with a suggestion", async () => {
    const r = await drizzle(["run", "pipelines/wordcount.yaml", "--worker", "2"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--workers");
  }, 30_000);

  test("rejected records: counted, reported, the run goes on, exit 3", async () => {
    const good = '1.2.3.4 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10\n';
    const r = await drizzle(
      ["run", "pipelines/status_counts.yaml", "--workers", "2"],
      good + "garbage\n" + good + "more garbage\n",
    );
    expect(r.code).toBe(3);
    expect(r.stdout.trim().split("\n").pop()).toBe("200\t2\t20");
    expect(r.stderr).toContain("2 record(s) rejected");
    expect(r.stderr).toContain("step 1 'map': 2");
  }, 30_000);
});

describe("unbounded input", () => {
  test("prints updates as batches complete; SIGINT commits what was read and exits 0", async () => {
    const child = spawn(DRIZZLE, ["run", "pipelines/status_counts.yaml", "--workers", "2", "--interval", "100ms"], {
      cwd: ROOT,
      // Its own process group: its executors can be told from any other run's on the machine.
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const line = '1.2.3.4 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 404 7\n';
    let sent = 0;
    const writer = setInterval(() => {
      child.stdin.write(line);
      sent++;
    }, 20);
    // Output appears while the input is still open: batches commit as they complete.
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    clearInterval(writer);
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(code).toBe(0);
    const last = stdout.trim().split("\n").pop()!.split("\t");
    // Everything written had time to be read before the signal: all of it is counted.
    expect(last).toEqual(["404", String(sent), String(7 * sent)]);
    expect(stderr).not.toContain("error");
    // The driver waited for its executors to exit.
    expect(processGroup(child.pid!)).toEqual([]);
  }, 30_000);

  test("a SIGINT while executors are still starting stops the run too", async () => {
    const child = spawn(
      DRIZZLE,
      ["run", "pipelines/status_counts.yaml", "--workers", "2", "--interval", "50ms", "--log-level", "debug"],
      { cwd: ROOT, detached: true, stdio: ["pipe", "pipe", "pipe"] },
    );
    let stderr = "";
    let signalled = false;
    child.stderr.on("data", (c) => {
      stderr += c;
      // The first executor registered: the driver is still waiting for the second.
      if (!signalled && stderr.includes("registered")) {
        signalled = true;
        child.kill("SIGINT");
      }
    });
    child.stdout.resume();
    child.stdin.on("error", () => {});
    // Endless input: only the signal can end this run.
    const writer = setInterval(() => child.stdin.write('1.2.3.4 - - [x] "GET / HTTP/1.1" 200 1\n'), 10);
    const closed = new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    // Not a timing assertion: a run that ignored the signal would never end on its own.
    const code = await Promise.race([closed, new Promise<"hung">((r) => setTimeout(() => r("hung"), 12_000))]);
    clearInterval(writer);
    child.stdin.destroy();
    if (code === "hung") process.kill(-child.pid!, "SIGKILL");
    expect(signalled).toBe(true);
    expect(code).toBe(0);
    expect(stderr).toContain("SIGINT: finishing the current batches");
    expect(processGroup(child.pid!)).toEqual([]);
  }, 20_000);
});
