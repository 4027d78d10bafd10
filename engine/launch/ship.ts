import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { log } from "../log.ts";
import { isCompiledBinary, runtimeName } from "../runtime/mod.ts";

/** A standalone drizzle binary on this machine, named by the hash of its bytes. */
export interface LocalBinary {
  path: string;
  /** First 16 hex digits of the SHA-256 of the file: the name of this exact build remotely. */
  hash: string;
}

/** Where drizzle keeps shipped and built binaries: `$XDG_CACHE_HOME/drizzle` or `~/.cache/drizzle`. */
export function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "drizzle");
}

/**
 * The binary remote executors run: this program itself when it is a standalone binary, else one
 * built from these sources with `bun build --compile` (once per version of the sources; kept
 * in the cache). Building needs Bun; under Deno, run the standalone binary instead.
 */
export async function localBinary(): Promise<LocalBinary> {
  const path = isCompiledBinary() ? process.execPath : await buildFromSources();
  return { path, hash: await fileHash(path) };
}

async function fileHash(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Uint8Array);
  return h.digest("hex").slice(0, 16);
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Every file a build is made of: a change to any of them is another build. */
function sourcesHash(): string {
  const h = createHash("sha256");
  h.update(`${runtimeName()} ${process.versions.bun ?? ""}\n`);
  const walk = (dir: string) => {
    for (const name of readdirSync(join(ROOT, dir)).sort()) {
      const rel = join(dir, name);
      if (statSync(join(ROOT, rel)).isDirectory()) walk(rel);
      else if (name.endsWith(".ts")) h.update(rel).update(readFileSync(join(ROOT, rel)));
    }
  };
  walk("engine");
  walk("cli");
  for (const f of ["mod.ts", "package.json", "package-lock.json"]) {
    if (existsSync(join(ROOT, f))) h.update(f).update(readFileSync(join(ROOT, f)));
  }
  return h.digest("hex").slice(0, 16);
}

async function buildFromSources(): Promise<string> {
  if (runtimeName() !== "bun") {
    throw new Error(
      "running executors over ssh from sources needs Bun to build the binary to ship; " +
        "run the standalone binary (npm run compile, then dist/drizzle) or pass --remote-drizzle",
    );
  }
  const dir = join(cacheDir(), "build", sourcesHash());
  const out = join(dir, "drizzle");
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  log.info(`building the standalone binary for remote executors (${out})`);
  const entries = ["cli/main.ts", "engine/executor/heartbeat_worker.ts"].map((f) => join(ROOT, f));
  const args = ["build", "--compile", ...entries, "--outfile", tmp];
  const { code, output } = await runCapture(process.execPath, args);
  if (code !== 0) throw new Error(`building the binary for remote executors failed:\n${output}`);
  renameSync(tmp, out);
  return out;
}

function runCapture(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    child.on("error", (e) => resolve({ code: -1, output: e.message }));
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

/** Quotes a word for a POSIX shell. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The path of a build on a remote host, for its shell (`$HOME` expands there). */
export function remotePath(hash: string): string {
  return `"\${XDG_CACHE_HOME:-$HOME/.cache}/drizzle/${hash}/drizzle"`;
}

/** `uname -s -m` of this machine, as a remote's would print it (to compare builds). */
export function localPlatform(): string {
  const os = { linux: "Linux", darwin: "Darwin" }[process.platform as string] ?? process.platform;
  const arch = { x64: "x86_64", arm64: process.platform === "darwin" ? "arm64" : "aarch64" }[
    process.arch as string
  ] ?? process.arch;
  return `${os} ${arch}`;
}

/**
 * Makes sure `host` has this exact build: asks (one ssh round trip) whether the file is there
 * and what the machine is; copies it over stdin only when it is missing. A remote of another
 * operating system or processor cannot run it: that is an error, not a silent failure later.
 */
export async function ensureRemoteBinary(ssh: (command: string) => string[], bin: LocalBinary, host: string) {
  const path = remotePath(bin.hash);
  const probe = `uname -s -m; if [ -x ${path} ]; then echo present; else echo missing; fi`;
  const [cmd, ...args] = ssh(probe);
  const r = await runCapture(cmd, args);
  const lines = r.output.trim().split("\n");
  if (r.code !== 0 || lines.length < 2) {
    throw new Error(`ssh to ${host} failed (exit ${r.code}): ${r.output.trim() || "no output"}`);
  }
  const [platform, state] = lines.slice(-2).map((l) => l.trim());
  if (platform !== localPlatform()) {
    throw new Error(
      `${host} is ${platform}, this build is for ${localPlatform()}: pass --remote-drizzle with a binary built for it`,
    );
  }
  if (state === "present") return;
  log.info(`copying drizzle (${bin.hash}) to ${host}`);
  // Written under a temporary name and renamed: a concurrent or broken copy never leaves a
  // partial file under the final name.
  const install = `d=$(dirname ${path}); mkdir -p "$d" && t="$d/.drizzle.$$" && cat > "$t" && ` +
    `chmod 755 "$t" && mv -f "$t" ${path}`;
  const [cmd2, ...args2] = ssh(install);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(cmd2, args2, { stdio: ["pipe", "ignore", "inherit"] });
    child.on("error", () => resolve(-1));
    child.on("close", (c) => resolve(c ?? -1));
    child.stdin!.on("error", () => {});
    createReadStream(bin.path).pipe(child.stdin!);
  });
  if (code !== 0) throw new Error(`copying drizzle to ${host} failed (ssh exit ${code})`);
}
