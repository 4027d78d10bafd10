import type { Launcher, LaunchSpec } from "../driver/launcher.ts";
import { Executor } from "../executor/executor.ts";
import { executorId, jobId } from "../wire/mod.ts";

/**
 * Executors inside the driver's own process, over the same loopback TCP protocol: the full
 * system without process start-up cost, for tests.
 */
export class InProcessLauncher implements Launcher {
  readonly name = "in-process";
  readonly executors: Executor[] = [];
  onExit?: (executor: number, how: string) => void;

  #spec: LaunchSpec | null = null;

  async start(spec: LaunchSpec): Promise<void> {
    this.#spec = spec;
    for (let i = 0; i < spec.count; i++) await this.add(i);
  }

  async add(executor: number): Promise<void> {
    const spec = this.#spec!;
    this.executors[executor] = await Executor.start({
      id: executorId(executor),
      job: jobId(spec.job),
      secret: spec.secret,
      driverHost: spec.driverHost,
      driverPort: spec.driverPort,
      listenHost: "127.0.0.1",
    });
  }

  /** Stops one executor abruptly: its connections close as if its process had died. */
  async kill(executor: number): Promise<void> {
    await this.executors[executor]?.stop();
  }

  async stop(): Promise<void> {
    await Promise.all(this.executors.filter(Boolean).map((e) => e.stop()));
  }
}
