/**
 * Writing bulk data to a TCP peer that reads slower than it is written, two ways, CPU of the
 * writer side by side: handing the socket up to 64 MB ahead of what it has sent (the runtime
 * then copies the rest into its own buffer and moves it along on every partial write), and
 * holding writes back until "drain" (what `Connection` does: queued frames wait by reference).
 *
 *     bun bench/socket.ts [MB=400] [reps=3]
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createConnection } from "node:net";
import { fmtSpread, ratio, spread } from "./stats.ts";

const MB = Number(process.argv[2] ?? 400);
const REPS = Number(process.argv[3] ?? 3);
const CHUNK = 1 << 20;

/** A reader in its own process that takes a little time per chunk, as a busy executor would. */
const READER = `
const { createServer } = require("node:net");
const s = createServer((c) => {
  c.on("data", () => { const t = performance.now(); while (performance.now() - t < 0.05); });
  c.on("end", () => process.exit(0));
});
s.listen(0, "127.0.0.1", () => console.log(s.address().port));
`;

async function once(mode: "ahead" | "drain"): Promise<{ cpuMs: number; wallMs: number }> {
  const reader = spawn(process.execPath, ["-e", READER], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((r) => reader.stdout!.once("data", (c: Buffer) => r(Number(String(c)))));
  const exited = new Promise((r) => reader.on("exit", r));
  const data = new Uint8Array(CHUNK).fill(65);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const socket = createConnection(port, "127.0.0.1", async () => {
      for (let sent = 0; sent < MB; sent++) {
        const ok = socket.write(data);
        const wait = mode === "drain" ? !ok : socket.writableLength > 64 << 20;
        if (wait) await new Promise((r) => socket.once("drain", r));
      }
      socket.end(() => resolve());
    });
  });
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await exited;
  return { cpuMs: (c.user + c.system) / 1000, wallMs };
}

const runs: Record<string, { cpuMs: number; wallMs: number }[]> = { ahead: [], drain: [] };
for (let i = 0; i < REPS; i++) {
  for (const mode of ["ahead", "drain"] as const) runs[mode].push(await once(mode));
}
const cpu = (m: string) => runs[m].map((r) => r.cpuMs);
const wall = (m: string) => runs[m].map((r) => r.wallMs);
console.log(`${MB} MB to a slower reader, the writer's CPU (median and range of ${REPS}):`);
for (const [m, what] of [["ahead", "64 MB ahead   "], ["drain", "wait for drain"]]) {
  console.log(`  ${what}: ${fmtSpread(spread(cpu(m)), "ms")} CPU, ${fmtSpread(spread(wall(m)), "ms")} wall`);
}
console.log(`  ahead / drain, CPU: ${fmtSpread(ratio(cpu("ahead"), cpu("drain")))}`);
