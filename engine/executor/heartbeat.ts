import { log } from "../log.ts";
import { moduleUrl } from "../runtime/mod.ts";
import type { HeartbeatInit } from "./heartbeat_worker.ts";

/** Heartbeats to the driver; `attempt` follows the executor's current job attempt. */
export interface Heartbeats {
  setAttempt(attempt: number): void;
  stop(): void;
}

/**
 * Starts the executor's heartbeats on their own thread (heartbeat_worker.ts) and bumps the
 * progress counter it watches from this (the main) thread. Where a worker thread cannot start,
 * heartbeats go from this thread through `sendHere`, as before: a long task then delays them.
 */
export function startHeartbeats(
  init: Omit<HeartbeatInit, "shared">,
  sendHere: (attempt: number) => void,
): Heartbeats {
  const shared = new SharedArrayBuffer(8);
  const state = new Int32Array(shared);
  let fallback = false;
  let worker: Worker | null = null;
  const onWorkerFailed = (why: string) => {
    if (fallback) return;
    log.debug(`heartbeat thread unavailable (${why}); heartbeats go from the main thread`);
    fallback = true;
    worker?.terminate();
  };
  try {
    worker = new Worker(moduleUrl("engine/executor/heartbeat_worker.ts", import.meta.url, 2), { type: "module" });
    worker.addEventListener("error", (e) => onWorkerFailed((e as ErrorEvent).message ?? "error"));
    // The thread must not keep the process alive once the executor is done.
    (worker as unknown as { unref?: () => void }).unref?.();
    worker.postMessage({ ...init, shared } satisfies HeartbeatInit);
  } catch (e) {
    onWorkerFailed((e as Error).message);
  }
  const timer = setInterval(() => {
    Atomics.add(state, 0, 1);
    if (fallback) sendHere(Atomics.load(state, 1));
  }, init.intervalMs);
  return {
    setAttempt: (attempt) => Atomics.store(state, 1, attempt),
    stop: () => {
      clearInterval(timer);
      worker?.terminate();
    },
  };
}
