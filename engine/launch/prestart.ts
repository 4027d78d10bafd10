import { type ChildProcess, spawn } from "node:child_process";
import { type Footprint, FOOTPRINTS, processEnv, selfCommand } from "../runtime/mod.ts";

/**
 * Local executor processes started before the driver knows its job. Loading the engine is most
 * of an executor's start-up, and the driver spends as long loading the command line and the
 * pipeline: started at once, both load side by side. Each waits for a `JobLine` on stdin (see
 * executorMain) and exits quietly if stdin closes first, e.g. when the driver exits on a bad
 * pipeline. `LocalLauncher` takes them over.
 */
let started: ChildProcess[] = [];

/** Starts executors 0..count-1 of this same program, to be taken over by `takePrestarted`. */
export function prestartExecutors(count: number, command: string[] = selfCommand()): void {
  const [cmd, ...args] = command;
  for (let i = 0; i < count; i++) {
    const child = spawn(cmd, [...args, "executor"], {
      stdio: ["pipe", "ignore", "inherit"],
      env: { ...process.env, ...processEnv(), DRIZZLE_EXECUTOR_ID: String(i), DRIZZLE_PRESTARTED: "1" },
    });
    // One that fails to start is simply not used: the launcher starts that executor itself.
    child.on("error", () => {});
    child.stdin!.on("error", () => {});
    started.push(child);
  }
}

/** The prestarted executors (index = executor id), handed over once. */
export function takePrestarted(): ChildProcess[] {
  const all = started;
  started = [];
  return all;
}

/**
 * How many executors `drizzle run` will start locally, from its arguments, when that is plain
 * to see: 0 for anything else (another command, --help, --hosts, in-process executors, a
 * --workers value that is not a positive integer, short options run together as in `-qw2`).
 * Only `drizzle run ...` with `run` first is recognised; whatever is missed only starts later,
 * as it did before.
 */
export function prestartCount(args: string[], cores: number): number {
  if (args[0] !== "run") return 0;
  let workers = cores;
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (a === "--") break;
    if (a === "-h" || a === "--help" || a === "--hosts" || a.startsWith("--hosts=")) return 0;
    if (a === "--executors" && args[i + 1] !== "local") return 0;
    if (a.startsWith("--executors=") && a !== "--executors=local") return 0;
    let value: string | undefined;
    if (a === "-w" || a === "--workers") value = args[++i];
    else if (a.startsWith("--workers=")) value = a.slice("--workers=".length);
    else if (/^-w\d/.test(a)) value = a.slice(2);
    else if (/^-[A-Za-z]{2}/.test(a)) return 0;
    else continue;
    if (!/^[1-9]\d*$/.test(value ?? "")) return 0;
    workers = Number(value);
  }
  return workers;
}

/**
 * The footprint `drizzle run ARGS` asks for with `--footprint`, when that is plain to see
 * (`--footprint small`, `--footprint=small`); undefined otherwise. The command line's entry puts
 * it in `DRIZZLE_FOOTPRINT` before executors are prestarted, so they start with its allocator
 * settings (processEnv); `bin/drizzle` reads the arguments the same way for the driver's own.
 */
export function footprintArg(args: string[]): Footprint | undefined {
  if (args[0] !== "run") return undefined;
  let found: string | undefined;
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (a === "--") break;
    if (a === "--footprint") found = args[++i];
    else if (a.startsWith("--footprint=")) found = a.slice("--footprint=".length);
  }
  return FOOTPRINTS.find((f) => f === found);
}
