/**
 * An executor process for the library-API benchmarks: the same lean entry `drizzle run` starts
 * its executors with (cli/executor_main.ts), without loading the command line (which costs
 * ~0.3 s of start-up per executor, outside what the benchmarks measure but inside their run time).
 * @module
 */
import { runExecutor } from "../cli/executor_main.ts";

process.exitCode = await runExecutor();
