/** Process exit codes, as documented in `drizzle --help` and the README. */
export const EXIT = {
  ok: 0,
  /** The run failed: an executor died, a step failed for good, output could not be written. */
  failure: 1,
  /** Bad command line or pipeline file. */
  usage: 2,
  /** The run finished, but some records were rejected (see the summary on stderr). */
  rejected: 3,
} as const;
