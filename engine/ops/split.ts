/**
 * The `split` step: a text cut into the runs of characters between separators (empty pieces
 * never appear), each piece a record. Pieces can also be handed on as positions in the text
 * with their hash, never made into strings of their own: a keyed count of pieces (a word count)
 * then looks each one up by its characters and makes a string only for a key it has not seen.
 * Reading a piece that `String.prototype.split` made costs far more than the lookup itself,
 * because the runtime materialises each such string when it is first read.
 */

/** Receives one piece: text[start, end) and the FNV-1a hash of those characters (as `hashKey`). */
export type PieceSink = (text: string, start: number, end: number, hash: number) => void;

/** Tests a UTF-16 code unit against the separators. */
export function separatorTest(on: string): (c: number) => boolean {
  const ascii = new Uint8Array(128);
  const other = new Set<number>();
  for (let i = 0; i < on.length; i++) {
    const c = on.charCodeAt(i);
    if (c < 128) ascii[c] = 1;
    else other.add(c);
  }
  if (other.size === 0) return (c) => c < 128 && ascii[c] === 1;
  return (c) => (c < 128 ? ascii[c] === 1 : other.has(c));
}

/** Calls `sink` for every piece of `text`, in order. */
export function splitPieces(text: string, isSeparator: (c: number) => boolean, sink: PieceSink): void {
  const n = text.length;
  let start = -1;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (isSeparator(c)) {
      if (start >= 0) {
        sink(text, start, i, h);
        start = -1;
      }
    } else {
      if (start < 0) {
        start = i;
        h = 0x811c9dc5 | 0;
      }
      h = Math.imul(h ^ c, 0x01000193);
    }
  }
  if (start >= 0) sink(text, start, n, h);
}

/** The text a split step cuts, or a TypeError for anything but a string. */
export function splitText(v: unknown): string {
  if (typeof v !== "string") throw new TypeError(`split: expected a string, got ${v === null ? "null" : typeof v}`);
  return v;
}
