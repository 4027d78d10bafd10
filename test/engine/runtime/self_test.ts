import { expect, test } from "bun:test";
import {
  footprintOf,
  isCompiledBinary,
  processEnv,
  runtimeName,
  runtimeVersion,
  selfCommand,
} from "../../../engine/runtime/mod.ts";

// The standalone binary and Deno are covered end to end by test/cli/compile_test.ts and deno_test.ts.
test("from source under Bun, the executor command is this runtime with the executor's own entry", () => {
  expect(runtimeName()).toBe("bun");
  expect(runtimeVersion()).toBe(`bun ${process.versions.bun}`);
  expect(isCompiledBinary()).toBe(false);
  expect(selfCommand()).toEqual([process.execPath, new URL("../../../cli/executor_main.ts", import.meta.url).pathname]);
});

test("executors' allocator settings follow the footprint, and settings the user made win", () => {
  expect(processEnv({})).toEqual({ MIMALLOC_PURGE_DELAY: "-1", MIMALLOC_ALLOW_THP: "1" });
  expect(processEnv({ DRIZZLE_FOOTPRINT: "small" })).toEqual({ MIMALLOC_PURGE_DELAY: "10", MIMALLOC_ALLOW_THP: "0" });
  expect(processEnv({ DRIZZLE_FOOTPRINT: "small", MIMALLOC_ALLOW_THP: "1" }).MIMALLOC_ALLOW_THP).toBe("1");
  expect(processEnv({ MIMALLOC_PURGE_DELAY: "25" }).MIMALLOC_PURGE_DELAY).toBe("25");
  expect(footprintOf({ DRIZZLE_FOOTPRINT: "tiny" })).toBe("fast");
});
