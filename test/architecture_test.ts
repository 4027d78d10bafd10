/**
 * The dependency rules of the tree, checked on the source: driver/ and executor/ never import
 * each other, plan/ and ops/ do no I/O, and only runtime/ touches Bun or Deno globals.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const root = new URL("../", import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

function imports(file: string): string[] {
  const src = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of src.matchAll(/(?:import|export)[^"']*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
    const spec = m[1] ?? m[2];
    out.push(spec.startsWith(".") ? relative(root, resolve(join(file, ".."), spec)) : spec);
  }
  return out;
}

const engine = files(join(root, "engine"));
const folderOf = (f: string) => relative(join(root, "engine"), f).split("/")[0];

test("every engine folder opens with a mod.ts", () => {
  const folders = new Set(engine.map(folderOf).filter((f) => !f.endsWith(".ts")));
  for (const f of folders) expect(readFileSync(join(root, "engine", f, "mod.ts"), "utf8")).toMatch(/^\/\*\*/);
  expect(folders.size).toBeGreaterThanOrEqual(8);
});

test("driver/ and executor/ never import each other", () => {
  for (const f of engine) {
    const folder = folderOf(f);
    if (folder !== "driver" && folder !== "executor") continue;
    const other = folder === "driver" ? "engine/executor/" : "engine/driver/";
    for (const i of imports(f)) expect(`${relative(root, f)} -> ${i}`).not.toContain(`-> ${other}`);
  }
});

test("plan/ and ops/ import no I/O, processes or other engine layers", () => {
  for (const f of engine) {
    if (!["plan", "ops"].includes(folderOf(f))) continue;
    for (const i of imports(f)) {
      expect(`${relative(root, f)} -> ${i}`).not.toMatch(
        /-> (node:(fs|net|child_process)|engine\/(driver|executor|io|wire|launch))/,
      );
    }
  }
});

test("only runtime/ touches Bun.* or Deno.*", () => {
  for (const f of [...engine, ...files(join(root, "cli"))]) {
    if (folderOf(f) === "runtime") continue;
    const src = readFileSync(f, "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "");
    expect(`${relative(root, f)}: ${/\b(Bun|Deno)\.\w/.test(src)}`).toBe(`${relative(root, f)}: false`);
  }
});

test("engine and cli take msgpackr from its plain entry points, never the one loading a native addon", () => {
  // "msgpackr" itself loads msgpackr-extract (a native string decoder): about 40 ms of CPU in every
  // process and heartbeat thread at start, and the data path measured no faster with it.
  for (const f of [...engine, ...files(join(root, "cli"))]) {
    for (const i of imports(f)) {
      if (i.startsWith("msgpackr")) expect(`${relative(root, f)} -> ${i}`).toMatch(/-> msgpackr\/(pack|unpack)$/);
    }
  }
});

test("executor entries ignore Ctrl-C before they load the engine", () => {
  // Executors start beside the driver, in its process group: one still loading the engine when
  // Ctrl-C comes would die of it, instead of the driver finishing its batches.
  const entry = readFileSync(join(root, "cli/executor_main.ts"), "utf8");
  const staticImports = [...entry.matchAll(/^import\s+(type\s+)?[^;]*;/gm)];
  expect(staticImports.length).toBeGreaterThan(0);
  for (const m of staticImports) expect(m[0]).toMatch(/^import\s+type\s/);
  expect(entry.indexOf("ignoreInterrupts();")).toBeLessThan(entry.indexOf("await runExecutor()"));
  // A standalone binary's executors come through cli/main.ts: it ignores Ctrl-C before loading
  // the command line (which loads the executor only when its command runs).
  const main = readFileSync(join(root, "cli/main.ts"), "utf8");
  const ignore = main.search(/if \(process\.argv\[2\] === "executor"\) process\.on\("SIGINT"/);
  expect(ignore).toBeGreaterThan(0);
  expect(ignore).toBeLessThan(main.indexOf('await import("./program.ts")'));
  const command = readFileSync(join(root, "cli/commands/executor.ts"), "utf8");
  expect(command).not.toMatch(/^import[^;]*executor_main/m);
});
