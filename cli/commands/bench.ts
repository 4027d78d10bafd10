import { Command } from "@commander-js/extra-typings";
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
    .addHelpText("after", examples(["drizzle bench --quick", "drizzle bench wordcount coordination"]))
    .action(async (names, opts) => {
      // Loaded only here: the benchmarks are not part of the engine.
      const bench = await import("../../bench/mod.ts");
      const unknown = names.filter((n) => !bench.ALL_BENCH_NAMES.includes(n));
      if (unknown.length) {
        throw new UsageError(`unknown benchmark '${unknown[0]}': expected one of ${bench.BENCH_NAMES.join(", ")}`);
      }
      for (const name of names.length ? names : bench.BENCH_NAMES) {
        await bench.runBench(name, { quick: opts.quick ?? false, outDir: bench.DEFAULT_OUT_DIR });
      }
    });
}
