/**
 * Bad records are counted and written to the dead-letter file, once each, with the step and
 * the error, while the good ones go on to the output — also when an executor dies mid-run.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InProcessLauncher, runPipeline } from "../../mod.ts";

const dir = mkdtempSync(join(tmpdir(), "drizzle-dead-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pipeline = (path: string) => `
source: { stdin: { format: jsonl } }
steps:
  - map: "r.user.name"
    as: r
  - keyBy: "name"
    as: name
  - aggregate: { n: { count: {} } }
deadLetter: { file: { path: "${path}" } }
sink: { stdout: { format: tsv } }
`;

// Every 7th line is not JSON, every 5th has no user: both kinds of rejection.
const lines: string[] = [];
for (let i = 0; i < 2000; i++) {
  if (i % 7 === 3) lines.push(`broken ${i}`);
  else if (i % 5 === 1) lines.push(JSON.stringify({ id: i }));
  else lines.push(JSON.stringify({ id: i, user: { name: `u${i % 13}` } }));
}
const input = lines.join("\n") + "\n";
const badParse = lines.filter((l) => l.startsWith("broken")).length;
const badMap = lines.filter((l) => l.startsWith("{") && !l.includes("user")).length;

for (const kill of [false, true]) {
  test(`dead letters are written exactly once${kill ? " across a lost executor" : ""}`, async () => {
    const path = join(dir, `bad-${kill}.jsonl`);
    const launcher = new InProcessLauncher();
    let committed = 0;
    const { output, summary } = await runPipeline(pipeline(path), {
      input,
      workers: 3,
      batchRecords: 50,
      groupSize: 3,
      intervalMs: 3_600_000,
      launcher,
      observer: {
        batch: () => {
          if (kill && ++committed === 10) void launcher.kill(1);
        },
      },
    });
    const dead = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(dead.filter((d) => d.step === "source").length).toBe(badParse);
    expect(dead.filter((d) => d.step === "step 1 'map'").length).toBe(badMap);
    expect(dead.length).toBe(badParse + badMap);
    expect(new Set(dead.map((d) => JSON.stringify(d.record))).size).toBe(dead.length);
    expect(dead.find((d) => d.step === "source").error).toContain("JSON");
    expect(summary.rejectedTotal).toBe(badParse + badMap);
    const counted = output.trim().split("\n").reduce((n, l) => n + Number(l.split("\t")[1]), 0);
    expect(counted).toBe(lines.length - badParse - badMap);
    if (kill) expect(summary.recoveries.length).toBe(1);
  }, 30_000);
}
