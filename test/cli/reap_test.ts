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
