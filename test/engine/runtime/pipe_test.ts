import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { PIPE_BUFFER_BYTES } from "../../../engine/runtime/pipe.ts";
import { DRIZZLE, ROOT } from "../../support/cli.ts";

/** Runs `growPipe(0)` in a process whose stdin is what `stdin` (a shell redirection or pipe) makes it. */
function growStdin(shell: string): unknown {
  const code =
    `import { growPipe } from "${ROOT}engine/runtime/pipe.ts"; console.log(JSON.stringify(await growPipe(0)));`;
  const r = spawnSync("sh", ["-c", shell.replace("CMD", `"$0" -e '${code}'`), process.execPath], { encoding: "utf8" });
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

test.skipIf(process.platform !== "linux")("a pipe on stdin is grown to 1 MB; a file on stdin is left alone", () => {
  const grown = growStdin("echo x | CMD") as { before: number; after: number };
  expect(grown.after).toBe(PIPE_BUFFER_BYTES);
  expect(grown.before).toBeLessThan(grown.after);
  expect(growStdin("CMD < /dev/null")).toBeNull();
});

test.skipIf(process.platform !== "linux")("drizzle run grows the pipe it reads and reads it whole", () => {
  const dir = mkdtempSync(`${tmpdir()}/pipe-`);
  // 3 MB of words through the pipe: more than the pipe holds, before and after growing it.
  const text = Array.from({ length: 200_000 }, (_, i) => `w${i % 1000} w${i % 7}\n`).join("");
  writeFileSync(`${dir}/in.txt`, text);
  const run = (shell: string) =>
    spawnSync("sh", ["-c", shell], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, D: DRIZZLE, F: `${dir}/in.txt` },
    });
  const piped = run(`cat "$F" | "$D" --log-level debug run pipelines/wordcount.yaml --workers 2`);
  expect(piped.status).toBe(0);
  expect(piped.stderr).toContain(`stdin is a pipe: its buffer grown from`);
  expect(piped.stderr).toContain(`to ${PIPE_BUFFER_BYTES} bytes`);
  const want = new Map<string, number>();
  for (const w of text.split(/\s+/).filter(Boolean)) want.set(w, (want.get(w) ?? 0) + 1);
  const got = new Map(piped.stdout.trim().split("\n").map((l) => l.split("\t")).map(([w, n]) => [w, Number(n)]));
  expect(got).toEqual(want);
  const fromFile = run(`"$D" --log-level debug run pipelines/wordcount.yaml --workers 2 < "$F"`);
  expect(fromFile.status).toBe(0);
  expect(fromFile.stderr).not.toContain("stdin is a pipe");
  expect(fromFile.stdout.split("\n").sort()).toEqual(piped.stdout.split("\n").sort());
  rmSync(dir, { recursive: true, force: true });
});

test.skipIf(process.platform !== "linux")(
  "--pipe-buffer (or DRIZZLE_PIPE_BUFFER) sets the size, keep leaves the pipe alone, a bad value exits 2",
  () => {
    const run = (args: string, env: Record<string, string> = {}) =>
      spawnSync("sh", [
        "-c",
        `printf 'a b a\\n' | "$D" --log-level debug run pipelines/wordcount.yaml --workers 1 ${args}`,
      ], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, D: DRIZZLE, ...env },
      });
    const sized = run("--pipe-buffer 256k");
    expect(sized.status).toBe(0);
    expect(sized.stderr).toContain(`to ${256 << 10} bytes`);
    expect(sized.stdout.trim().split("\n").sort()).toEqual(["a\t2", "b\t1"]);
    const fromEnv = run("", { DRIZZLE_PIPE_BUFFER: "512k" });
    expect(fromEnv.stderr).toContain(`to ${512 << 10} bytes`);
    const kept = run("--pipe-buffer keep", { DRIZZLE_PIPE_BUFFER: "512k" });
    expect(kept.status).toBe(0);
    expect(kept.stderr).not.toContain("stdin is a pipe");
    expect(kept.stdout.trim().split("\n").sort()).toEqual(["a\t2", "b\t1"]);
    const bad = run("--pipe-buffer lots");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--pipe-buffer");
    expect(run("--pipe-buffer 4GB").status).toBe(2); // past what the call can carry
    // More than an unprivileged process may have: grown as far as the system allows, not left small.
    const limit = Number(readFileSync("/proc/sys/fs/pipe-max-size", "utf8"));
    const over = run(`--pipe-buffer ${4 * limit}`);
    expect(over.status).toBe(0);
    const grownTo = Number(/grown from \d+ to (\d+) bytes/.exec(over.stderr)?.[1]);
    expect(grownTo).toBeGreaterThanOrEqual(limit);
  },
);
