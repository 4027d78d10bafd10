/**
 * Planning: pipeline YAML -> validated spec (zod, with file:line:col errors) -> physical plan
 * (stages cut at shuffles). Pure: no I/O, no processes. May import ops/ (to check expressions).
 * @module
 */
export * from "./spec.ts";
export * from "./errors.ts";
export * from "./duration.ts";
export * from "./plan.ts";
export * from "./load.ts";
export * from "./check_aggregate.ts";
export * from "./check_steps.ts";
export * from "./stages.ts";
