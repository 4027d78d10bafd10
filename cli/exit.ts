/** Process exit codes, as documented in `drizzle --help` and the README. */
export const EXIT = {
  ok: 0,
  /** The run failed: an executor died, a step failed for good, output could not be written. */
  failure: 1,
  /** Bad command line or pipeline file. */
  usage: 2,
  /** The run finished, but some records were rejected (see the summary on stderr). */
  rejected: 3,
  /** A second Ctrl-C (or SIGTERM) aborted the run without committing the batches in flight. */
  aborted: 130,
} as const;

/** The exit codes as `--help` shows them. */
export const EXIT_CODES_HELP = `Exit codes:
  0    ok
  1    runtime failure (an executor died, a step failed, output could not be written)
  2    usage or pipeline error (unknown command or flag, bad value, invalid pipeline file)
  3    finished, but records were rejected (counts per step on stderr)
  130  a second SIGINT/SIGTERM aborted the run`;

/**
 * A command line that cannot be carried out as asked (a file that cannot be opened, flags
 * that contradict each other): printed as `drizzle: error: ...`, exit code 2.
 */
export class UsageError extends Error {
  override name = "UsageError";
}
