import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { pack } from "msgpackr";
import { CheckpointStore, STATE_FORMAT } from "../../../engine/driver/checkpoint_store.ts";

let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const checkpoint = { batch: 4, lanes: [], offset: 120, pipeline: "p1" };

/** A checkpoint file as the store writes them: magic, SHA-256 of the body, msgpack body. */
function writeRaw(path: string, body: object): void {
  const bytes = pack(body);
  writeFileSync(path, Buffer.concat([Buffer.from("DRZC"), createHash("sha256").update(bytes).digest(), bytes]));
}

test("a checkpoint comes back as saved, for its own pipeline only", async () => {
  dir = mkdtempSync(join(tmpdir(), "drizzle-ckpt-"));
  const store = new CheckpointStore(dir);
  await store.init(true);
  store.save(checkpoint);
  await store.flushed();
  expect((await store.load("p1")).checkpoint).toMatchObject(checkpoint);
  expect((await store.load("p2")).checkpoint).toBeNull();
});

test("state in another format is refused with a clear error, not restored or skipped", async () => {
  dir = mkdtempSync(join(tmpdir(), "drizzle-ckpt-"));
  const store = new CheckpointStore(dir);
  await store.init(true);
  // Written by a build before formats were recorded.
  writeRaw(join(dir, "checkpoint-000000000004.bin"), checkpoint);
  expect(readdirSync(dir)).toContain("checkpoint-000000000004.bin");
  await expect(store.load("p1")).rejects.toThrow(`format 1`);
  writeRaw(join(dir, "checkpoint-000000000004.bin"), { ...checkpoint, format: STATE_FORMAT + 1 });
  await expect(store.load("p1")).rejects.toThrow(/without --resume/);
});
