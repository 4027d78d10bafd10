/**
 * Where a process's CPU goes, from `perf` samples, with the JIT's functions named: the runtime
 * writes a JIT dump (`BUN_JSC_useJITDump=1`) that says which function each piece of compiled
 * code is, and this matches every sample against it. Bun's own profiler samples wall time and
 * charges waits and page faults to whatever call was running (see bench/README "Profiles");
 * `perf` counts CPU time only, the kernel's included.
 *
 *     BUN_JSC_useJITDump=1 BUN_JSC_jitDumpDirectory=/tmp/jd YSB_CAMPAIGNS=... \
 *       perf record -g -k 1 -F 999 -o /tmp/perf.data -- bin/drizzle run pipelines/ysb.yaml -q < events.jsonl
 *     bun bench/perf_jit.ts /tmp/perf.data /tmp/jd [PID]     # without PID: a line per process
 *
 * For a process it prints the share of samples by what was running (a JIT function and its tier,
 * the Bun binary, a kernel function), then the samples in the Bun binary or the kernel by the
 * nearest JavaScript function up the stack (with `-g`): which JavaScript called the native work.
 * Names are the runtime's: `name#hash`, `#hash` for an anonymous function.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

interface Code {
  start: number;
  end: number;
  name: string;
}

/** The code loads of one JIT dump file (format: the Linux perf jitdump specification). */
export function readJitDump(bytes: Uint8Array): Code[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Code[] = [];
  const headerSize = v.getUint32(8, true);
  for (let at = headerSize; at + 16 <= bytes.length;) {
    const id = v.getUint32(at, true);
    const size = v.getUint32(at + 4, true);
    if (size === 0) break;
    if (id === 0) {
      // JIT_CODE_LOAD: pid, tid, vma, code address, code size, index, then the name.
      const start = Number(v.getBigUint64(at + 32, true));
      const length = Number(v.getBigUint64(at + 40, true));
      const nameAt = at + 56;
      const nameEnd = bytes.indexOf(0, nameAt);
      const name = new TextDecoder().decode(bytes.subarray(nameAt, nameEnd)).replace(/^JSC-(\w+): (.*)$/, "$2 ($1)");
      out.push({ start, end: start + length, name });
    }
    at += size;
  }
  return out.sort((a, b) => a.start - b.start);
}

/** The function whose code holds `ip`, or undefined. */
function find(codes: Code[], ip: number): string | undefined {
  let lo = 0;
  let hi = codes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (codes[mid].start <= ip) lo = mid + 1;
    else hi = mid - 1;
  }
  const c = codes[hi];
  return c && ip < c.end ? c.name : undefined;
}

function top(counts: Map<string, number>, total: number, n: number): string[] {
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, c]) =>
    `${(100 * c / total).toFixed(1).padStart(5)}%  ${k}`
  );
}

function perfScript(data: string, pid?: string): string {
  const p = spawnSync("perf", ["script", "-i", data, "-F", "pid,ip,sym,dso", ...(pid ? ["--pid", pid] : [])], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  if (p.status !== 0) throw new Error(`perf script failed: ${p.stderr || p.error}`);
  return p.stdout;
}

if (import.meta.main) {
  const [data, dir, pid] = process.argv.slice(2);
  if (!data || !dir) {
    console.error("usage: bun bench/perf_jit.ts PERF_DATA JIT_DUMP_DIR [PID]");
    process.exit(2);
  }
  // Dump files are named jit-<thread>-<pid>.dump.
  const dumps = readdirSync(dir).filter((f) => f.endsWith(".dump"));
  if (!pid) {
    const samples = new Map<string, number>();
    for (const block of perfScript(data).split("\n\n")) {
      const p = block.trim().split(/\s+/)[0];
      if (p) samples.set(p, (samples.get(p) ?? 0) + 1);
    }
    for (const [p, n] of [...samples].sort((a, b) => b[1] - a[1])) {
      const cmd = (() => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ");
        } catch {
          return dumps.some((f) => f.endsWith(`-${p}.dump`)) ? "(JIT dump present)" : "";
        }
      })();
      console.log(`${p}\t${n} samples\t${cmd}`);
    }
    process.exit(0);
  }
  const codes = dumps.filter((f) => f.endsWith(`-${pid}.dump`)).flatMap((f) =>
    readJitDump(readFileSync(`${dir}/${f}`))
  );
  const leaves = new Map<string, number>();
  const callers = new Map<string, number>();
  let total = 0;
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const block of perfScript(data, pid).split("\n\n")) {
    // A sample: a header line, then a frame per line (address, symbol, binary), innermost first.
    const frames = block.trim().split("\n").slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length > 1);
    if (frames.length === 0) continue;
    total++;
    const [ip, ...rest] = frames[0];
    const jit = find(codes, parseInt(ip, 16));
    if (jit) {
      bump(leaves, jit);
      continue;
    }
    const where = rest.join(" ");
    const leaf = where.includes("kernel")
      ? `kernel ${rest[0]}`
      : where.includes("bun") || where.includes("[unknown]")
      ? "Bun binary"
      : where.replace(/\+0x[0-9a-f]+/, "");
    bump(leaves, leaf);
    let caller = "(no JavaScript on the stack)";
    for (const f of frames.slice(1)) {
      const name = find(codes, parseInt(f[0], 16));
      if (name) {
        caller = name;
        break;
      }
    }
    bump(callers, `${leaf.startsWith("kernel") ? "kernel" : leaf} <- ${caller}`);
  }
  console.log(`process ${pid}: ${total} samples, ${codes.length} pieces of JIT code`);
  console.log("by what was running:");
  for (const l of top(leaves, total, 30)) console.log(l);
  console.log("native samples by the nearest JavaScript caller:");
  for (const l of top(callers, total, 25)) console.log(l);
}
