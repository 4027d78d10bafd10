/**
 * Operators: compiled expressions, fused narrow steps (map/filter/flatMap), key partitioning,
 * and aggregations (map-side combine, reduce-side keyed state). Pure computation on records;
 * imports only plan/ types. Used by executors and by the single-process reference.
 * @module
 */
export * from "./expr.ts";
export * from "./reject.ts";
export * from "./narrow.ts";
export * from "./partition.ts";
export * from "./aggregate.ts";
