/** Runs the drizzle command line as a user would: a child process with pipes. */
import { spawn } from "node:child_process";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const DRIZZLE = `${ROOT}bin/drizzle`;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function drizzle(
  args: string[],
  input?: string | Uint8Array,
  env: Record<string, string> = {},
  /** The environment `env` is added to (default: this process's). */
  base: Record<string, string | undefined> = process.env,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(DRIZZLE, args, { cwd: ROOT, env: { ...base, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    child.stdout.on("data", (c) => out.push(c));
    child.stderr.on("data", (c) => err.push(c));
    child.on("error", reject);
    child.on(
      "close",
      (code, signal) =>
        resolve({
          code,
          signal,
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
        }),
    );
    child.stdin.on("error", () => {});
    child.stdin.end(input ?? "");
  });
}

/** The words-per-line counts awk computes: the independent oracle for wordcount. */
export function awkWordCount(path: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn("awk", ['{for(i=1;i<=NF;i++)c[$i]++} END{for(w in c)print w"\\t"c[w]}', path]);
    const out: Uint8Array[] = [];
    child.stdout.on("data", (c) => out.push(c));
    child.on("error", reject);
    child.on("close", () => resolve(Buffer.concat(out).toString("utf8").split("\n").filter((l) => l !== "").sort()));
  });
}

/** Pids of drizzle executor processes still alive (orphans, when a test expects none). */
export function executorPids(): number[] {
  const { execFileSync } = require("node:child_process") as typeof import("node:child_process");
  try {
    const out = execFileSync("pgrep", ["-f", "cli/(executor_)?main\\.ts executor"], { encoding: "utf8" });
    return out.split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
