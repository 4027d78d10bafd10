import { isCompiledBinary, runtimeVersion } from "../engine/runtime/mod.ts";
import { EXIT_CODES_HELP } from "./exit.ts";

/**
 * What the program says about itself: the version, and the help text the commands share
 * (every command's `--help` ends with examples that can be pasted as they are; the commands
 * that run something also list the exit codes).
 */

/** The release, kept equal to package.json's "version" (test/cli/help_test.ts checks it). */
export const VERSION = "0.1.0";

/** `drizzle --version`: the release, then what it runs on, e.g. `drizzle 0.1.0 (bun 1.4.5, linux-x64)`. */
export function versionText(): string {
  const how = isCompiledBinary() ? `standalone binary, ${runtimeVersion()}` : runtimeVersion();
  return `drizzle ${VERSION} (${how}, ${process.platform}-${process.arch})`;
}

/** The text of an "Examples:" section (then notes and the exit codes, when asked for). */
export function examples(lines: string[], opts: { exitCodes?: boolean; notes?: string } = {}): string {
  const parts = [`\nExamples:\n${lines.map((e) => `  ${e}`).join("\n")}`];
  if (opts.notes) parts.push(opts.notes);
  if (opts.exitCodes) parts.push(EXIT_CODES_HELP);
  return parts.join("\n\n");
}

/** The top-level help's closing notes. */
export const PROGRAM_NOTES = `Data goes to stdout, and only data; logs, progress and summaries go to stderr.
Run 'drizzle help <command>' (or 'drizzle <command> --help') for a command's flags.`;
