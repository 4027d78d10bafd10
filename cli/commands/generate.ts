import { Argument, Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { writeYsbCampaigns, ysbEventsBytes } from "../../engine/io/ysb.ts";
import { positiveInt } from "../args.ts";
import { examples } from "../help.ts";

/** Event times start here unless --start-time says otherwise, so output depends on flags only. */
const DEFAULT_START_MS = 1_700_000_000_000;
/** Events generated and written per chunk: bounded memory (~25 MB), few writes. */
const CHUNK = 100_000;

function integer(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} must be a whole number, got '${v}'`);
    return n;
  };
}

/** Writes to stdout, waiting when it is full; false once the reader has gone (`| head`). */
function write(bytes: Uint8Array): Promise<boolean> {
  return new Promise((resolve) => {
    const out = process.stdout;
    if (out.destroyed || !out.writable) return resolve(false);
    const onError = () => resolve(false);
    out.once("error", onError);
    const done = () => {
      out.off("error", onError);
      resolve(true);
    };
    if (out.write(bytes)) done();
    else out.once("drain", done);
  });
}

/** `drizzle generate ysb ...`: deterministic benchmark input on stdout. */
export function generateCommand() {
  return new Command("generate")
    .description("Write generated benchmark input to stdout (deterministic for a seed).")
    .addArgument(new Argument("<workload>", "what to generate").choices(["ysb"] as const))
    .option("--events <n>", "number of events", positiveInt("--events"), 100_000)
    .option(
      "--rate <n>",
      "events per second of event time (event i is at start + i * 1000 / rate ms)",
      positiveInt("--rate"),
      10_000,
    )
    .option("--seed <n>", "seed of the generator (campaigns and events)", integer("--seed"), 1)
    .option("--start-time <ms>", "event time of the first event, epoch ms", integer("--start-time"), DEFAULT_START_MS)
    .option("--with-skew", "move each event time by up to ±50 ms (out-of-order input)")
    .option("--campaigns <file>", "also write the campaigns table (CSV: ad_id,campaign_id) to this file")
    .addHelpText(
      "after",
      examples([
        "drizzle generate ysb --events 1000000 --rate 100000 --with-skew --campaigns /tmp/campaigns.csv > /tmp/ysb.jsonl",
        "YSB_CAMPAIGNS=/tmp/campaigns.csv drizzle run pipelines/ysb.yaml < /tmp/ysb.jsonl",
      ]),
    )
    .action(async (_workload, o) => {
      if (o.campaigns !== undefined) await writeYsbCampaigns(o.campaigns, o.seed);
      for (let start = 0; start < o.events; start += CHUNK) {
        const bytes = ysbEventsBytes({
          seed: o.seed,
          start,
          count: Math.min(CHUNK, o.events - start),
          rate: o.rate,
          startTimeMs: o.startTime,
          skew: o.withSkew ?? false,
        });
        if (!(await write(bytes))) return;
      }
    });
}
