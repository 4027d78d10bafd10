import { expect, test } from "bun:test";
import { machine, machineLine } from "../../bench/report.ts";

test("a benchmark's machine line carries the speed check taken at its start, and older results without one still print", () => {
  const m = machine();
  expect(m.speed!.loopMs).toBeGreaterThan(0);
  expect(m.speed!.newMemoryMs).toBeGreaterThan(0);
  expect(machineLine(m)).toContain(
    `speed check: 50M-step loop ${m.speed!.loopMs} ms, 32 MB of new memory touched ${m.speed!.newMemoryMs} ms`,
  );
  const older = { ...m, speed: undefined };
  expect(machineLine(older)).not.toContain("speed check");
  expect(machineLine(older)).toContain(`${m.cores} cores`);
});
