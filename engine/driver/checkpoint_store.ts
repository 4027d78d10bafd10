import { createHash } from "node:crypto";
import { appendFile, mkdir, open, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pack } from "msgpackr/pack";
import { unpack } from "msgpackr/unpack";
import type { CheckpointData } from "./checkpoints.ts";
import { log } from "../log.ts";

/** What a checkpoint on disk holds beyond the lane states: enough to resume the whole run. */
export interface StoredCheckpoint extends CheckpointData {
  /** Identifies the pipeline; a checkpoint of another pipeline is never resumed. */
  pipeline: string;
  /** Bytes of input line data (after any header) up to the end of `batch`. */
  offset: number;
}

/** The sink's commit record: the last batch written and the output's size just after it. */
export interface SinkManifest {
  batch: number;
  bytes: number;
}

const MAGIC = "DRZC";
const KEEP = 2;

/**
 * How lane states are encoded in a checkpoint. Raised whenever a stateful step changes its
 * snapshot's shape or encoding (2: aggregates as columns; 3: each lane's state as the executor's
 * msgpack bytes), so a build never restores state it cannot read.
 */
export const STATE_FORMAT = 3;

/**
 * Checkpoints in a directory, written atomically (temp file, fsync, rename) with a SHA-256 of
 * the body, so a torn or corrupt file is recognised on load and the one before it is used.
 * Beside them: the log of batch boundaries (so batches cut before a restart are cut the same
 * way again) and the sink manifest (what was committed).
 */
export class CheckpointStore {
  // Writes are coalesced: one writer loop takes whatever is pending, in this order: batch log
  // lines, then the newest sink manifest, then the newest checkpoint. A checkpoint is requested
  // only after its batch was committed, so the manifest on disk is never behind it.
  #log = "";
  #manifest: SinkManifest | null = null;
  #checkpoint: StoredCheckpoint | null = null;
  #writing: Promise<void> | null = null;

  constructor(readonly dir: string) {}

  async init(fresh: boolean): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    if (fresh) {
      for (const f of await readdir(this.dir)) {
        if (f.startsWith("checkpoint-") || f === "batches.log" || f === "sink.json") {
          await rm(join(this.dir, f), { force: true });
        }
      }
    }
  }

  /** Records a complete checkpoint (written soon, after the manifest that covers it). */
  save(c: StoredCheckpoint): void {
    this.#checkpoint = c;
    this.#kick();
  }

  /** Records one batch (id, record count, processing time) before the batch is dispatched. */
  logBatch(batch: number, records: number, time: number, final: boolean): void {
    this.#log += `${batch} ${records} ${time}${final ? " final" : ""}\n`;
    this.#kick();
  }

  /** Records what the sink holds after a commit. */
  commit(m: SinkManifest): void {
    this.#manifest = m;
    this.#kick();
  }

  /** Resolves when everything recorded so far is on disk. */
  async flushed(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  #kick(): void {
    if (this.#writing) return;
    this.#writing = this.#writeLoop().finally(() => (this.#writing = null));
  }

  async #writeLoop(): Promise<void> {
    while (this.#log || this.#manifest || this.#checkpoint) {
      const lines = this.#log;
      const manifest = this.#manifest;
      const checkpoint = this.#checkpoint;
      this.#log = "";
      this.#manifest = null;
      this.#checkpoint = null;
      try {
        if (lines) await appendFile(join(this.dir, "batches.log"), lines);
        // Renamed into place, not synced: the sink it describes is not synced either, and both
        // survive the driver being killed; only a machine crash could lose them.
        if (manifest) await atomicWrite(join(this.dir, "sink.json"), Buffer.from(JSON.stringify(manifest)), false);
        if (checkpoint) await this.#write(checkpoint);
      } catch (e) {
        log.warn(`cannot write to ${this.dir}: ${(e as Error).message}`);
      }
    }
  }

  async #write(c: StoredCheckpoint): Promise<void> {
    const body = pack({ ...c, format: STATE_FORMAT });
    const sum = createHash("sha256").update(body).digest();
    const file = join(this.dir, `checkpoint-${String(c.batch).padStart(12, "0")}.bin`);
    await atomicWrite(file, Buffer.concat([Buffer.from(MAGIC), sum, body]));
    const all = (await readdir(this.dir)).filter((f) => /^checkpoint-\d+\.bin$/.test(f)).sort();
    for (const old of all.slice(0, Math.max(0, all.length - KEEP))) await rm(join(this.dir, old), { force: true });
  }

  /** The newest intact checkpoint of this pipeline, with a note for each one that was not. */
  async load(pipeline: string): Promise<{ checkpoint: StoredCheckpoint | null; skipped: string[] }> {
    const skipped: string[] = [];
    let files: string[] = [];
    try {
      files = (await readdir(this.dir)).filter((f) => /^checkpoint-\d+\.bin$/.test(f)).sort().reverse();
    } catch {
      return { checkpoint: null, skipped };
    }
    for (const f of files) {
      const raw = await readFile(join(this.dir, f));
      const body = raw.subarray(4 + 32);
      const ok = raw.length > 36 && raw.subarray(0, 4).toString() === MAGIC &&
        createHash("sha256").update(body).digest().equals(raw.subarray(4, 36));
      if (!ok) {
        skipped.push(`${f}: torn or corrupt (checksum mismatch)`);
        continue;
      }
      const c = unpack(body) as StoredCheckpoint & { format?: number };
      if (c.pipeline !== pipeline) {
        skipped.push(`${f}: belongs to another pipeline`);
        continue;
      }
      if (c.format !== STATE_FORMAT) {
        // An older checkpoint would be of the same format: resuming from none would re-run what
        // the sink already holds. Only a fresh run (without --resume) can go on from here.
        throw new Error(
          `${join(this.dir, f)} holds state in format ${c.format ?? 1}, written by another version of drizzle; ` +
            `this one reads format ${STATE_FORMAT}: run again without --resume to start over`,
        );
      }
      return { checkpoint: c, skipped };
    }
    return { checkpoint: null, skipped };
  }

  async batchLog(): Promise<Map<number, { records: number; time: number; final: boolean }>> {
    const out = new Map<number, { records: number; time: number; final: boolean }>();
    try {
      for (const line of (await readFile(join(this.dir, "batches.log"), "utf8")).split("\n")) {
        const [b, records, time] = line.split(" ").map(Number);
        const final = line.endsWith(" final");
        if (Number.isInteger(b) && Number.isInteger(records)) out.set(b, { records, time, final });
      }
    } catch {
      // No log yet: nothing was cut.
    }
    return out;
  }

  async manifest(): Promise<SinkManifest | null> {
    try {
      return JSON.parse(await readFile(join(this.dir, "sink.json"), "utf8")) as SinkManifest;
    } catch {
      return null;
    }
  }
}

async function atomicWrite(path: string, data: Uint8Array, sync = true): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, data);
  if (sync) {
    const fh = await open(tmp, "r+");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  await rename(tmp, path);
}
