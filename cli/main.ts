#!/usr/bin/env bun
/**
 * The drizzle command line. The only place that prints to the user and exits; everything it
 * does is a call into engine/.
 */
import { Command, Option } from "@commander-js/extra-typings";
import { availableParallelism } from "node:os";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { buildPlan, describePlan, loadPipeline, Pipeline, PipelineError } from "../engine/plan/mod.ts";
import { executorMain } from "../engine/executor/process.ts";
import { configureLog, type LogLevel } from "../engine/log.ts";
import { duration, groupSize, positiveInt } from "./args.ts";
import { runCommand } from "./run.ts";
import { EXIT } from "./exit.ts";

const VERSION = "0.1.0";

function load(file: string, partitions: number) {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new PipelineError([{
      pos: { file, line: 1, col: 1 },
      message: `cannot read pipeline: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    }]);
  }
  const loaded = loadPipeline(text, file);
  return { loaded, plan: buildPlan(loaded, { partitions }) };
}

const program = new Command()
  .name("drizzle")
  .description("Run streaming pipelines as millisecond micro-batches with group scheduling.")
  .version(VERSION)
  .showSuggestionAfterError(true)
  .exitOverride()
  .configureOutput({ outputError: (s, write) => write(s) })
  .addHelpText(
    "after",
    `
Examples:
  drizzle run pipelines/wordcount.yaml < README.md
  tail -f access.log | drizzle run pipelines/status_counts.yaml > counts.tsv
  drizzle plan pipelines/wordcount.yaml

Exit codes: 0 ok, 1 runtime failure, 2 usage or pipeline error, 3 finished but records were rejected.`,
  );

program
  .command("run")
  .description("Run a pipeline: input from stdin (or the files it names), results to stdout.")
  .argument("<pipeline>", "pipeline YAML file")
  .option("-w, --workers <n>", "executor processes", positiveInt("--workers"), availableParallelism())
  .addOption(
    new Option("--mode <mode>", "drizzle (group scheduling) or bsp (stage-by-stage baseline)").choices(
      ["drizzle", "bsp"] as const,
    ).default("drizzle" as const),
  )
  .option("-g, --group-size <n>", "micro-batches per scheduling group", groupSize, 10 as number | "auto")
  .option("-i, --interval <duration>", "micro-batch interval (default: the pipeline's, else 100ms)", duration)
  .option(
    "--batch-records <n>",
    "cut a batch early at this many records (backlogged input)",
    positiveInt("--batch-records"),
    50_000,
  )
  .option("-p, --partitions <n>", "partitions per stage (default: 2 per worker)", positiveInt("--partitions"))
  .addOption(
    new Option("--executors <kind>", "where executors run").choices(["local", "in-process"] as const).default(
      "local" as const,
    ),
  )
  .addOption(
    new Option("--log-level <level>", "stderr log detail").choices(
      ["debug", "info", "warn", "error", "silent"] as const,
    ).default("warn" as const),
  )
  .option("-q, --quiet", "no summary on stderr")
  .addHelpText(
    "after",
    `
Examples:
  drizzle run pipelines/wordcount.yaml < big.txt > counts.tsv
  drizzle run pipelines/wordcount.yaml --workers 4 --mode bsp < big.txt
  (while true; do echo a b; sleep 0.1; done) | drizzle run pipelines/status_counts.yaml --interval 1s`,
  )
  .action(async (file, opts) => {
    configureLog({ level: opts.logLevel as LogLevel });
    const partitions = opts.partitions ?? 2 * opts.workers;
    const { plan } = load(file, partitions);
    process.exitCode = await runCommand(plan, {
      workers: opts.workers,
      mode: opts.mode,
      groupSize: opts.groupSize === "auto" ? 10 : opts.groupSize,
      intervalMs: opts.interval ?? plan.intervalMs ?? 100,
      batchRecords: opts.batchRecords,
      executors: opts.executors,
      quiet: opts.quiet ?? false,
    });
  });

program
  .command("validate")
  .description("Check a pipeline file; list every problem with file:line:col.")
  .argument("<pipeline>", "pipeline YAML file")
  .action((file) => {
    load(file, 1);
    process.stderr.write(`${file}: ok\n`);
  });

program
  .command("plan")
  .description("Show the stages, partitions and shuffles a pipeline runs as.")
  .argument("<pipeline>", "pipeline YAML file")
  .option("-p, --partitions <n>", "partitions per stage", positiveInt("--partitions"), 2 * availableParallelism())
  .action((file, opts) => {
    const { plan } = load(file, opts.partitions);
    process.stdout.write(describePlan(plan) + "\n");
  });

program
  .command("schema")
  .description("Print the JSON Schema of the pipeline language (for editor completion).")
  .action(() => {
    process.stdout.write(JSON.stringify(z.toJSONSchema(Pipeline, { io: "input" }), null, 2) + "\n");
  });

program
  .command("executor", { hidden: true })
  .description("Run as an executor (started by 'drizzle run').")
  .action(async () => {
    process.exitCode = await executorMain(process.env, process.stdin);
  });

async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (e) {
    const err = e as { code?: string; exitCode?: number };
    if (typeof err.code === "string" && err.code.startsWith("commander.")) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") {
        return EXIT.ok;
      }
      return EXIT.usage;
    }
    if (e instanceof PipelineError) {
      process.stderr.write(`${e.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`drizzle: error: ${(e as Error).message}\n`);
    return EXIT.failure;
  }
}

const code = await main(process.argv);
process.exit(code);
