/**
 * Fault tolerance end to end: an executor killed mid-run (SIGKILL of a local executor process,
 * or an in-process executor stopped abruptly) must cost nothing in the output — the same bytes,
 * after sorting, as the reference — in both modes and both recovery kinds.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { InProcessLauncher, LocalLauncher, runPipeline } from "../../../mod.ts";
import { evaluateReference } from "../../support/reference.ts";

const root = new URL("../../../", import.meta.url).pathname;
const wordcount = readFileSync(`${root}pipelines/wordcount.yaml`, "utf8");
const statusCounts = readFileSync(`${root}pipelines/status_counts.yaml`, "utf8");
const words = readFileSync(`${root}test/golden/wordcount.in`, "utf8").repeat(4);
const log = readFileSync(`${root}test/golden/status_counts.in`, "utf8").repeat(3);
const ysbYaml = readFileSync(`${root}pipelines/ysb.yaml`, "utf8");
const ysb = readFileSync(`${root}test/golden/ysb.in`, "utf8");
const ysbFile = `${root}pipelines/ysb.yaml`;
const sorted = (s: string) => s.split("\n").filter(Boolean).sort();

interface Trial {
  mode: "drizzle" | "bsp";
  recovery: "partial" | "global";
  local: boolean;
  /** Kill after this many batches committed. */
  after: number;
  victim: number;
  yaml: string;
  input: string;
}

async function trial(t: Trial) {
  const launcher = t.local ? new LocalLauncher() : new InProcessLauncher();
  let committed = 0;
  let killed = false;
  const batchRecords = 50;
  const file = t.yaml === ysbYaml ? ysbFile : undefined;
  const run = runPipeline(t.yaml, {
    file,
    input: t.input,
    workers: 3,
    partitions: 6,
    mode: t.mode,
    recovery: t.recovery,
    groupSize: 4,
    checkpointEvery: 4,
    batchRecords,
    intervalMs: 3_600_000,
    launcher,
    observer: {
      batch: () => {
        if (++committed === t.after && !killed) {
          killed = true;
          void launcher.kill(t.victim);
        }
      },
      event: (e) => events.push(e),
    },
  });
  const events: string[] = [];
  const { output, summary } = await run;
  return { output, summary, killed, events, ref: evaluateReference(t.yaml, t.input, batchRecords, { file }) };
}

describe("a killed executor loses and duplicates nothing", () => {
  const cases: Array<
    Omit<Trial, "yaml" | "input"> & { name: string; pipeline: "wordcount" | "status_counts" | "ysb" }
  > = [
    {
      name: "drizzle, partial, ysb windows",
      mode: "drizzle",
      recovery: "partial",
      local: false,
      after: 30,
      victim: 1,
      pipeline: "ysb",
    },
    { name: "bsp, ysb windows", mode: "bsp", recovery: "global", local: false, after: 30, victim: 2, pipeline: "ysb" },
    {
      name: "drizzle, partial, in-process",
      mode: "drizzle",
      recovery: "partial",
      local: false,
      after: 7,
      victim: 1,
      pipeline: "wordcount",
    },
    {
      name: "drizzle, global, in-process",
      mode: "drizzle",
      recovery: "global",
      local: false,
      after: 9,
      victim: 2,
      pipeline: "wordcount",
    },
    {
      name: "bsp, in-process",
      mode: "bsp",
      recovery: "global",
      local: false,
      after: 6,
      victim: 0,
      pipeline: "wordcount",
    },
    {
      name: "drizzle, partial, updates",
      mode: "drizzle",
      recovery: "partial",
      local: false,
      after: 10,
      victim: 2,
      pipeline: "status_counts",
    },
    {
      name: "bsp, updates",
      mode: "bsp",
      recovery: "global",
      local: false,
      after: 5,
      victim: 1,
      pipeline: "status_counts",
    },
    {
      name: "drizzle, partial, kill -9 of a process",
      mode: "drizzle",
      recovery: "partial",
      local: true,
      after: 5,
      victim: 0,
      pipeline: "wordcount",
    },
    {
      name: "bsp, kill -9 of a process",
      mode: "bsp",
      recovery: "global",
      local: true,
      after: 5,
      victim: 2,
      pipeline: "status_counts",
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const yaml = c.pipeline === "wordcount" ? wordcount : c.pipeline === "ysb" ? ysbYaml : statusCounts;
      const input = c.pipeline === "wordcount" ? words : c.pipeline === "ysb" ? ysb : log;
      const r = await trial({ ...c, yaml, input });
      expect(r.killed).toBe(true);
      expect(r.summary.recoveries.length).toBe(1);
      expect(r.summary.recoveries[0].kind).toBe(c.mode === "drizzle" ? c.recovery : "global");
      expect(sorted(r.output)).toEqual([...r.ref.lines].sort());
      expect(r.summary.rejectedTotal).toBe(r.ref.rejected);
      expect(r.events[0]).toStartWith(`lost executor ${c.victim}`);
    }, 60_000);
  }
});

