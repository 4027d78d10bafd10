/** Helpers for the CLI tests: a pseudo-terminal, process groups, generated input. */
import { execFileSync, spawn } from "node:child_process";
import { createReadStream, existsSync, readdirSync, readFileSync } from "node:fs";
import { ROOT } from "../support/cli.ts";

export interface PtyResult {
  code: number | null;
  /** What the terminal showed: the command's stderr (and stdout, unless redirected). */
  screen: string;
}

/** util-linux `script` gives the command a pseudo-terminal; it is part of Debian's base system. */
export function hasScript(): boolean {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a shell command line on a pseudo-terminal (so stderr.isTTY is true), from the repo
 * root. Redirect stdin and stdout inside `command` to keep data off the terminal.
 */
export function inPty(command: string, env: Record<string, string> = {}): Promise<PtyResult> {
  return new Promise((resolve, reject) => {
    // -q no banner, -e the command's exit code, -f flush as it goes, -c the command.
    const child = spawn("script", ["-qefc", command, "/dev/null"], {
      cwd: ROOT,
      env: { ...process.env, TERM: "xterm", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Uint8Array[] = [];
    child.stdout.on("data", (c) => out.push(c));
    child.stderr.on("data", (c) => out.push(c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, screen: Buffer.concat(out).toString("utf8") }));
  });
}

/** Status-line draws on a terminal screen: text right after a `\r` that does not end a line. */
export function statusDraws(screen: string): string[] {
  return [...screen.matchAll(/\r(?!\n)([^\r\n]+)/g)].map((m) => m[1].trim()).filter((t) => t.startsWith("batches "));
}

/** Live (not zombie) processes of a process group, read from /proc: [pid, command line]. */
export function processGroup(pgid: number): [number, string][] {
  const found: [number, string][] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // Fields after the command name (which may hold spaces): state, ppid, pgrp, ...
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[2]) !== pgid || rest[0] === "Z") continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").join(" ").trim();
      found.push([Number(name), cmd]);
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

/** Waits until `check` returns true, polling; false if `ms` passed first. */
export async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** ~`lines` lines of varied words with blanks of every kind (deterministic). */
export function wordsText(lines: number): string {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const vocab = readFileSync(`${ROOT}pipelines/data/access.log`, "utf8").split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const n = Math.floor(rnd() * 8);
    let l = rnd() < 0.1 ? "  " : "";
    for (let j = 0; j < n; j++) l += vocab[Math.floor(rnd() * vocab.length)] + (rnd() < 0.2 ? "\t" : " ");
    out.push(l);
  }
  return out.join("\n") + "\n";
}

/** Sorted non-empty lines. */
export function sortedLines(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l !== "").sort();
}

export const DENO = `${ROOT}node_modules/.bin/deno`;
export const hasDeno = () => existsSync(DENO);

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs any program (a built binary, deno) with stdin from a file, collecting its output. */
export function run(
  cmd: string,
  args: string[],
  o: { cwd?: string; stdinFile?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: o.cwd ?? ROOT,
      env: { ...process.env, ...o.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    child.stdout.on("data", (c) => out.push(c));
    child.stderr.on("data", (c) => err.push(c));
    child.on("error", reject);
    child.on(
      "close",
      (code) =>
        resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }),
    );
    child.stdin.on("error", () => {});
    if (o.stdinFile) createReadStream(o.stdinFile).pipe(child.stdin);
    else child.stdin.end();
  });
}
