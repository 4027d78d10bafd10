/**
 * Starting executors: in-process (tests), local child processes (default), and over ssh.
 * Every launcher implements the driver's Launcher contract; this is the one folder that may
 * import both driver/ (the contract) and executor/ (to run executors in-process).
 * @module
 */
export * from "./in_process.ts";
export * from "./local.ts";
export * from "./prestart.ts";
export * from "./ssh.ts";
