/**
 * Pipeline expressions: a JavaScript expression over one named input (`as`), compiled once per
 * process into a plain function. Compilation errors surface at validation time, with the step
 * that wrote them; the function itself never sees more than its one argument.
 */

export type Compiled = (input: unknown) => unknown;

const cache = new Map<string, Compiled>();

/** Compiles `expr` as a function of the identifier `as`. Throws SyntaxError on a bad expression. */
export function compileExpression(expr: string, as: string): Compiled {
  const cacheKey = `${as}\u0000${expr}`;
  let fn = cache.get(cacheKey);
  if (!fn) {
    // The newline before ")" lets an expression end in a // comment.
    fn = new Function(as, `"use strict"; return (${expr}\n);`) as Compiled;
    cache.set(cacheKey, fn);
  }
  return fn;
}

/** The syntax error of an expression, or null when it compiles. */
export function expressionError(expr: string, as: string): string | null {
  try {
    new Function(as, `"use strict"; return (${expr}\n);`);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
