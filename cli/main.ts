#!/usr/bin/env bun
/**
 * The drizzle command line's entry. `drizzle run` with local executors starts them first (see
 * engine/launch/prestart.ts): they load the engine while this process loads the command line
 * and the pipeline, instead of after. Then the command line (cli/program.ts) runs.
 * @module
 */
import { availableParallelism } from "node:os";
import { footprintArg, prestartCount, prestartExecutors } from "../engine/launch/prestart.ts";

// A standalone binary's executors are `drizzle executor` and come through here: they ignore
// Ctrl-C before loading the command line (see executor_main.ts).
if (process.argv[2] === "executor") process.on("SIGINT", () => {});
// `--footprint` decides the executors' allocator settings, so it is known before they start.
const footprint = footprintArg(process.argv.slice(2));
if (footprint) process.env.DRIZZLE_FOOTPRINT = footprint;
prestartExecutors(prestartCount(process.argv.slice(2), availableParallelism()));
const { main } = await import("./program.ts");
process.exit(await main(process.argv));
