/**
 * The heartbeat thread of an executor: its own authenticated connection to the driver, on which
 * it sends a Heartbeat every interval. Task work runs on the executor's main thread and can hold
 * it for longer than the driver's heartbeat timeout (a big batch, a slow udf, an overloaded
 * machine); this thread is not held by it, so a busy executor is not mistaken for a dead one.
 * A stopped or killed process stops this thread too, and a broken network cuts its connection,
 * so those are still detected within the timeout. A main thread that has not turned its event
 * loop for STUCK_MS is treated as hung: the heartbeats stop and the driver replaces the executor.
 */
import { connect } from "../wire/connection.ts";
import type { Heartbeat } from "../wire/messages.ts";
import { executorId, jobId } from "../wire/mod.ts";

/** Longer than any task should hold the main thread; shorter than a user would wait on a hang. */
export const STUCK_MS = 30_000;

export interface HeartbeatInit {
  host: string;
  port: number;
  executor: number;
  job: string;
  secret: string;
  intervalMs: number;
  /** [0]: bumped by the main thread every interval; [1]: the current attempt. */
  shared: SharedArrayBuffer;
}

declare const self: { onmessage: ((e: MessageEvent<HeartbeatInit>) => void) | null; close(): void };

self.onmessage = async (e) => {
  self.onmessage = null;
  const o = e.data;
  const state = new Int32Array(o.shared);
  const conn = await connect(o.host, o.port, o.executor, { secret: o.secret, channel: "heartbeat" }).catch(() => null);
  if (!conn) return self.close();
  let seen = Atomics.load(state, 0);
  let movedAt = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const progress = Atomics.load(state, 0);
    if (progress !== seen) {
      seen = progress;
      movedAt = now;
    }
    if (now - movedAt > STUCK_MS) return;
    const beat: Heartbeat = {
      type: "Heartbeat",
      job: jobId(o.job),
      attempt: Atomics.load(state, 1),
      executor: executorId(o.executor),
    };
    conn.send(beat);
  }, o.intervalMs);
  conn.onClose = () => {
    clearInterval(timer);
    self.close();
  };
};