test("a replacement executor joins and takes over a share of the lanes", async () => {
  const launcher = new LocalLauncher();
  let committed = 0;
  const events: string[] = [];
  const input = words.repeat(3);
  const { output, summary } = await runPipeline(wordcount, {
    input,
    workers: 2,
    partitions: 4,
    groupSize: 2,
    batchRecords: 50,
    intervalMs: 3_600_000,
    launcher,
    observer: {
      batch: () => {
        if (++committed === 4) void launcher.kill(0);
      },
      event: (e) => events.push(e),
    },
  });
  expect(events).toContain("executor 2 joined");
  expect(summary.recoveries.length).toBe(1);
  expect(sorted(output)).toEqual([...evaluateReference(wordcount, input, 50).lines].sort());
}, 60_000);

describe("failure detection and unrecoverable failures", () => {
  test("a stopped (SIGSTOP) executor is detected by missed heartbeats and replaced by the others", async () => {
    const launcher = new LocalLauncher();
    let committed = 0;
    const input = words;
    const { output, summary } = await runPipeline(wordcount, {
      input,
      workers: 3,
      partitions: 6,
      groupSize: 4,
      batchRecords: 50,
      intervalMs: 3_600_000,
      heartbeatTimeoutMs: 600,
      launcher,
      observer: {
        batch: () => {
          if (++committed === 5) process.kill(launcher.pid(1)!, "SIGSTOP");
        },
      },
    });
    expect(summary.recoveries.length).toBe(1);
    expect(summary.recoveries[0].reason).toContain("no heartbeat");
    expect(sorted(output)).toEqual([...evaluateReference(wordcount, input, 50).lines].sort());
  }, 60_000);

  test("when every executor is gone the run fails, after committing what was complete", async () => {
    const launcher = new InProcessLauncher();
    let committed = 0;
    const err = await runPipeline(statusCounts, {
      input: log,
      workers: 2,
      batchRecords: 50,
      intervalMs: 3_600_000,
      launcher,
      observer: {
        batch: () => {
          if (++committed === 3) { for (let i = 0; i < 2; i++) void launcher.kill(i); }
        },
      },
    }).then(() => null, (e) => e as Error);
    expect(err?.name).toBe("RunError");
    expect(err?.message).toContain("every executor is gone");
  }, 60_000);

  test("a step that fails outside the per-record guard stops the run with a clear error", async () => {
    // A key the partitioner cannot handle would be a bug; simulate with an expression that
    // exhausts the stack when the aggregate output is formatted.
    const yaml = `
source: { stdin: {} }
steps:
  - keyBy: "line"
  - aggregate: { count: {} }
  - map: "(() => { const o = {}; o.self = o; return o; })()"
sink: { stdout: { format: jsonl } }
`;
    const err = await runPipeline(yaml, { input: "a\nb\n", workers: 2 }).then(() => null, (e) => e as Error);
    expect(err?.name).toBe("RunError");
    expect(err?.message).toContain("a task failed");
  }, 30_000);
});
