import { Command } from "@commander-js/extra-typings";
import { PipelineError } from "../../engine/plan/mod.ts";
import { EXIT } from "../exit.ts";
import { examples } from "../help.ts";
import { loadPlan } from "../load.ts";
import type { Terminal } from "../terminal.ts";

/** `drizzle validate PIPELINE...`: check pipeline files without running them. */
export function validateCommand(term: Terminal) {
  return new Command("validate")
    .description("Check pipeline files; list every problem with file:line:col (exit 2 if there is one).")
    .argument("<pipeline...>", "pipeline YAML files")
    .addHelpText(
      "after",
      examples([
        "drizzle validate pipelines/wordcount.yaml",
        "drizzle validate pipelines/*.yaml && echo all good",
      ]),
    )
    .action((files) => {
      // Every file is checked, so one run lists the problems of all of them.
      for (const file of files) {
        try {
          loadPlan(file, 1);
          term.line(`${file}: ${term.style.green("ok")}`);
        } catch (e) {
          if (!(e instanceof PipelineError)) throw e;
          term.line(e.message);
          process.exitCode = EXIT.usage;
        }
      }
    });
}
