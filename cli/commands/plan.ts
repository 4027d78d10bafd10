import { Command } from "@commander-js/extra-typings";
import { availableParallelism } from "node:os";
import { describePlan } from "../../engine/plan/mod.ts";
import { positiveInt } from "../args.ts";
import { examples } from "../help.ts";
import { loadPlan } from "../load.ts";

/** `drizzle plan PIPELINE`: the stages a pipeline runs as. */
export function planCommand() {
  return new Command("plan")
    .description("Show the stages, partitions and shuffles a pipeline runs as (to stdout).")
    .argument("<pipeline>", "pipeline YAML file")
    .option(
      "-p, --partitions <n>",
      "partitions per stage (default: 2 per core, as 'run' uses)",
      positiveInt("--partitions"),
      2 * availableParallelism(),
    )
    .addHelpText(
      "after",
      examples([
        "drizzle plan pipelines/wordcount.yaml",
        "drizzle plan pipelines/sales_by_region.yaml --partitions 8",
      ]),
    )
    .action((file, opts) => {
      process.stdout.write(describePlan(loadPlan(file, opts.partitions)) + "\n");
    });
}
