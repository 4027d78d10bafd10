/**
 * The plain single-process baseline for the word count: read stdin, split it into lines and the
 * lines into words on `[ \t]+`, count in a Map, print `word<TAB>count`. No scheduler, no
 * serialisation, one process: what drizzle's parallelism has to beat.
 *
 *     bun bench/baseline_wordcount.ts < big.txt > counts.tsv
 *
 * @module
 */

const BLANKS = /[ \t]+/;

export async function countWords(input: AsyncIterable<Uint8Array>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const decoder = new TextDecoder();
  let carry = "";
  const countLine = (line: string) => {
    for (const w of line.split(BLANKS)) {
      if (w.length > 0) counts.set(w, (counts.get(w) ?? 0) + 1);
    }
  };
  for await (const chunk of input) {
    const text = carry + decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    carry = lines.pop()!;
    for (const line of lines) countLine(line);
  }
  countLine(carry + decoder.decode());
  return counts;
}

if (import.meta.main) {
  const counts = await countWords(process.stdin);
  let out = "";
  for (const [w, n] of counts) out += `${w}\t${n}\n`;
  process.stdout.write(out);
}
