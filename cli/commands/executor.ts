import { Command } from "@commander-js/extra-typings";
import { examples } from "../help.ts";

/**
 * `drizzle executor` (hidden): an executor process, started by `drizzle run` with where to
 * connect in the environment and the job secret on stdin. It exits when stdin closes.
 */
export function executorCommand() {
  return new Command("executor")
    .description("Run as an executor (started by 'drizzle run'; not for direct use).")
    .addHelpText(
      "after",
      examples([
        "DRIZZLE_DRIVER=127.0.0.1:4000 DRIZZLE_EXECUTOR_ID=0 DRIZZLE_JOB=ab12 drizzle executor  # secret on stdin",
      ]),
    )
    .action(async () => {
      // Loaded here: every other command (the driver among them) runs without the executor.
      const { runExecutor } = await import("../executor_main.ts");
      process.exitCode = await runExecutor();
    });
}
