import { afterEach, expect, test } from "bun:test";
import { StatusLine, writeAround } from "../../cli/status_line.ts";
import { Terminal } from "../../cli/terminal.ts";

const started: StatusLine[] = [];
afterEach(() => started.splice(0).forEach((l) => l.stop()));

/** A terminal that records what is written to it, with a clock the test moves. */
function setup(columns?: number) {
  const stream = {
    out: "",
    isTTY: true,
    columns,
    write(s: string) {
      this.out += s;
      return true;
    },
  };
  const term = new Terminal(stream as unknown as NodeJS.WriteStream, {});
  let now = 0;
  let text = "batches 0";
  const line = new StatusLine(term, () => text, { now: () => now });
  started.push(line);
  return {
    stream,
    term,
    line,
    set: (t: string) => (text = t),
    tick: (ms: number) => (now += ms),
  };
}

test("draws at once, then at most once per 100ms; the last state is drawn before it is erased", () => {
  const s = setup();
  s.line.start();
  expect(s.stream.out).toBe("\rbatches 0");
  s.set("batches 1");
  s.tick(50);
  s.line.update();
  expect(s.stream.out).toBe("\rbatches 0");
  s.tick(60);
  s.set("batches 2");
  s.line.update();
  expect(s.stream.out).toBe("\rbatches 0\rbatches 2");
  s.set("batches 3");
  s.line.stop();
  expect(s.stream.out).toBe("\rbatches 0\rbatches 2\rbatches 3\r         \r");
  s.line.update();
  expect(s.stream.out).toEndWith("\r         \r");
});

test("update(true) draws at once, whatever the last draw", () => {
  const s = setup();
  s.line.start();
  s.set("batches 1");
  s.line.update(true);
  expect(s.stream.out).toBe("\rbatches 0\rbatches 1");
});

test("a shorter text overwrites the rest of the longer one with spaces, no escape codes", () => {
  const s = setup();
  s.set("batches 1000 | out 1.2k/s");
  s.line.start();
  s.tick(100);
  s.set("batches 1001");
  s.line.update();
  expect(s.stream.out).toEndWith("\rbatches 1001             \rbatches 1001");
  expect(s.stream.out).not.toContain("\x1b");
});

test("fits the terminal's width, leaving the last column free", () => {
  const s = setup(10);
  s.set("batches 12345 | group 10");
  s.line.start();
  expect(s.stream.out).toBe("\rbatches 1");
});

test("other lines are written around it", () => {
  const s = setup();
  s.line.start();
  s.term.line("drizzle: warn: something");
  expect(s.stream.out).toBe("\rbatches 0\r         \rdrizzle: warn: something\n\rbatches 0");
});

test("data written through writeAround never lands on the status line", async () => {
  const s = setup();
  const data = {
    out: "",
    on: () => data,
    write(chunk: Uint8Array, _e: unknown, cb: () => void) {
      s.stream.out += `<${chunk.toString()}>`;
      cb();
      return true;
    },
  };
  s.line.start();
  const w = writeAround(data as unknown as NodeJS.WritableStream, s.line);
  await new Promise<void>((r) => w.write("a\t1\n", () => r()));
  expect(s.stream.out).toBe("\rbatches 0\r         \r<a\t1\n>\rbatches 0");
});
