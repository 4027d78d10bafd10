import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { feedPacedSync, lineStarts } from "../../bench/paced.ts";

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

const lineText = (n: number) =>
  new TextEncoder().encode(Array.from({ length: n }, (_, i) => `line ${i} ${"x".repeat(i % 50)}\n`).join(""));

test("the feeder writes the first lines in order through partial writes and a full pipe", () => {
  const text = lineText(20_000);
  const starts = lineStarts(text);
  const got: number[] = [];
  let calls = 0;
  const write = (chunk: Uint8Array) => {
    if (++calls % 3 === 0) throw Object.assign(new Error("EAGAIN"), { code: "EAGAIN" });
    const n = Math.min(chunk.length, 7000);
    got.push(...chunk.subarray(0, n));
    return n;
  };
  // All due at once: nothing is taken yet when the last line is due, so it all is backlog.
  const backlog = feedPacedSync(write, text, starts, 15_000, 1e12);
  expect(new Uint8Array(got)).toEqual(text.subarray(0, starts[15_000]));
  expect(backlog).toBe(starts[15_000]);
});

test("feeding ends, with what was not sent as backlog, when the reader goes away", () => {
  const text = lineText(5000);
  const starts = lineStarts(text);
  let taken = 0;
  const write = (chunk: Uint8Array) => {
    if (taken >= 1000) throw Object.assign(new Error("EPIPE"), { code: "EPIPE" });
    const n = Math.min(chunk.length, 600);
    taken += n;
    return n;
  };
  const backlog = feedPacedSync(write, text, starts, 5000, 1e12);
  expect(backlog).toBe(text.length - taken);
  expect(taken).toBe(1200);
});

test("the feeder process: waits for the ready file, writes its lines into the pipe, reports t0 and backlog", async () => {
  const dir = mkdtempSync(`${tmpdir()}/feeder-`);
  try {
    const events = `${dir}/events`;
    const text = lineText(60_000); // about 2.5 MB: more than a pipe holds
    writeFileSync(events, text);
    const starts = lineStarts(text);
    const ready = `${dir}/ready`;
    const report = `${dir}/report.json`;
    const feeder = [process.execPath, new URL("../../bench/feeder.ts", import.meta.url).pathname];
    // Not ready yet: the feeder must not write before the ready file shows a batch.
    const p = spawn("sh", ["-c", `"$@" | cat > ${dir}/out`, "sh", ...feeder, events, "2000", "50000", ready, report], {
      stdio: "ignore",
    });
    const exited = new Promise((r) => p.on("close", r));
    await Bun.sleep(300);
    expect(existsSync(report)).toBe(false);
    const before = Date.now();
    writeFileSync(ready, '{"type":"batch"}\n');
    await exited;
    const r = JSON.parse(readFileSync(report, "utf8"));
    expect(r.t0).toBeGreaterThanOrEqual(before - 1);
    expect(r.backlogBytes).toBeGreaterThanOrEqual(0);
    expect(new Uint8Array(readFileSync(`${dir}/out`))).toEqual(text.subarray(0, starts[2000]));

    // A reader that takes 1000 bytes and exits: the feeder stops at the broken pipe, and what it
    // had not sent is the backlog (paced, so the backlog is not simply all of it as due at once).
    rmSync(report);
    const q = spawn("sh", [
      "-c",
      `"$@" | head -c 1000 > /dev/null`,
      "sh",
      ...feeder,
      events,
      "60000",
      "200000",
      ready,
      report,
    ], {
      stdio: "ignore",
    });
    await new Promise((r) => q.on("close", r));
    const r2 = JSON.parse(readFileSync(report, "utf8"));
    expect(r2.backlogBytes).toBeGreaterThan(0);
    expect(r2.backlogBytes).toBeLessThan(starts[60_000] - 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
