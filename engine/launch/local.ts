import { spawn } from "node:child_process";
import type { Launcher, LaunchSpec } from "../driver/launcher.ts";
import { logLevel } from "../log.ts";
import { processEnv, selfCommand } from "../runtime/mod.ts";
import { ProcessLauncher } from "./children.ts";

/**
 * Executors as child processes of this same program (`drizzle executor`). The secret goes
 * through the child's stdin, which stays open for the whole job: when the driver dies, even by
 * SIGKILL, the pipe closes and the executors exit.
 */
export class LocalLauncher extends ProcessLauncher implements Launcher {
  readonly name = "local";
  #spec: LaunchSpec | null = null;

  constructor(readonly command: string[] = selfCommand()) {
    super();
  }

  start(spec: LaunchSpec): Promise<void> {
    this.#spec = spec;
    for (let i = 0; i < spec.count; i++) this.#spawn(i);
    return Promise.resolve();
  }

  add(executor: number): Promise<void> {
    if (!this.stopping) this.#spawn(executor);
    return Promise.resolve();
  }

  #spawn(i: number): void {
    const spec = this.#spec!;
    const [cmd, ...args] = this.command;
    const child = spawn(cmd, [...args, "executor"], {
      stdio: ["pipe", "ignore", "inherit"],
      env: {
        ...process.env,
        ...processEnv(),
        DRIZZLE_DRIVER: `${spec.driverHost}:${spec.driverPort}`,
        DRIZZLE_EXECUTOR_ID: String(i),
        DRIZZLE_JOB: spec.job,
        DRIZZLE_LOG_LEVEL: logLevel(),
      },
    });
    this.adopt(
      i,
      child,
      spec.secret,
      (code, signal) => signal ? `was killed by ${signal}` : `exited with code ${code}`,
    );
  }
}
