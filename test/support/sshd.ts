/**
 * A throwaway OpenSSH server for the ssh launcher tests: its own host key, one client key, and
 * listening only on loopback addresses (127.0.0.2 and 127.0.0.3 stand for two machines). It
 * accepts XDG_CACHE_HOME from the client, so a test can keep shipped binaries in its own
 * directory. Needs `sshd` (Debian: openssh-server); `available()` says whether it is there.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SSHD = ["/usr/sbin/sshd", "/usr/bin/sshd"].find((p) => existsSync(p));
export const HOSTS = ["127.0.0.2", "127.0.0.3"];

export function sshdMissing(): string | null {
  if (!SSHD) return "sshd is not installed (apt-get install openssh-server)";
  try {
    execFileSync("ssh-keygen", ["-?"], { stdio: "ignore" });
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return "ssh-keygen is not installed";
  }
  return null;
}

export interface TestSshd {
  dir: string;
  port: number;
  /** The ssh client command line for `--ssh` (key, port-less, no host key prompts). */
  ssh: string[];
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, HOSTS[0], () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function accepting(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ host, port }, () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

export async function startSshd(): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), "drizzle-sshd-"));
  const key = (name: string) => execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, name)]);
  key("host_key");
  key("client_key");
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client_key.pub")));
  mkdirSync("/run/sshd", { recursive: true });
  const port = await freePort();
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${port}`,
      ...HOSTS.map((h) => `ListenAddress ${h}`),
      `HostKey ${join(dir, "host_key")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "StrictModes no",
      "UsePAM no",
      "AcceptEnv XDG_CACHE_HOME",
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(SSHD!, ["-D", "-e", "-f", join(dir, "sshd_config")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr!.on("data", (d) => (log += d));
  for (let i = 0; !(await accepting(HOSTS[1], port)); i++) {
    if (i > 100 || child.exitCode !== null) throw new Error(`sshd did not start:\n${log}`);
    await Bun.sleep(50);
  }
  const ssh = [
    "ssh",
    "-i",
    join(dir, "client_key"),
    "-p",
    String(port),
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
  ];
  return {
    dir,
    port,
    ssh,
    stop: async () => {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
