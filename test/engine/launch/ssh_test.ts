import { describe, expect, test } from "bun:test";
import { addresses } from "../../../engine/executor/process.ts";
import { parseHost } from "../../../engine/launch/ssh.ts";
import { shellQuote } from "../../../engine/launch/ship.ts";

describe("parseHost", () => {
  test("host, user@host, host:port, [v6]:port", () => {
    expect(parseHost("node1")).toEqual({ destination: "node1", port: undefined });
    expect(parseHost("ana@node1.example")).toEqual({ destination: "ana@node1.example", port: undefined });
    expect(parseHost("10.0.0.5:2222")).toEqual({ destination: "10.0.0.5", port: 2222 });
    expect(parseHost("root@[::1]:22")).toEqual({ destination: "root@::1", port: 22 });
  });
  test("rejects what ssh would misread", () => {
    for (const bad of ["", "a b", "node:99999", "node:", "-oProxyCommand=x"]) {
      expect(() => parseHost(bad), bad).toThrow();
    }
  });
});

describe("executor addresses", () => {
  test("host:port is used as given; listening defaults to loopback", () => {
    expect(addresses({}, "127.0.0.1:4000")).toEqual({
      driverHost: "127.0.0.1",
      driverPort: 4000,
      listenHost: "127.0.0.1",
    });
    expect(addresses({}, "[::1]:4000").driverHost).toBe("::1");
  });
  test("over ssh, :port means the driver is where the session came from; peers use its other end", () => {
    const env = { SSH_CONNECTION: "10.0.0.1 51000 10.0.0.7 22" };
    expect(addresses(env, ":4000")).toEqual({ driverHost: "10.0.0.1", driverPort: 4000, listenHost: "10.0.0.7" });
    expect(addresses({ ...env, DRIZZLE_LISTEN_HOST: "0.0.0.0" }, ":4000").listenHost).toBe("0.0.0.0");
  });
  test("a driver address without host outside ssh, or without port, is an error", () => {
    expect(() => addresses({}, ":4000")).toThrow(/SSH_CONNECTION/);
    expect(() => addresses({}, "localhost")).toThrow(/host:port/);
  });
});

test("shellQuote keeps words intact through a remote shell", () => {
  expect(shellQuote("abc-1.2/x")).toBe("abc-1.2/x");
  expect(shellQuote("it's $HOME")).toBe(`'it'\\''s $HOME'`);
});
