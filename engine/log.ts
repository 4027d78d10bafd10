/**
 * Logging for every part of the engine: one line per event, to stderr, never stdout (stdout is
 * data). The level and a prefix (which process is talking) are set once per process.
 */

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

let threshold = ORDER.warn;
let prefix = "drizzle";
let write = (line: string) => {
  process.stderr.write(line);
};

export function configureLog(opts: { level?: LogLevel; prefix?: string; write?: (line: string) => void }): void {
  if (opts.level) threshold = ORDER[opts.level];
  if (opts.prefix) prefix = opts.prefix;
  if (opts.write) write = opts.write;
}

export function logLevel(): LogLevel {
  return (Object.keys(ORDER) as LogLevel[]).find((k) => ORDER[k] === threshold) ?? "warn";
}

function emit(level: LogLevel, msg: string): void {
  if (ORDER[level] < threshold) return;
  write(`${prefix}: ${level === "info" ? "" : level + ": "}${msg}\n`);
}

export const log = {
  debug: (msg: string) => emit("debug", msg),
  info: (msg: string) => emit("info", msg),
  warn: (msg: string) => emit("warn", msg),
  error: (msg: string) => emit("error", msg),
};
