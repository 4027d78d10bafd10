import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { DRIZZLE, ROOT } from "../support/cli.ts";
import { processGroup, waitFor } from "./helpers.ts";

const LINE = '1.2.3.4 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10\n';

test("executors exit when the driver is killed with SIGKILL (no orphans)", async () => {
  // Its own process group, so the run's processes can be found (and only those) after the
  // driver is gone and its children are re-parented.
  const driver = spawn(DRIZZLE, ["run", "pipelines/status_counts.yaml", "--workers", "2", "--interval", "50ms"], {
    cwd: ROOT,
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const pgid = driver.pid!;
  const executors = () => processGroup(pgid).filter(([pid, cmd]) => pid !== pgid && / executor$/.test(cmd));
  // Endless stdin: a record every 20ms for as long as the test runs.
  const writer = setInterval(() => driver.stdin.write(LINE), 20);
  driver.stdin.on("error", () => {});
  try {
    // Output means the executors are up and the job is running.
    await new Promise<void>((resolve) => driver.stdout.once("data", () => resolve()));
    const before = executors();
    expect(before.length).toBe(2);
    process.kill(pgid, "SIGKILL");
    const gone = await waitFor(() => executors().length === 0, 8000);
    if (!gone) {
      const left = executors();
      for (const [pid] of left) process.kill(pid, "SIGKILL");
      throw new Error(`executors left behind after the driver died: ${JSON.stringify(left)}`);
    }
    expect(processGroup(pgid)).toEqual([]);
  } finally {
    clearInterval(writer);
    driver.stdin.destroy();
  }
}, 30_000);

test("a run that fails on its pipeline leaves none of the executors it started ahead", async () => {
  // `drizzle run` starts its executors before it reads the pipeline; this one is refused.
  const driver = spawn(DRIZZLE, ["run", "no/such/pipeline.yaml", "--workers", "2"], {
    cwd: ROOT,
    detached: true,
    stdio: ["pipe", "ignore", "pipe"],
  });
  const pgid = driver.pid!;
  let stderr = "";
  driver.stderr.on("data", (c: Uint8Array) => (stderr += new TextDecoder().decode(c)));
  const code = await new Promise<number | null>((r) => driver.on("close", (c) => r(c)));
  expect(code).toBe(2);
  // Only the driver's own message: the executors it no longer needed left without a word.
  expect(stderr.trim().split("\n")).toHaveLength(1);
  expect(stderr).toContain("no/such/pipeline.yaml");
  const gone = await waitFor(() => processGroup(pgid).length === 0, 8000);
  if (!gone) {
    const left = processGroup(pgid);
    for (const [pid] of left) process.kill(pid, "SIGKILL");
    throw new Error(`processes left behind: ${JSON.stringify(left)}`);
  }
}, 30_000);
