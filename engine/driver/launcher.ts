/**
 * What the driver needs from whoever starts executors: start n of them pointed at the driver's
 * address, and stop them all. Implementations live in engine/launch (in-process, local
 * processes, ssh); the driver never knows which one it has.
 */
export interface LaunchSpec {
  count: number;
  job: string;
  /** Given to executors through stdin or the environment, never on a command line. */
  secret: string;
  driverHost: string;
  driverPort: number;
}

export interface Launcher {
  readonly name: string;
  /** Where the driver must listen for its executors to reach it (default: loopback). */
  readonly listenHost?: string;
  start(spec: LaunchSpec): Promise<void>;
  /** Stops every executor it started (gracefully if they have not exited, then by force). */
  stop(): Promise<void>;
  /** Starts one more executor with this id (a replacement for a lost one), if it can. */
  add?(executor: number): Promise<void>;
  /** Kills one executor at once (it was declared lost: it must not come back). */
  kill?(executor: number): Promise<void>;
  /** Called by the launcher when an executor process exits on its own (id, exit description). */
  onExit?: (executor: number, how: string) => void;
}
