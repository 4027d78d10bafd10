/**
 * The driver: one event loop that cuts input into micro-batches, places tasks, schedules
 * groups of batches (drizzle) or single stages (bsp), and commits output exactly once in batch
 * order. Imports wire/, plan/, ops/, io/; never executor/ (executors are reached only through
 * the wire and started through a Launcher).
 * @module
 */
export * from "./driver.ts";
export * from "./launcher.ts";
export * from "./placement.ts";
export * from "./commit.ts";
export * from "./checkpoints.ts";
