/**
 * Operators: compiled expressions, fused narrow steps (map/filter/flatMap/parse/join/udf), key
 * partitioning, aggregations (map-side combine, reduce-side keyed state) and windows. Pure
 * computation on records; imports only plan/ types. The two loaders that fill per-process
 * registries before tasks run are the exception: `loadUdfs` (imports modules) and `loadTables`
 * (reads through the file reader its caller hands in). Used by executors and by the reference.
 * @module
 */
export * from "./expr.ts";
export * from "./reject.ts";
export * from "./values.ts";
export * from "./narrow.ts";
export * from "./parse.ts";
export * from "./join.ts";
export * from "./udf.ts";
export * from "./partition.ts";
export * from "./aggregate.ts";
export * from "./window.ts";
