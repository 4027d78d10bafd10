import { InvalidArgumentError } from "@commander-js/extra-typings";
import { parseDuration } from "../engine/plan/duration.ts";

/** Option parsers: a bad value is a usage error (exit 2) that says what was expected. */

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

export function groupSize(v: string): number | "auto" {
  if (v === "auto") return "auto";
  return positiveInt("--group-size")(v);
}
