/**
 * Executors on other machines over ssh (`--hosts`). A throwaway sshd on 127.0.0.2 and
 * 127.0.0.3 stands for two hosts: executors listen on the address their ssh session came in on,
 * so a shuffle between them works only if each advertises an address its peers can reach.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runPipeline, SshLauncher } from "../../mod.ts";
import { awkWordCount, DRIZZLE, drizzle, ROOT } from "../support/cli.ts";
import { wordsText } from "./helpers.ts";
import { evaluateReference } from "../support/reference.ts";
import { HOSTS, sshdMissing, startSshd, type TestSshd } from "../support/sshd.ts";

const missing = sshdMissing();
if (missing) console.warn(`ssh_test skipped: ${missing}`);

const wordcount = readFileSync(`${ROOT}pipelines/wordcount.yaml`, "utf8");
const words = readFileSync(`${ROOT}test/golden/wordcount.in`, "utf8").repeat(4);
const text = wordsText(8_000);
const sorted = (s: string) => s.split("\n").filter(Boolean).sort();

let sshd: TestSshd;
let dir: string;

beforeAll(async () => {
  if (missing) return;
  sshd = await startSshd();
  dir = mkdtempSync(join(tmpdir(), "drizzle-ssh-test-"));
  writeFileSync(join(dir, "words.txt"), text);
});
afterAll(async () => {
  await sshd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(missing !== null)("drizzle run --hosts", () => {
  test("copies this build to each host once, runs executors there, output matches awk", async () => {
    const remoteCache = join(dir, "remote-cache");
    const ssh = [...sshd.ssh, "-o", `SetEnv=XDG_CACHE_HOME=${remoteCache}`].join(" ");
    const args = ["run", "pipelines/wordcount.yaml", "--hosts", HOSTS.join(","), "--workers", "3", "--ssh", ssh];
    const env = { XDG_CACHE_HOME: join(dir, "local-cache") };
    const r = await drizzle([...args, "--quiet"], text, env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sorted(r.stdout)).toEqual(await awkWordCount(join(dir, "words.txt")));
    // One build, named by its content hash, executable, in the remote cache.
    const builds = readdirSync(join(remoteCache, "drizzle"));
    expect(builds).toHaveLength(1);
    const shipped = join(remoteCache, "drizzle", builds[0], "drizzle");
    expect(statSync(shipped).mode & 0o111).not.toBe(0);
    const before = statSync(shipped).mtimeMs;
    // A second run finds the build there and does not copy it again.
    const again = await drizzle(["--log-level", "info", ...args], text, env);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain("copying drizzle");
    expect(statSync(shipped).mtimeMs).toBe(before);
    expect(sorted(again.stdout)).toEqual(sorted(r.stdout));
  }, 180_000);

  test("a host that cannot be reached is a clear error naming it (exit 1), without waiting", async () => {
    const r = await drizzle(
      [
        "run",
        "pipelines/wordcount.yaml",
        "--hosts",
        "127.0.0.4",
        "--ssh",
        sshd.ssh.join(" "),
        "--remote-drizzle",
        DRIZZLE,
      ],
      "a b\n",
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("127.0.0.4");
    expect(r.stdout).toBe("");
  }, 60_000);

  test("losing a host's connection mid-run: its lanes recover elsewhere, nothing lost or doubled", async () => {
    const launcher = new SshLauncher({ hosts: HOSTS, ssh: sshd.ssh, remoteDrizzle: DRIZZLE });
    let committed = 0;
    const events: string[] = [];
    const { output, summary } = await runPipeline(wordcount, {
      input: words,
      workers: 3,
      partitions: 6,
      groupSize: 2,
      batchRecords: 50,
      intervalMs: 3_600_000,
      launcher,
      observer: {
        // Killing the local ssh client cuts executor 1 off as a network failure would.
        batch: () => void (++committed === 4 && process.kill(launcher.pid(1)!, "SIGKILL")),
        event: (e) => events.push(e),
      },
    });
    expect(events[0]).toStartWith("lost executor 1");
    expect(summary.recoveries.length).toBeGreaterThanOrEqual(1);
    expect(sorted(output)).toEqual([...evaluateReference(wordcount, words, 50).lines].sort());
  }, 120_000);
});
