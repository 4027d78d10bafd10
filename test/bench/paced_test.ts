import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { feedPaced, lineStarts } from "../../bench/paced.ts";

test("line starts of a buffer larger than one search window, lines across the window's edge", () => {
  // 65 MB of lines of 7 to 99 bytes: the 64 MB search window ends inside one of them.
  const buf = new Uint8Array(65 << 20).fill(97);
  const want = [0];
  for (let at = 0, k = 0; at < buf.length; k++) {
    const end = at + 6 + (k * 37) % 93;
    if (end >= buf.length) break;
    buf[end] = 10;
    want.push(end + 1);
    at = end + 1;
  }
  const got = lineStarts(buf);
  expect(got.length).toBe(want.length);
  expect(Array.from(got)).toEqual(want);
  expect(want.some((s, i) => i > 0 && want[i - 1] < 64 << 20 && s > 64 << 20)).toBe(true);
});

test("feeding ends, with what was not taken as backlog, when the reader goes away", async () => {
  const text = new TextEncoder().encode("0123456789abcdef\n".repeat(1 << 18)); // 4.25 MB
  // A reader that takes 1000 bytes and exits.
  const child = spawn("head", ["-c", "1000"], { stdio: ["pipe", "ignore", "ignore"] });
  child.stdin!.on("error", () => {});
  const starts = lineStarts(text);
  const backlog = await feedPaced(child.stdin!, text, starts, starts.length - 1, 1e9);
  expect(backlog).toBeGreaterThan(0);
  expect(backlog).toBeLessThanOrEqual(text.length);
});
