import { spawn } from "node:child_process";
import type { Launcher, LaunchSpec } from "../driver/launcher.ts";
import { logLevel } from "../log.ts";
import { ProcessLauncher } from "./children.ts";
import { type Footprint, footprintOf, processEnv } from "../runtime/mod.ts";
import { ensureRemoteBinary, localBinary, remotePath, shellQuote } from "./ship.ts";

/** One entry of `--hosts`: `[user@]host[:port]` (an IPv6 address in brackets: `[::1]:22`). */
export interface HostSpec {
  /** What ssh connects to: `user@host` or `host` (a name from the ssh config works too). */
  destination: string;
  port?: number;
}

export function parseHost(spec: string): HostSpec {
  // Nothing may start with "-": ssh would read it as an option.
  const m = /^(?:([^@\s-][^@\s]*)@)?(\[[^\]]+\]|[^:@\s\[\]-][^:@\s\[\]]*)(?::(\d+))?$/.exec(spec.trim());
  if (!m) throw new Error(`not a host: ${JSON.stringify(spec)} (expected [user@]host[:port])`);
  const host = m[2].startsWith("[") ? m[2].slice(1, -1) : m[2];
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`bad port in ${JSON.stringify(spec)}`);
  return { destination: m[1] ? `${m[1]}@${host}` : host, port };
}

export interface SshLauncherOptions {
  hosts: string[];
  /** The ssh client and its options, e.g. `["ssh", "-i", "key"]` (default `["ssh"]`). */
  ssh?: string[];
  /** A drizzle binary already installed on every host: nothing is copied. */
  remoteDrizzle?: string;
  /** Where the driver listens; it must be reachable from the hosts (default: every address). */
  listenHost?: string;
  /** The run's footprint: the executors' allocator settings (processEnv; default: DRIZZLE_FOOTPRINT). */
  footprint?: Footprint;
}

/**
 * Executors on other machines, started with the system ssh client (BatchMode, so the user's
 * ssh config, keys, agent and jump hosts apply). Executor i runs on host i mod hosts. Each host
 * gets this exact build first (copied once, named by content hash) unless `remoteDrizzle` names
 * one. As with local executors, the secret goes through stdin, which stays open: when the driver
 * dies, ssh closes it and the remote executor exits. The executor finds the driver's address,
 * and the address to offer its peers, in `SSH_CONNECTION` (the two ends of this ssh session).
 */
export class SshLauncher extends ProcessLauncher implements Launcher {
  readonly name = "ssh";
  readonly listenHost: string;
  readonly #hosts: HostSpec[];
  readonly #ssh: string[];
  #binary = "";
  #spec: LaunchSpec | null = null;

  constructor(readonly o: SshLauncherOptions) {
    super();
    if (o.hosts.length === 0) throw new Error("--hosts needs at least one host");
    this.#hosts = o.hosts.map(parseHost);
    this.#ssh = o.ssh?.length ? o.ssh : ["ssh"];
    this.listenHost = o.listenHost ?? "0.0.0.0";
  }

  /** The host executor `i` runs on. */
  hostOf(i: number): string {
    return this.o.hosts[i % this.o.hosts.length];
  }

  #command(host: HostSpec, remote: string): string[] {
    const [cmd, ...opts] = this.#ssh;
    const port = host.port === undefined ? [] : ["-p", String(host.port)];
    return [cmd, ...opts, "-o", "BatchMode=yes", ...port, host.destination, "--", remote];
  }

  async start(spec: LaunchSpec): Promise<void> {
    this.#spec = spec;
    if (this.o.remoteDrizzle) this.#binary = shellQuote(this.o.remoteDrizzle);
    else {
      const bin = await localBinary();
      const used = [...new Set(Array.from({ length: spec.count }, (_, i) => i % this.#hosts.length))];
      await Promise.all(
        used.map((h) => ensureRemoteBinary((c) => this.#command(this.#hosts[h], c), bin, this.o.hosts[h])),
      );
      this.#binary = remotePath(bin.hash);
    }
    for (let i = 0; i < spec.count; i++) this.#spawn(i);
  }

  add(executor: number): Promise<void> {
    if (!this.stopping) this.#spawn(executor);
    return Promise.resolve();
  }

  #spawn(i: number): void {
    const spec = this.#spec!;
    const env = {
      ...processEnv({ ...process.env, DRIZZLE_FOOTPRINT: this.o.footprint ?? footprintOf() }),
      // No host: the executor connects back to where its ssh session came from.
      DRIZZLE_DRIVER: `:${spec.driverPort}`,
      DRIZZLE_EXECUTOR_ID: String(i),
      DRIZZLE_JOB: spec.job,
      DRIZZLE_LOG_LEVEL: logLevel(),
    };
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`).join(" ");
    const [cmd, ...args] = this.#command(
      this.#hosts[i % this.#hosts.length],
      `exec env ${assignments} ${this.#binary} executor`,
    );
    const child = spawn(cmd, args, { stdio: ["pipe", "ignore", "inherit"] });
    const host = this.hostOf(i);
    this.adopt(i, child, spec.secret, (code, signal) => {
      const how = signal
        ? `its ssh was killed by ${signal}`
        : code === 255
        ? "ssh failed (exit 255)"
        : `exited with code ${code}`;
      return `on ${host}: ${how}`;
    });
  }
}
