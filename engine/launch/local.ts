import { type ChildProcess, spawn } from "node:child_process";
import type { JobLine } from "../executor/process.ts";
import type { Launcher, LaunchSpec } from "../driver/launcher.ts";
import { logLevel } from "../log.ts";
import { type Footprint, footprintOf, processEnv, selfCommand } from "../runtime/mod.ts";
import { ProcessLauncher } from "./children.ts";

/**
 * Executors as child processes of this same program (`drizzle executor`). The secret goes
 * through the child's stdin, which stays open for the whole job: when the driver dies, even by
 * SIGKILL, the pipe closes and the executors exit.
 *
 * Executors started ahead of the job (`prestartExecutors`, given as `prestarted`, index =
 * executor id) are used for the first executors when still running; those not used are ended.
 */
export class LocalLauncher extends ProcessLauncher implements Launcher {
  readonly name = "local";
  #spec: LaunchSpec | null = null;
  #prestarted: Array<ChildProcess | undefined>;

  constructor(
    readonly command: string[] = selfCommand(),
    prestarted: ChildProcess[] = [],
    /** The run's footprint: the executors' allocator settings (processEnv). */
    readonly footprint: Footprint = footprintOf(),
  ) {
    super();
    this.#prestarted = [...prestarted];
  }

  start(spec: LaunchSpec): Promise<void> {
    this.#spec = spec;
    for (let i = 0; i < spec.count; i++) this.#spawn(i);
    this.#endPrestarted();
    return Promise.resolve();
  }

  override stop(): Promise<void> {
    this.#endPrestarted();
    return super.stop();
  }

  /** Ends the prestarted executors not used: their stdin closes and they exit. */
  #endPrestarted(): void {
    for (const c of this.#prestarted) c?.stdin?.end();
    this.#prestarted = [];
  }

  add(executor: number): Promise<void> {
    if (!this.stopping) this.#spawn(executor);
    return Promise.resolve();
  }

  #spawn(i: number): void {
    const spec = this.#spec!;
    const early = this.#prestarted[i];
    this.#prestarted[i] = undefined;
    if (early && early.exitCode === null && early.signalCode === null && early.pid !== undefined) {
      const job: JobLine = {
        secret: spec.secret,
        driver: `${spec.driverHost}:${spec.driverPort}`,
        job: spec.job,
        logLevel: logLevel(),
      };
      this.adopt(i, early, JSON.stringify(job), exitText);
      return;
    }
    early?.stdin?.end();
    const [cmd, ...args] = this.command;
    const child = spawn(cmd, [...args, "executor"], {
      stdio: ["pipe", "ignore", "inherit"],
      env: {
        ...process.env,
        ...processEnv({ ...process.env, DRIZZLE_FOOTPRINT: this.footprint }),
        DRIZZLE_DRIVER: `${spec.driverHost}:${spec.driverPort}`,
        DRIZZLE_EXECUTOR_ID: String(i),
        DRIZZLE_JOB: spec.job,
        DRIZZLE_LOG_LEVEL: logLevel(),
        // Started for this job: the secret alone comes on stdin, whatever this environment says.
        DRIZZLE_PRESTARTED: "0",
      },
    });
    this.adopt(i, child, spec.secret, exitText);
  }
}

const exitText = (code: number | null, signal: string | null) =>
  signal ? `was killed by ${signal}` : `exited with code ${code}`;
