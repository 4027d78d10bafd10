/**
 * The executor: a worker that runs the tasks the driver assigns. Its local scheduler starts a
 * task when all of its inputs are there; map output is pushed straight to the reducers'
 * executors (drizzle) or kept for them to fetch (bsp). Imports wire/, plan/, ops/, io/; never
 * driver/.
 * @module
 */
export * from "./executor.ts";
export * from "./scheduler.ts";
export * from "./task.ts";
export * from "./process.ts";
