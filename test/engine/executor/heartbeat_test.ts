/**
 * Heartbeats come from a thread of their own: a task that holds an executor's main thread for
 * longer than the heartbeat timeout (1s by default) must not get the executor declared lost.
 */
import { expect, test } from "bun:test";
import { LocalLauncher, runPipeline } from "../../../mod.ts";

const slow = `
source: { stdin: { format: lines } }
steps:
  # The record "slow" holds the main thread for 2.5s, more than twice the heartbeat timeout.
  - map: "(() => { if (line === 'slow') { const t = Date.now(); while (Date.now() - t < 2500); } return line; })()"
    as: line
  - keyBy: "line"
  - aggregate: { count: {} }
sink: { stdout: { format: tsv } }
`;

test("an executor busy in one long task keeps its heartbeats: no executor lost", async () => {
  const events: string[] = [];
  const input = "a\nb\nslow\na\n";
  const { output, summary } = await runPipeline(slow, {
    input,
    workers: 2,
    batchRecords: 2,
    intervalMs: 3_600_000,
    heartbeatTimeoutMs: 1000,
    launcher: new LocalLauncher(),
    observer: { event: (e) => events.push(e) },
  });
  expect(events).toEqual([]);
  expect(summary.recoveries).toEqual([]);
  expect(output.split("\n").filter(Boolean).sort()).toEqual(["a\t2", "b\t1", "slow\t1"]);
}, 60_000);
