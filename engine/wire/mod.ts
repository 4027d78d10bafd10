/**
 * The wire protocol: length-prefixed msgpack frames over TCP, the typed message unions, and
 * connections that authenticate both ends with a challenge-response on the job's secret.
 * Imports nothing from the rest of the engine; driver/ and executor/ both build on it.
 * @module
 */
export * from "./frame.ts";
export * from "./messages.ts";
export * from "./auth.ts";
export * from "./connection.ts";
