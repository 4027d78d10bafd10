/**
 * Sources and sinks: cutting input bytes into micro-batches of whole lines, decoding records
 * per format, formatting output records, and writing committed output. Imports plan/ and ops/.
 * @module
 */
export * from "./batcher.ts";
export * from "./decode.ts";
export * from "./encode.ts";
export * from "./sink.ts";
export * from "./source.ts";
