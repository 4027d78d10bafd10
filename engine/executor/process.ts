import { createInterface } from "node:readline";
import { configureLog, type LogLevel } from "../log.ts";
import { executorId, jobId } from "../wire/mod.ts";
import { Executor } from "./executor.ts";

/**
 * Entry point of an executor process (`drizzle executor`). Where to connect comes from the
 * environment; the job secret comes as the first line of stdin, so it never shows in a process
 * listing. Stdin stays open: when it closes, the driver is gone and the executor exits.
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
  configureLog({ prefix: `drizzle executor ${id}`, level: (env.DRIZZLE_LOG_LEVEL as LogLevel) || "warn" });
  const { driverHost, driverPort, listenHost } = addresses(env, need("DRIZZLE_DRIVER"));
  // Ctrl-C reaches the whole process group; the driver decides how the job stops (it finishes
  // the current batches, then sends Shutdown), so executors must not die on it.
  process.on("SIGINT", () => {});
  const lines = createInterface({ input: stdin });
  const secret = await new Promise<string>((resolve, reject) => {
    lines.once("line", (l) => resolve(l.trim()));
    lines.once("close", () => reject(new Error("stdin closed before the job secret arrived")));
  });
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
