import { InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { parseHost } from "../engine/launch/ssh.ts";
import { parseDuration } from "../engine/plan/duration.ts";

/** Option parsers and options shared by several commands: a bad value is a usage error (exit 2) that says what was expected. */

export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a whole number >= 1, got '${v}'`);
    }
    return n;
  };
}

export function duration(v: string): number {
  const ms = parseDuration(v);
  if (ms === null || ms <= 0) throw new InvalidArgumentError(`expected a duration such as 100ms, 1s or 2m, got '${v}'`);
  return ms;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1 << 20,
  mb: 1 << 20,
  g: 1 << 30,
  gb: 1 << 30,
};

/** A size such as 256MB, 64k or 1g (bytes). */
export function byteSize(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?b?)\s*$/i.exec(v);
  if (!m) throw new InvalidArgumentError(`expected a size such as 256MB or 64k, got '${v}'`);
  const n = Math.floor(Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()]);
  if (n < 1) throw new InvalidArgumentError(`expected a size above 0, got '${v}'`);
  return n;
}

/** A fraction given as "5%" or "0.05". */
export function fraction(v: string): number {
  const n = v.endsWith("%") ? Number(v.slice(0, -1)) / 100 : Number(v);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`expected a fraction such as 5% or 0.05, got '${v}'`);
  return n;
}

export function groupSize(v: string): number | "auto" {
  if (v === "auto") return "auto";
  return positiveInt("--group-size")(v);
}

/** `--color auto|always|never` (global: accepted before or after the command name). */
export function colorOption() {
  return new Option("--color <when>", "colour on stderr: auto (a terminal, unless NO_COLOR is set), always, never")
    .choices(["auto", "always", "never"] as const)
    .default("auto" as const);
}

/** `--log-level` (global): how much the engine logs to stderr. */
export function logLevelOption() {
  return new Option("--log-level <level>", "stderr log detail")
    .choices(["debug", "info", "warn", "error", "silent"] as const)
    .default("warn" as const);
}

/** `--hosts a,b,c`: each [user@]host[:port]. */
export function hostList(v: string): string[] {
  const hosts = v.split(",").map((h) => h.trim()).filter(Boolean);
  if (hosts.length === 0) throw new InvalidArgumentError("expected host names, e.g. node1,node2");
  for (const h of hosts) {
    try {
      parseHost(h);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  }
  return hosts;
}
