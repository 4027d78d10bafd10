import { type ChildProcess, spawn } from "node:child_process";
import type { Launcher, LaunchSpec } from "../driver/launcher.ts";
import { logLevel } from "../log.ts";
import { selfCommand } from "../runtime/mod.ts";
import { killChild, stopChildren } from "./children.ts";

/**
 * Executors as child processes of this same program (`drizzle executor`). The secret goes
 * through the child's stdin, which stays open for the whole job: when the driver dies, even by
 * SIGKILL, the pipe closes and the executors exit.
 */
export class LocalLauncher implements Launcher {
  readonly name = "local";
  readonly children = new Map<number, ChildProcess>();
  onExit?: (executor: number, how: string) => void;
  #stopping = false;

  constructor(readonly command: string[] = selfCommand()) {}

  #spec: LaunchSpec | null = null;

  start(spec: LaunchSpec): Promise<void> {
    this.#spec = spec;
    for (let i = 0; i < spec.count; i++) this.#spawn(i);
    return Promise.resolve();
  }

  add(executor: number): Promise<void> {
    if (!this.#stopping) this.#spawn(executor);
    return Promise.resolve();
  }

  #spawn(i: number): void {
    const spec = this.#spec!;
    const [cmd, ...args] = this.command;
    const child = spawn(cmd, [...args, "executor"], {
      stdio: ["pipe", "ignore", "inherit"],
      env: {
        ...process.env,
        DRIZZLE_DRIVER: `${spec.driverHost}:${spec.driverPort}`,
        DRIZZLE_EXECUTOR_ID: String(i),
        DRIZZLE_JOB: spec.job,
        DRIZZLE_LOG_LEVEL: logLevel(),
      },
    });
    child.stdin!.on("error", () => {});
    child.stdin!.write(spec.secret + "\n");
    child.on("exit", (code, signal) => {
      if (this.children.get(i) === child) this.children.delete(i);
      if (!this.#stopping) this.onExit?.(i, signal ? `was killed by ${signal}` : `exited with code ${code}`);
    });
    child.on("error", (e) => {
      if (this.children.get(i) === child) this.children.delete(i);
      if (!this.#stopping) this.onExit?.(i, `could not start: ${e.message}`);
    });
    this.children.set(i, child);
  }

  kill(executor: number): Promise<void> {
    return killChild(this.children.get(executor));
  }

  /** The process id of an executor (for tests that kill or stop one). */
  pid(executor: number): number | undefined {
    return this.children.get(executor)?.pid;
  }

  stop(): Promise<void> {
    this.#stopping = true;
    return stopChildren(this.children.values());
  }
}
