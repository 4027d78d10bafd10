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

/**
 * What launchers of executor processes share: one child process per executor (the executor
 * itself, or the ssh client that runs it), the secret written to its stdin, its exit reported.
 */
export abstract class ProcessLauncher {
  readonly children = new Map<number, ChildProcess>();
  onExit?: (executor: number, how: string) => void;
  protected stopping = false;

  /**
   * Tracks executor `i`'s process: gives it its first line of stdin, the secret (stdin stays
   * open: when the driver dies the pipe closes and the executor exits), and reports how it ended
   * unless we are stopping.
   */
  protected adopt(
    i: number,
    child: ChildProcess,
    firstLine: string,
    exitText: (code: number | null, signal: string | null) => string,
  ) {
    child.stdin!.on("error", () => {});
    child.stdin!.write(firstLine + "\n");
    child.on("exit", (code, signal) => {
      if (this.children.get(i) === child) this.children.delete(i);
      if (!this.stopping) this.onExit?.(i, exitText(code, signal));
    });
    child.on("error", (e) => {
      if (this.children.get(i) === child) this.children.delete(i);
      if (!this.stopping) this.onExit?.(i, `could not start: ${e.message}`);
    });
    this.children.set(i, child);
  }

  kill(executor: number): Promise<void> {
    return killChild(this.children.get(executor));
  }

  /** The process id of an executor's process (for tests that kill or stop one). */
  pid(executor: number): number | undefined {
    return this.children.get(executor)?.pid;
  }

  stop(): Promise<void> {
    this.stopping = true;
    return stopChildren(this.children.values());
  }
}
