/**
 * The drizzle command line (started by cli/main.ts). With main.ts, the only place that prints to
 * the user and decides the exit code; everything it does is a call into engine/. Each command
 * lives in cli/commands/<name>.ts; this file only assembles them, sets up stderr (colour, logs)
 * and turns errors into exit codes.
 *
 * To add a command: write cli/commands/<name>.ts exporting a function that returns a
 * `Command`, and add one `add(...)` line below.
 * @module
 */
import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { PipelineError } from "../engine/plan/mod.ts";
import { configureLog } from "../engine/log.ts";
import { colorOption, logLevelOption } from "./args.ts";
import { EXIT, UsageError } from "./exit.ts";
import { examples, PROGRAM_NOTES, versionText } from "./help.ts";
import { Terminal } from "./terminal.ts";
import { executorCommand } from "./commands/executor.ts";
import { benchCommand } from "./commands/bench.ts";
import { generateCommand } from "./commands/generate.ts";
import { planCommand } from "./commands/plan.ts";
import { runCommand } from "./commands/run.ts";
import { schemaCommand } from "./commands/schema.ts";
import { validateCommand } from "./commands/validate.ts";

const term = new Terminal();

const program = new Command()
  .name("drizzle")
  .description("Run streaming pipelines as millisecond micro-batches with group scheduling.")
  .version(versionText(), "-V, --version", "print the version and the runtime")
  .addOption(colorOption())
  .addOption(logLevelOption())
  .showSuggestionAfterError(true)
  .configureHelp({ showGlobalOptions: true })
  .exitOverride()
  .configureOutput({
    outputError: (message) => {
      term.setColor(program.opts().color);
      term.write(`drizzle: ${message.replace(/^error:/, term.style.red.bold("error:"))}`);
    },
  })
  .addHelpText(
    "after",
    examples([
      "drizzle run pipelines/wordcount.yaml < README.md",
      "tail -f access.log | drizzle run pipelines/status_counts.yaml > counts.tsv",
      "drizzle validate pipelines/*.yaml",
      "drizzle plan pipelines/wordcount.yaml",
    ], { notes: PROGRAM_NOTES, exitCodes: true }),
  )
  .hook("preAction", () => {
    const o = program.opts();
    term.setColor(o.color);
    configureLog({ level: o.logLevel, write: (line) => term.logLine(line) });
  });

/** Adds a command with the program's settings (error handling, suggestions, help layout). */
function add(command: CommandUnknownOpts, opts?: { hidden?: boolean }): void {
  program.addCommand(command.copyInheritedSettings(program), opts);
}

add(runCommand(term));
add(validateCommand(term));
add(planCommand());
add(schemaCommand());
add(generateCommand());
add(benchCommand());
add(executorCommand(), { hidden: true });

/** Runs the command line; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? EXIT.ok);
  } catch (e) {
    const err = e as { code?: string; exitCode?: number };
    if (typeof err.code === "string" && err.code.startsWith("commander.")) {
      // --help and --version exit 0; `drizzle` alone shows help and is a usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof PipelineError) {
      term.line(e.message);
      return EXIT.usage;
    }
    if (e instanceof UsageError) {
      term.error(e.message);
      return EXIT.usage;
    }
    term.error((e as Error).message);
    return EXIT.failure;
  }
}
