import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { pssKB, TreeSampler } from "../../bench/proc.ts";

test("the sampler's PSS of a process tree is positive and never above its RSS", async () => {
  // A child that shares the runtime's executable with this process: their PSS splits those pages.
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 10000)"], { stdio: "ignore" });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const sampler = new TreeSampler(1000, undefined, true);
    sampler.start(process.pid);
    sampler.stop();
    const s = sampler.samples[0];
    expect(Object.keys(s.byPid).map(Number)).toContain(child.pid!);
    expect(s.pssMB!).toBeGreaterThan(0);
    expect(s.pssMB!).toBeLessThan(s.rssMB);
    expect(sampler.peakPssMB).toBe(s.pssMB!);
  } finally {
    child.kill();
  }
});

test("a process that is gone has no PSS, and RSS-only sampling records none", () => {
  expect(pssKB(2 ** 22 + 12345)).toBe(0);
  const sampler = new TreeSampler(1000);
  sampler.start(process.pid);
  sampler.stop();
  expect(sampler.samples[0].pssMB).toBeUndefined();
  expect(sampler.peakPssMB).toBe(0);
});
