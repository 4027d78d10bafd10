import type { ChildProcess } from "node:child_process";

/** How long executor processes get to exit on their own before they are killed. */
const GRACE_MS = 3000;

function exited(c: ChildProcess): boolean {
  return c.exitCode !== null || c.signalCode !== null;
}

/** Kills a child process at once; resolves when it has exited. */
export function killChild(c: ChildProcess | undefined): Promise<void> {
  if (!c || exited(c)) return Promise.resolve();
  return new Promise((resolve) => {
    c.once("exit", () => resolve());
    c.kill("SIGKILL");
  });
}

/**
 * Stops executor processes: closing their stdin asks them to exit (it is how they learn the
 * driver is done); whichever is still there after the grace period is killed.
 */
export async function stopChildren(children: Iterable<ChildProcess>): Promise<void> {
  await Promise.all([...children].map((c) =>
    new Promise<void>((resolve) => {
      if (exited(c)) return resolve();
      c.once("exit", () => resolve());
      c.stdin?.end();
      const t = setTimeout(() => c.kill("SIGKILL"), GRACE_MS);
      c.once("exit", () => clearTimeout(t));
    })
  ));
}
