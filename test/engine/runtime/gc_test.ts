import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const GC = fileURLToPath(new URL("../../../engine/runtime/gc.ts", import.meta.url));

/**
 * The collections made (young, full) after 16 MB of buffers were passed, and after a quiet point
 * that follows. Runs in a process of its own: the collection mode is for the whole process.
 */
function collectionsWhen(quietPoints: boolean): { passed: number[]; quiet: number[] } {
  const script = `
    import { buffersPassed, collectAtQuietPoints, collections, quietPoint } from ${JSON.stringify(GC)};
    if (${quietPoints}) collectAtQuietPoints();
    const counts = () => { const c = collections(); return [c.young, c.full]; };
    buffersPassed(16 << 20);
    const passed = counts();
    quietPoint();
    console.log(JSON.stringify({ passed, quiet: counts() }));
  `;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout);
}

test("by default, passing enough buffers makes a full collection at once; a quiet point adds none", () => {
  expect(collectionsWhen(false)).toEqual({ passed: [0, 1], quiet: [0, 1] });
});

test("with collectAtQuietPoints, the collection waits for the quiet point and is a young one", () => {
  expect(collectionsWhen(true)).toEqual({ passed: [0, 0], quiet: [1, 0] });
});

test("executors collect at quiet points when the allocator keeps freed memory: by default, not in the small footprint", async () => {
  const { quietPointCollections } = await import("../../../engine/executor/process.ts");
  const { processEnv } = await import("../../../engine/runtime/mod.ts");
  // What an executor gets when the user set no allocator settings.
  expect(quietPointCollections(processEnv({}))).toBe(true);
  expect(quietPointCollections(processEnv({ DRIZZLE_FOOTPRINT: "small" }))).toBe(false);
  expect(quietPointCollections({ MIMALLOC_PURGE_DELAY: "10" })).toBe(false);
});
