import { expect, test } from "bun:test";
import { readJitDump } from "../../bench/perf_jit.ts";

/** A JIT dump as the runtime writes it: a 40-byte header, then records (here code loads). */
function dump(loads: Array<{ address: number; size: number; name: string }>): Uint8Array {
  const header = new Uint8Array(40);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, 0x4a695444, true); // "JiTD"
  hv.setUint32(4, 1, true);
  hv.setUint32(8, 40, true);
  const records = loads.map(({ address, size, name }) => {
    const text = new TextEncoder().encode(name + "\0");
    const r = new Uint8Array(56 + text.length + size);
    const v = new DataView(r.buffer);
    v.setUint32(0, 0, true); // JIT_CODE_LOAD
    v.setUint32(4, r.length, true);
    v.setBigUint64(24, BigInt(address), true); // vma
    v.setBigUint64(32, BigInt(address), true); // code address
    v.setBigUint64(40, BigInt(size), true);
    r.set(text, 56);
    return r;
  });
  // A record of another kind (code move, id 1) is skipped by its size.
  const other = new Uint8Array(24);
  new DataView(other.buffer).setUint32(0, 1, true);
  new DataView(other.buffer).setUint32(4, 24, true);
  return new Uint8Array(Buffer.concat([header, records[0], other, ...records.slice(1)]));
}

test("code loads of a JIT dump: address range and name with its tier, sorted, other records skipped", () => {
  const codes = readJitDump(dump([
    { address: 0x7f0000002000, size: 64, name: "JSC-FTL: scan#AbC123" },
    { address: 0x7f0000001000, size: 32, name: "JSC-Baseline: #XyZ789" },
  ]));
  expect(codes).toEqual([
    { start: 0x7f0000001000, end: 0x7f0000001020, name: "#XyZ789 (Baseline)" },
    { start: 0x7f0000002000, end: 0x7f0000002040, name: "scan#AbC123 (FTL)" },
  ]);
});
