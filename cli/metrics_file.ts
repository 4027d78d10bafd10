import { closeSync, openSync, writeSync } from "node:fs";
import type { BatchMetrics, DriverObserver, GroupMetrics, RunSummary } from "../engine/driver/mod.ts";
import { log } from "../engine/log.ts";
import { UsageError } from "./exit.ts";
import type { RunShape } from "./report.ts";
import type { RunStats } from "./stats.ts";

/** Fractions of a millisecond beyond a microsecond are noise; keep the lines short. */
function rounded(_key: string, v: unknown): unknown {
  return typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v;
}

/**
 * `--metrics FILE`: one JSON object per line, written as the driver reports them:
 *
 * ```
 * {"type":"batch","batch":0,"group":0,"groupSize":10,"recordsIn":5000,...}   one per committed batch
 * {"type":"group","group":0,"first":0,"size":10,"executors":2,...}          one per completed group
 * {"type":"event","message":"lost executor 1: ...","at":1795603439772}      as the driver notes them
 * {"type":"summary","batches":12,"recordsIn":60000,...,"latencyMs":{...}}  once, at the end
 * ```
 *
 * A run that fails ends with `{"type":"error","message":...}` instead of a summary. Lines are
 * written synchronously, so the file is complete up to the last commit even if the run is
 * killed.
 */
export class MetricsFile implements DriverObserver {
  #fd: number | null;

  private constructor(readonly path: string, fd: number) {
    this.#fd = fd;
  }

  /** Creates (or truncates) the file; a path that cannot be written is a usage error. */
  static open(path: string): MetricsFile {
    try {
      return new MetricsFile(path, openSync(path, "w"));
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new UsageError(`cannot write --metrics file '${path}': ${why}`);
    }
  }

  batch(m: BatchMetrics): void {
    this.#write({ type: "batch", ...m });
  }

  group(m: GroupMetrics): void {
    this.#write({ type: "group", ...m });
  }

  /** Things the driver noted as they happened (an executor lost, a recovery). */
  event(message: string): void {
    this.#write({ type: "event", message, at: Date.now() });
  }

  /** The final line: the driver's summary (per-batch latencies are in the batch lines) and percentiles. */
  summary(s: RunSummary, stats: RunStats, shape: RunShape, exitCode: number): void {
    const { latencies: _perBatch, ...rest } = s;
    this.#write({
      type: "summary",
      ...rest,
      mode: shape.mode,
      workers: shape.workers,
      exitCode,
      latencyMs: {
        p50: stats.latencyMs(50),
        p90: stats.latencyMs(90),
        p99: stats.latencyMs(99),
        max: stats.maxLatencyMs,
      },
    });
  }

  error(message: string, exitCode: number): void {
    this.#write({ type: "error", message, exitCode });
  }

  close(): void {
    if (this.#fd === null) return;
    closeSync(this.#fd);
    this.#fd = null;
  }

  #write(record: Record<string, unknown>): void {
    if (this.#fd === null) return;
    try {
      writeSync(this.#fd, JSON.stringify(record, rounded) + "\n");
    } catch (e) {
      // Metrics are a side channel: losing them must not fail the run it describes.
      log.warn(`--metrics: cannot write '${this.path}', no more metrics: ${(e as Error).message}`);
      this.close();
    }
  }
}
