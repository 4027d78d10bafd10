#!/usr/bin/env bun
/**
 * What an executor process runs: the hidden `drizzle executor` command, and also an entry of its
 * own. `drizzle run` from source starts executors as `<runtime> cli/executor_main.ts executor`
 * (see `selfCommand`), which loads only the engine: the full command line (commander, zod, yaml,
 * every command) cost each executor about 0.3 s of start-up. The trailing `executor` argument is
 * what the full command line needs (a standalone binary is started that way) and is ignored here.
 *
 * The engine is loaded only once Ctrl-C is ignored (`ignoreInterrupts`): executors start beside
 * the driver, in its process group, and one still loading must not die of the Ctrl-C the driver
 * answers by finishing its batches.
 * @module
 */
import type { LogLevel } from "../engine/log.ts";

/**
 * Ctrl-C reaches the whole process group; the driver decides how the job stops (it finishes the
 * current batches, then sends Shutdown), so an executor ignores it from its first moment.
 */
export function ignoreInterrupts(): void {
  process.on("SIGINT", () => {});
}

/**
 * Runs an executor: where to connect comes from the environment (`DRIZZLE_DRIVER`,
 * `DRIZZLE_EXECUTOR_ID`, `DRIZZLE_JOB`), the job secret from stdin. Resolves to the exit code
 * when stdin closes or the driver shuts the job down.
 */
export async function runExecutor(): Promise<number> {
  const { configureLog } = await import("../engine/log.ts");
  const { executorMain } = await import("../engine/executor/process.ts");
  const env = process.env;
  configureLog({
    prefix: `drizzle executor ${env.DRIZZLE_EXECUTOR_ID ?? "?"}`,
    level: (env.DRIZZLE_LOG_LEVEL as LogLevel) || "warn",
  });
  return await executorMain(env, process.stdin);
}

if (import.meta.main) {
  ignoreInterrupts();
  let code = 1;
  try {
    code = await runExecutor();
  } catch (e) {
    const { log } = await import("../engine/log.ts");
    log.error((e as Error).message);
  }
  process.exit(code);
}
