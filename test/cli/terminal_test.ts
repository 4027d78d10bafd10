import { expect, test } from "bun:test";
import { Terminal, wantsColor } from "../../cli/terminal.ts";

test("--color always/never win; auto follows NO_COLOR, FORCE_COLOR, then the terminal", () => {
  expect(wantsColor("always", { NO_COLOR: "1" }, false)).toBe(true);
  expect(wantsColor("never", { FORCE_COLOR: "1" }, true)).toBe(false);
  expect(wantsColor("auto", {}, true)).toBe(true);
  expect(wantsColor("auto", {}, false)).toBe(false);
  expect(wantsColor("auto", { NO_COLOR: "1" }, true)).toBe(false);
  expect(wantsColor("auto", { NO_COLOR: "" }, true)).toBe(true);
  expect(wantsColor("auto", { FORCE_COLOR: "1" }, false)).toBe(true);
  expect(wantsColor("auto", { FORCE_COLOR: "0" }, true)).toBe(false);
  expect(wantsColor("auto", { TERM: "dumb" }, true)).toBe(false);
});

test("log lines get a coloured level only when colour is on", () => {
  const stream = {
    out: "",
    isTTY: false,
    write(s: string) {
      this.out += s;
      return true;
    },
  };
  const term = new Terminal(stream as unknown as NodeJS.WriteStream, {});
  term.logLine("drizzle: warn: slow executor\n");
  expect(stream.out).toBe("drizzle: warn: slow executor\n");
  term.setColor("always");
  term.logLine("drizzle: warn: slow executor\n");
  expect(stream.out).toEndWith("drizzle: \x1b[33mwarn\x1b[39m: slow executor\n");
});
