#!/usr/bin/env bun
/**
 * The drizzle command line's entry. `drizzle run` with local executors starts them first (see
 * engine/launch/prestart.ts): they load the engine while this process loads the command line
 * and the pipeline, instead of after. Then the command line (cli/program.ts) runs.
 * @module
 */
import { availableParallelism } from "node:os";
import { prestartCount, prestartExecutors } from "../engine/launch/prestart.ts";

prestartExecutors(prestartCount(process.argv.slice(2), availableParallelism()));
const { main } = await import("./program.ts");
process.exit(await main(process.argv));
