/**
 * An executor process for the library-API benchmarks: the same `executorMain` that
 * `drizzle executor` runs, without loading the command line (which costs ~0.3 s of start-up
 * per executor, outside what the benchmarks measure but inside their run time).
 * @module
 */
import { executorMain } from "../engine/executor/process.ts";

process.exitCode = await executorMain(process.env, process.stdin);
