/**
 * `npm run bench [-- [--quick] [--out DIR] [NAME...]]`: runs the named benchmarks (default: all
 * of BENCH_NAMES) and prints where the results went. `--quick` sizes everything to finish in
 * under three minutes in all.
 *
 *     npm run bench -- --quick
 *     npm run bench -- wordcount
 *     npm run bench -- --quick coordination recovery
 *     npm run bench -- --report          # summaries and figures again from the saved JSON
 *
 * @module
 */
import { configureLog } from "../engine/log.ts";
import { ALL_BENCH_NAMES, BENCH_NAMES, DEFAULT_OUT_DIR, reportSaved, runBench } from "./mod.ts";
import { formatResults } from "./report.ts";

const USAGE = `usage: npm run bench -- [--quick] [--out DIR] [NAME...]
  NAME: ${ALL_BENCH_NAMES.join(", ")} (default: ${BENCH_NAMES.join(", ")})
  --quick   small sizes and 3 repetitions (under 3 minutes in all)
  --out     results directory (default: bench/results)
  --report  only write the summaries and figures again from the saved JSON (no measuring)
  --verbose engine warnings (lost executors...) on stderr`;

async function main(argv: string[]): Promise<number> {
  let quick = false;
  let verbose = false;
  let reportOnly = false;
  let outDir = DEFAULT_OUT_DIR;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") quick = true;
    else if (a === "--verbose") verbose = true;
    else if (a === "--report") reportOnly = true;
    else if (a === "--out") outDir = argv[++i] ?? outDir;
    else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      return 0;
    } else if (a.startsWith("-")) {
      console.error(`bench: unknown flag '${a}'\n${USAGE}`);
      return 2;
    } else if (!ALL_BENCH_NAMES.includes(a)) {
      console.error(`bench: unknown benchmark '${a}'\n${USAGE}`);
      return 2;
    } else names.push(a);
  }
  // The library benchmarks run the driver in this process: its expected warnings (the
  // executor the recovery benchmark kills) would only clutter the progress lines.
  if (!verbose) configureLog({ level: "error" });
  const t0 = performance.now();
  if (reportOnly) {
    const { written, missing } = await reportSaved(names, outDir);
    if (missing.length) {
      console.error(`bench: no saved result ${outDir}/${missing[0]}.json`);
      return 2;
    }
    console.error(`bench: wrote ${written.map((n) => `${n}.md`).join(", ")} from the saved results in ${outDir}`);
    return 0;
  }
  for (const name of names.length ? names : BENCH_NAMES) {
    const t = performance.now();
    await runBench(name, { quick, outDir });
    console.error(`bench: ${name} done in ${((performance.now() - t) / 1000).toFixed(1)} s -> ${outDir}/${name}.md`);
  }
  await formatResults(outDir);
  console.error(`bench: all done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
