import { Command } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import { isCompiledBinary } from "../../engine/runtime/mod.ts";
import { UsageError } from "../exit.ts";
import { examples } from "../help.ts";

/** `drizzle bench [NAME...]`: the benchmarks of bench/, as `npm run bench` runs them. */
export function benchCommand() {
  return new Command("bench")
    .description(
      "Run benchmarks side by side (coordination, wordcount, ysb, recovery, memory); results in bench/results.",
    )
    .argument("[names...]", "which benchmarks (default: all)")
    .option("--quick", "a smoke run: fewer sizes and repetitions (under 3 minutes in all)")
    .option("--out <dir>", "results directory (default: bench/results of this checkout)")
    .option("--report", "only write the summaries and figures again from the saved JSON (no measuring)")
    .addHelpText(
      "after",
      examples([
        "drizzle bench --quick --out /tmp/bench",
        "drizzle bench wordcount coordination",
        "drizzle bench --report memory",
      ]),
    )
    .action(async (names, opts) => {
      if (isCompiledBinary()) {
        // They run bin/drizzle and the scripts of bench/, from the sources.
        throw new UsageError("benchmarks run from a source checkout: 'npm run bench' (or bin/drizzle bench) there");
      }
      // Loaded only here: the benchmarks are not part of the engine.
      const bench = await import("../../bench/mod.ts");
      const { formatResults } = await import("../../bench/report.ts");
      const unknown = names.filter((n) => !bench.ALL_BENCH_NAMES.includes(n));
      if (unknown.length) {
        throw new UsageError(`unknown benchmark '${unknown[0]}': expected one of ${bench.BENCH_NAMES.join(", ")}`);
      }
      const outDir = opts.out ? resolve(opts.out) : bench.DEFAULT_OUT_DIR;
      if (opts.report) {
        const { written, missing } = await bench.reportSaved(names, outDir);
        if (missing.length) throw new UsageError(`no saved result ${outDir}/${missing[0]}.json`);
        console.error(`bench: wrote ${written.map((n) => `${n}.md`).join(", ")} from the saved results in ${outDir}`);
        return;
      }
      for (const name of names.length ? names : bench.BENCH_NAMES) {
        await bench.runBench(name, { quick: opts.quick ?? false, outDir });
      }
      await formatResults(outDir);
    });
}
