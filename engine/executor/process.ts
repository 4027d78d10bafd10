import { createInterface } from "node:readline";
import { configureLog, log, type LogLevel } from "../log.ts";
import { collectAtQuietPoints, runtimeVersion } from "../runtime/mod.ts";
import { executorId, jobId } from "../wire/mod.ts";
import { Executor } from "./executor.ts";

/**
 * What an executor started ahead of its job (`DRIZZLE_PRESTARTED=1`) gets as its first line of
 * stdin, as JSON: everything the environment gives one started for a known job.
 */
export interface JobLine {
  secret: string;
  /** `DRIZZLE_DRIVER`: host:port. */
  driver: string;
  job: string;
  logLevel?: LogLevel;
}

/**
 * Whether an executor with this environment collects garbage after each run of tasks, with
 * young-generation collections (gc.ts): faster, but the old generation may then hold up to
 * 32 MB of dead buffers, which in the small-footprint setting cost 20-30 MB per executor. So
 * only when the allocator keeps its freed memory anyway (`MIMALLOC_PURGE_DELAY=-1`, what
 * processEnv sets unless the user chose otherwise).
 */
export function quietPointCollections(env: Record<string, string | undefined>): boolean {
  return env.MIMALLOC_PURGE_DELAY === "-1";
}

/**
 * Entry point of an executor process (`drizzle executor`). Where to connect comes from the
 * environment; the job secret comes as the first line of stdin, so it never shows in a process
 * listing. Stdin stays open: when it closes, the driver is gone and the executor exits.
 *
 * An executor started ahead of its job (`DRIZZLE_PRESTARTED=1`: `drizzle run` starts its local
 * executors before it has loaded the pipeline, so that both load at once) learns where to
 * connect from that first line instead (a `JobLine`); if stdin closes first, it was not needed
 * and exits quietly.
 */
export async function executorMain(
  env: Record<string, string | undefined>,
  stdin: NodeJS.ReadableStream,
): Promise<number> {
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`${k} is not set; 'drizzle executor' is started by 'drizzle run'`);
    return v;
  };
  const id = Number(need("DRIZZLE_EXECUTOR_ID"));
  const prestarted = env.DRIZZLE_PRESTARTED === "1";
  configureLog({ prefix: `drizzle executor ${id}`, level: (env.DRIZZLE_LOG_LEVEL as LogLevel) || "warn" });
  // Ctrl-C reaches the whole process group; the driver decides how the job stops (it finishes
  // the current batches, then sends Shutdown), so executors must not die on it.
  process.on("SIGINT", () => {});
  if (quietPointCollections(env)) collectAtQuietPoints();
  const lines = createInterface({ input: stdin });
  const first = await new Promise<string | null>((resolve, reject) => {
    lines.once("line", (l) => resolve(l.trim()));
    lines.once(
      "close",
      () => prestarted ? resolve(null) : reject(new Error("stdin closed before the job secret arrived")),
    );
  });
  if (first === null) return 0;
  let secret = first;
  if (prestarted) {
    const job = parseJobLine(first);
    secret = job.secret;
    env = { ...env, DRIZZLE_DRIVER: job.driver, DRIZZLE_JOB: job.job };
    if (job.logLevel) configureLog({ prefix: `drizzle executor ${id}`, level: job.logLevel });
  }
  // Says which program the driver started, e.g. that a standalone binary started itself.
  log.debug(`started: ${runtimeVersion()}, ${process.execPath}, pid ${process.pid}`);
  const { driverHost, driverPort, listenHost } = addresses(env, need("DRIZZLE_DRIVER"));
  const ex = await Executor.start({
    id: executorId(id),
    job: jobId(need("DRIZZLE_JOB")),
    secret,
    driverHost,
    driverPort,
    listenHost,
    advertiseHost: env.DRIZZLE_ADVERTISE_HOST || undefined,
  });
  // The driver holds our stdin; EOF means it died (even by SIGKILL).
  lines.on("close", () => void ex.stop());
  await ex.done;
  lines.close();
  return 0;
}

function parseJobLine(line: string): JobLine {
  let v: Partial<JobLine>;
  try {
    v = JSON.parse(line);
  } catch {
    v = {};
  }
  if (typeof v?.secret !== "string" || typeof v.driver !== "string" || typeof v.job !== "string") {
    throw new Error("the first line of stdin is not the job this executor was started ahead of");
  }
  return v as JobLine;
}

/**
 * Where the driver is and where to listen for peers. `DRIZZLE_DRIVER` is `host:port`, or `:port`
 * for an executor started over ssh: then the driver is the machine the ssh session came from,
 * and peers reach this one at the address that session came in on (both from `SSH_CONNECTION`,
 * "client-ip client-port server-ip server-port").
 */
export function addresses(env: Record<string, string | undefined>, driver: string) {
  const colon = driver.lastIndexOf(":");
  const driverPort = Number(driver.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(driverPort) || driverPort <= 0) {
    throw new Error(`DRIZZLE_DRIVER=${driver}: expected host:port or :port`);
  }
  const ssh = (env.SSH_CONNECTION ?? "").trim().split(/\s+/);
  let driverHost = driver.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  if (!driverHost) {
    if (ssh.length < 4) throw new Error(`DRIZZLE_DRIVER=${driver} has no host and SSH_CONNECTION is not set`);
    driverHost = ssh[0];
  }
  const listenHost = env.DRIZZLE_LISTEN_HOST || (ssh.length >= 4 ? ssh[2] : "127.0.0.1");
  return { driverHost, driverPort, listenHost };
}
