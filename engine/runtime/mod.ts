/**
 * The only code that touches `Bun.*` or `Deno.*`. Everything else uses web standards and the
 * `node:` modules both runtimes provide; what differs between them is asked for here.
 * @module
 */
export * from "./self.ts";
export * from "./gc.ts";
export * from "./pipe.ts";
