/**
 * Identity and order of record values, fixed so that every process agrees: distinct values and
 * topK counts are keyed by a value's JSON text, and ties and window output are ordered by
 * `compareValues`, never by insertion order or a runtime's own sort.
 */

/**
 * The identity of a value for `distinct` and `topK`: its JSON text, so 1 and "1" differ and
 * equal objects are equal. Throws on what JSON cannot hold faithfully (NaN, Infinity, bigint,
 * functions), so such a record is rejected rather than silently merged with `null`.
 */
export function valueId(v: unknown): string {
  if (typeof v === "number" && !Number.isFinite(v)) throw new TypeError(`expected a finite number, got ${v}`);
  const id = JSON.stringify(v);
  if (id === undefined) throw new TypeError(`expected a JSON value, got ${typeof v}`);
  return id;
}

const rank = (v: unknown): number => {
  switch (typeof v) {
    case "boolean":
      return 1;
    case "number":
      return 2;
    case "string":
      return 3;
    default:
      return v === null || v === undefined ? 0 : 4;
  }
};

/**
 * A total order on values: null < false < true < numbers (ascending) < strings (by UTF-16 code
 * units) < arrays and objects (by JSON text). Used for keys and values alike.
 */
export function compareValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return 0;
  if (ra === 4) {
    const ja = JSON.stringify(a);
    const jb = JSON.stringify(b);
    return ja < jb ? -1 : ja > jb ? 1 : 0;
  }
  // Same primitive type: booleans, numbers and strings all compare with < in the order wanted.
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}
