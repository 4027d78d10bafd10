import { describe, expect, test } from "bun:test";
import { GroupSizeController } from "../../../engine/driver/group_size.ts";

const opts = { maxOverhead: 0.05, maxGroupTimeMs: 1000, maxGroupSize: 1000 };

describe("GroupSizeController", () => {
  test("picks the smallest G that keeps coordination under the target", () => {
    const c = new GroupSizeController(opts);
    for (let i = 0; i < 5; i++) c.observe(1, 10); // 1ms per group, 10ms batches
    const d = c.decide();
    // 1 / (G * 10) <= 0.05  =>  G >= 2
    expect(d.size).toBe(2);
    expect(d.reason).toContain("smallest G");
  });

  test("never lets a group span more than the max group time", () => {
    const c = new GroupSizeController(opts);
    for (let i = 0; i < 5; i++) c.observe(100, 100); // would want G = 20
    const d = c.decide();
    expect(d.size).toBe(10);
    expect(d.reason).toContain("capped");
  });

  test("follows a change in conditions", () => {
    const c = new GroupSizeController(opts);
    for (let i = 0; i < 10; i++) c.observe(2, 5);
    const before = c.decide().size;
    for (let i = 0; i < 30; i++) c.observe(0.2, 5);
    const after = c.decide().size;
    expect(before).toBe(8);
    expect(after).toBeLessThan(before);
    expect(after).toBe(1);
  });

  test("falls back to AIMD when measurements are noisy", () => {
    const c = new GroupSizeController(opts);
    c.observe(0.01, 1);
    c.observe(50, 1);
    c.observe(0.01, 1);
    c.observe(60, 1);
    const d = c.decide();
    expect(d.reason).toContain("AIMD");
    expect(d.size).toBe(2);
  });

  test("keeps its size until it has measurements", () => {
    const c = new GroupSizeController(opts);
    expect(c.decide()).toEqual({ size: 1, reason: "auto: no measurement yet" });
  });
});
