/**
 * Executors started ahead of their job: `drizzle run` starts its local executors before it has
 * loaded the pipeline, and the launcher takes them over; those not needed exit quietly.
 */
import { describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { LocalLauncher, runPipeline } from "../../../mod.ts";
import { footprintArg, prestartCount, prestartExecutors, takePrestarted } from "../../../engine/launch/prestart.ts";
import { processEnv, selfCommand } from "../../../engine/runtime/mod.ts";

describe("footprintArg: the --footprint of `drizzle run ARGS`, read before executors start", () => {
  const of = (line: string) => footprintArg(line.split(" ").filter(Boolean));

  test("in both spellings, the last one counting; nothing for other commands or values", () => {
    expect(of("run p.yaml --footprint small")).toBe("small");
    expect(of("run --footprint=small p.yaml -w 2")).toBe("small");
    expect(of("run p.yaml --footprint small --footprint fast")).toBe("fast");
    expect(of("run p.yaml")).toBeUndefined();
    expect(of("run p.yaml --footprint tiny")).toBeUndefined();
    expect(of("run p.yaml --footprint")).toBeUndefined();
    expect(of("run p.yaml -- --footprint small")).toBeUndefined();
    expect(of("validate p.yaml --footprint small")).toBeUndefined();
  });
});

describe("prestartCount: how many local executors `drizzle run ARGS` will start", () => {
  const count = (line: string) => prestartCount(line.split(" ").filter(Boolean), 6);

  test("the --workers value in each of its spellings, else one per core", () => {
    expect(count("run p.yaml")).toBe(6);
    expect(count("run p.yaml -w 3")).toBe(3);
    expect(count("run -w3 p.yaml")).toBe(3);
    expect(count("run p.yaml --workers 4 --mode bsp")).toBe(4);
    expect(count("run p.yaml --workers=5")).toBe(5);
    expect(count("run p.yaml --executors local -w 2")).toBe(2);
    expect(count("run p.yaml -w 1 -w 2")).toBe(2); // the last one counts, as for the option parser
  });

  test("none for other commands, help, executors elsewhere, or a value the option parser refuses", () => {
    for (
      const line of [
        "validate p.yaml",
        "plan p.yaml -w 2",
        "run --help",
        "run p.yaml -h",
        "run p.yaml --hosts a,b",
        "run p.yaml --hosts=a,b",
        "run p.yaml --executors in-process",
        "run p.yaml --executors=in-process",
        "run p.yaml -w 0",
        "run p.yaml -w two",
        "run p.yaml --workers",
        "run p.yaml -qw2", // -q -w 2 to the option parser: not guessed at
        "run p.yaml -qw 2",
        "",
      ]
    ) {
      expect([line, count(line)]).toEqual([line, 0]);
    }
  });
});

const exited = (c: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (c.exitCode !== null) return resolve(c.exitCode);
    c.once("exit", (code) => resolve(code));
  });

/** Collects a child's stderr as text. */
function stderrOf(c: ChildProcess): () => string {
  let text = "";
  c.stderr?.on("data", (d: Uint8Array) => (text += new TextDecoder().decode(d)));
  return () => text;
}

test("the launcher runs the job on the executors started ahead of it; one not needed exits quietly", async () => {
  prestartExecutors(3);
  const early = takePrestarted();
  expect(early.map((c) => c.pid !== undefined)).toEqual([true, true, true]);
  const launcher = new LocalLauncher(undefined, early);
  let used: Array<number | undefined> = [];
  const run = runPipeline(
    `
source: { stdin: { format: lines } }
steps:
  - split: line
  - keyBy: word
    as: word
  - aggregate: { count: {} }
    emit: final
sink: { stdout: { format: tsv } }
`,
    {
      input: "a b a\nc a b\n",
      workers: 2,
      launcher,
      observer: { batch: () => (used = [launcher.pid(0), launcher.pid(1)]) },
    },
  );
  // Whatever happens, none of them outlives the test.
  const { output, summary } = await run.finally(() => early.forEach((c) => c.stdin?.end()));
  expect(output.trim().split("\n").sort()).toEqual(["a\t3", "b\t2", "c\t1"]);
  expect(summary.recordsIn).toBe(2);
  // Executors 0 and 1 were the processes started ahead, not new ones.
  expect(used).toEqual([early[0].pid, early[1].pid]);
  // The third was not needed: its stdin closed and it exited with 0.
  expect(await exited(early[2])).toBe(0);
  expect(await exited(early[0])).toBe(0);
}, 30_000);

/** An executor started as `prestartExecutors` does, with its stderr kept. */
function startAhead(): ChildProcess {
  const [cmd, ...args] = selfCommand();
  return spawn(cmd, [...args, "executor"], {
    stdio: ["pipe", "ignore", "pipe"],
    env: { ...process.env, ...processEnv(), DRIZZLE_EXECUTOR_ID: "0", DRIZZLE_PRESTARTED: "1" },
  });
}

test("an executor started ahead whose job never comes (stdin closes) exits with 0 and says nothing", async () => {
  const child = startAhead();
  const err = stderrOf(child);
  child.stdin!.end();
  expect(await exited(child)).toBe(0);
  expect(err()).toBe("");
}, 30_000);

test("an executor started ahead refuses a first line that is not its job", async () => {
  const child = startAhead();
  const err = stderrOf(child);
  child.stdin!.write("not-json-secret\n");
  const code = await exited(child);
  expect(code).not.toBe(0);
  expect(err()).toContain("not the job this executor was started ahead of");
  child.stdin!.destroy();
}, 30_000);
