import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { availableParallelism } from "node:os";
import { byteSize, duration, fraction, groupSize, hostList, positiveInt } from "../args.ts";
import { UsageError } from "../exit.ts";
import {
  type Footprint,
  FOOTPRINTS,
  PIPE_BUFFER_BYTES,
  PIPE_BUFFER_MAX,
  SMALL_BATCH_RECORDS,
} from "../../engine/runtime/mod.ts";
import { examples } from "../help.ts";
import { loadPlan } from "../load.ts";
import { runPlan } from "../run.ts";
import type { Terminal } from "../terminal.ts";

/** A pipe's buffer size: a size up to 1 GB. */
function pipeBufferSize(v: string): number {
  const n = byteSize(v);
  if (n > PIPE_BUFFER_MAX) throw new InvalidArgumentError(`expected a size up to 1GB, got '${v}'`);
  return n;
}

/** `drizzle run PIPELINE`: run it, stdin to stdout. */
export function runCommand(term: Terminal) {
  return new Command("run")
    .description("Run a pipeline: input from stdin (or the files it names), results to stdout.")
    .argument("<pipeline>", "pipeline YAML file")
    .option("-w, --workers <n>", "executor processes", positiveInt("--workers"), availableParallelism())
    .addOption(
      new Option("--mode <mode>", "drizzle (group scheduling) or bsp (stage-by-stage baseline)")
        .choices(["drizzle", "bsp"] as const)
        .default("drizzle" as const),
    )
    .addOption(
      new Option(
        "-g, --group-size <n|auto>",
        "micro-batches per scheduling group; auto: sized by a controller (bsp: 1)",
      )
        .argParser(groupSize)
        .default("auto" as number | "auto"),
    )
    .option("-i, --interval <duration>", "micro-batch interval (default: the pipeline's, else 100ms)", duration)
    .addOption(
      new Option(
        "--batch-records <n>",
        `cut a batch early at this many records (backlogged input; --footprint small: ${SMALL_BATCH_RECORDS})`,
      )
        .argParser(positiveInt("--batch-records"))
        .default(50_000),
    )
    .addOption(
      new Option(
        "--footprint <kind>",
        "memory against speed: fast keeps freed memory in 2 MB pages (about 600 MB for 2 workers under a slow " +
          "reader); small returns it and cuts smaller batches (under 300 MB; backlogs take about twice as long)",
      )
        .choices(FOOTPRINTS)
        .env("DRIZZLE_FOOTPRINT")
        .default("fast" as Footprint),
    )
    .option("-p, --partitions <n>", "partitions per stage (default: 2 per worker)", positiveInt("--partitions"))
    .addOption(
      new Option("--executors <kind>", "where executors run: child processes, or inside this one (testing)")
        .choices(["local", "in-process"] as const)
        .default("local" as const),
    )
    .option(
      "--hosts <list>",
      "run executors on these machines over ssh: [user@]host[:port],... (--workers: one per host)",
      hostList,
    )
    .addOption(
      new Option("--ssh <command>", "ssh client and options for --hosts").env("DRIZZLE_SSH").default("ssh"),
    )
    .option("--remote-drizzle <path>", "drizzle already installed on the hosts (default: this build, copied once)")
    .option("--listen <address>", "address the driver listens on for --hosts executors (default: all)")
    .addOption(
      new Option("--recovery <how>", "after losing an executor: re-run only its tasks, or roll all back (bsp: global)")
        .choices(["partial", "global"] as const)
        .default("partial" as const),
    )
    .addOption(
      new Option("--heartbeat-timeout <duration>", "declare an executor lost after this long without a heartbeat")
        .argParser(duration)
        .default(1000, "1s"),
    )
    .addOption(
      new Option("--max-overhead <fraction>", "auto group size: coordination under this share of batch time")
        .argParser(fraction)
        .default(0.05, "5%"),
    )
    .addOption(
      new Option("--max-group-time <duration>", "auto group size: a group spans at most this long")
        .argParser(duration)
        .default(1000, "1s"),
    )
    .addOption(
      new Option("--max-buffer <size>", "input held for recovery (until a checkpoint) before the source is paused")
        .argParser(byteSize)
        .default(64 << 20, "64MB"),
    )
    .addOption(
      new Option("--pipe-buffer <size|keep>", "when stdin is a pipe, grow its buffer to this (Linux); keep: leave it")
        .argParser((v) => (v === "keep" ? ("keep" as const) : pipeBufferSize(v)))
        .env("DRIZZLE_PIPE_BUFFER")
        .default(PIPE_BUFFER_BYTES as number | "keep", "1MB"),
    )
    .option("--checkpoint-dir <dir>", "keep checkpoints, the batch log and the output manifest here (default: memory)")
    .option("--resume", "continue the run whose checkpoints are in --checkpoint-dir (file sources only)")
    .option("--progress", "live status line on stderr (default: when stderr is a terminal)")
    .option("--no-progress", "no status line, even on a terminal")
    .option("--metrics <file>", "write one JSON line per batch and per group, and a summary, to this file")
    .option("-q, --quiet", "no status line, summary or notices on stderr (errors and rejected records still show)")
    .addHelpText(
      "after",
      examples([
        "drizzle run pipelines/wordcount.yaml < big.txt > counts.tsv",
        "drizzle run pipelines/wordcount.yaml --workers 4 --mode bsp < big.txt",
        "drizzle run pipelines/ysb.yaml --hosts node1,node2,node3 < events.jsonl",
        "drizzle run pipelines/wordcount.yaml --group-size 20 --interval 50ms < big.txt",
        "drizzle run job.yaml --checkpoint-dir ck/   # after a crash, the same with --resume goes on",
        "drizzle run pipelines/wordcount.yaml --metrics run.jsonl --progress < big.txt > /dev/null",
        "(while true; do echo a b; sleep 0.1; done) | drizzle run pipelines/wordcount.yaml --interval 1s",
        "drizzle run pipelines/status_counts.yaml < access.log | head -1",
      ], {
        notes: "Progress: on a terminal (or with --progress) a status line on stderr shows batches done, the group\n" +
          "size, records/s in and out, batch latency p50/p99 and executors alive; a summary follows at the end.\n" +
          "Ctrl-C (SIGINT) or SIGTERM stops reading input and commits what was read; a second one aborts.",
        exitCodes: true,
      }),
    )
    .action(async (file, opts, cmd) => {
      if (opts.hosts && opts.executors !== "local") {
        throw new UsageError("--hosts runs executors over ssh, not in-process");
      }
      const workers = opts.hosts && cmd.getOptionValueSource("workers") === "default"
        ? opts.hosts.length
        : opts.workers;
      const partitions = opts.partitions ?? 2 * workers;
      const plan = loadPlan(file, partitions);
      if (opts.resume && !opts.checkpointDir) throw new UsageError("--resume needs --checkpoint-dir");
      if (opts.resume && plan.source.kind === "stdin") {
        throw new UsageError("--resume needs a file source: stdin cannot be read again");
      }
      process.exitCode = await runPlan(plan, {
        workers,
        mode: opts.mode,
        groupSize: opts.groupSize,
        intervalMs: opts.interval ?? plan.intervalMs ?? 100,
        batchRecords: opts.footprint === "small" && cmd.getOptionValueSource("batchRecords") === "default"
          ? SMALL_BATCH_RECORDS
          : opts.batchRecords,
        footprint: opts.footprint,
        executors: opts.executors,
        ssh: opts.hosts
          ? {
            hosts: opts.hosts,
            ssh: opts.ssh.split(/\s+/).filter(Boolean),
            remoteDrizzle: opts.remoteDrizzle,
            listenHost: opts.listen,
          }
          : undefined,
        recovery: opts.recovery,
        heartbeatTimeoutMs: opts.heartbeatTimeout,
        maxOverhead: opts.maxOverhead,
        maxGroupTimeMs: opts.maxGroupTime,
        maxBufferBytes: opts.maxBuffer,
        pipeBufferBytes: opts.pipeBuffer === "keep" ? 0 : opts.pipeBuffer,
        checkpointDir: opts.checkpointDir,
        resume: opts.resume ?? false,
        quiet: opts.quiet ?? false,
        progress: opts.progress,
        metrics: opts.metrics,
      }, term);
    });
}
