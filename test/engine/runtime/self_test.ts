import { expect, test } from "bun:test";
import { isCompiledBinary, runtimeName, runtimeVersion, selfCommand } from "../../../engine/runtime/mod.ts";

// The standalone binary and Deno are covered end to end by test/cli/compile_test.ts and deno_test.ts.
test("from source under Bun, the executor command is this runtime with the executor's own entry", () => {
  expect(runtimeName()).toBe("bun");
  expect(runtimeVersion()).toBe(`bun ${process.versions.bun}`);
  expect(isCompiledBinary()).toBe(false);
  expect(selfCommand()).toEqual([process.execPath, new URL("../../../cli/executor_main.ts", import.meta.url).pathname]);
});
