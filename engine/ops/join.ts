import type { JoinStepPlan, PhysicalPlan } from "../plan/plan.ts";
import { splitCsv } from "./parse.ts";

/**
 * The `join` step's static tables: parsed once per process, kept in a registry, and looked up
 * synchronously by the fused step. Loading reads files, which ops/ does not do itself: the
 * process that runs tasks calls `loadTables(plan, readText)` with its file reader first.
 *
 * @example
 * ```ts
 * // readFile from node's fs/promises, in the executor (ops/ itself does no I/O):
 * await loadTables(plan, (path) => readFile(path, "utf8")); // before the first task runs
 * ```
 */

/** A table row without its key column: the columns a match adds to the record. */
export type Row = Record<string, unknown>;

/** Rows by key (as text). The first row with a key wins. */
export class JoinTable {
  readonly #rows = new Map<string, Row>();

  constructor(readonly keyColumn: string) {}

  get size(): number {
    return this.#rows.size;
  }

  /** Adds a row (key column included); a key already present keeps its first row. */
  add(row: Row): void {
    const key = lookupKey(row[this.keyColumn]);
    if (key === undefined || this.#rows.has(key)) return;
    const rest: Row = {};
    for (const c in row) if (c !== this.keyColumn) rest[c] = row[c];
    this.#rows.set(key, rest);
  }

  /** The row whose key equals `value` compared as text (7 finds "7"); undefined if none. */
  get(value: unknown): Row | undefined {
    const key = lookupKey(value);
    return key === undefined ? undefined : this.#rows.get(key);
  }
}

/** Keys compare as text: strings as they are, numbers and booleans as written, null never matches. */
export function lookupKey(v: unknown): string | undefined {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
    case "boolean":
    case "bigint":
      return String(v);
    case "object":
      return v === null ? undefined : JSON.stringify(v);
    default:
      return undefined;
  }
}

/** Parses a table file's text. Throws with the line number on anything malformed. */
export function parseTable(text: string, format: JoinStepPlan["format"], keyColumn: string): JoinTable {
  const table = new JoinTable(keyColumn);
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  if (format === "jsonl") {
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw new Error(`line ${i + 1}: ${(e as Error).message}`);
      }
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`line ${i + 1}: expected an object`);
      if (!Object.hasOwn(v, keyColumn)) throw new Error(`line ${i + 1}: no key column '${keyColumn}'`);
      table.add(v as Row);
    });
    return table;
  }
  const split = (line: string, n: number) => {
    try {
      return format === "tsv" ? line.split("\t") : splitCsv(line);
    } catch (e) {
      throw new Error(`line ${n}: ${(e as Error).message}`);
    }
  };
  const first = lines.findIndex((l) => l !== "");
  if (first < 0) throw new Error("the table is empty: expected a header line");
  const header = split(lines[first], first + 1).map((h) => h.trim());
  if (!header.includes(keyColumn)) {
    throw new Error(`the header has no key column '${keyColumn}' (columns: ${header.join(", ")})`);
  }
  for (let i = first + 1; i < lines.length; i++) {
    if (lines[i] === "") continue;
    const fields = split(lines[i], i + 1);
    if (fields.length !== header.length) {
      throw new Error(`line ${i + 1}: expected ${header.length} fields, got ${fields.length}`);
    }
    const row: Row = {};
    for (let c = 0; c < header.length; c++) row[header[c]] = fields[c];
    table.add(row);
  }
  return table;
}

const tables = new Map<string, JoinTable>();
const tableId = (s: Pick<JoinStepPlan, "file" | "format" | "key">) => `${s.format}\u0000${s.key}\u0000${s.file}`;

/** Reads a file's text (the caller's file system: ops/ does no I/O of its own). */
export type ReadText = (path: string) => Promise<string> | string;

/**
 * Loads every table the plan's join steps use into this process's registry; a table already
 * loaded (same file, format and key) is not read again. Rejects with the step's label on a
 * file that cannot be read or parsed.
 */
export async function loadTables(plan: PhysicalPlan, readText: ReadText): Promise<void> {
  for (const step of plan.stages.flatMap((s) => s.steps)) {
    if (step.kind !== "join" || tables.has(tableId(step))) continue;
    let text: string;
    try {
      text = await readText(step.file);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new Error(`${step.label}: cannot read table ${step.file}: ${why}`);
    }
    try {
      tables.set(tableId(step), parseTable(text, step.format, step.key));
    } catch (e) {
      throw new Error(`${step.label}: table ${step.file}: ${(e as Error).message}`);
    }
  }
}

/** Puts a table in the registry directly (tests, or a table shipped by other means). */
export function registerTable(step: Pick<JoinStepPlan, "file" | "format" | "key">, table: JoinTable): void {
  tables.set(tableId(step), table);
}

/** The loaded table of a join step. Throws if loadTables has not loaded it in this process. */
export function tableFor(step: JoinStepPlan): JoinTable {
  const t = tables.get(tableId(step));
  if (!t) {
    throw new Error(
      `${step.label}: table ${step.file} is not loaded in this process (call loadTables(plan, readText) first)`,
    );
  }
  return t;
}

/** Forgets every loaded table (tests). */
export function clearTables(): void {
  tables.clear();
}

/**
 * The record a match produces: the record's fields plus the row's (the row wins on a clash);
 * a record that is not a plain object becomes `{ value: record, ...row }`.
 */
export function joinRecord(record: unknown, row: Row): Record<string, unknown> {
  if (record !== null && typeof record === "object" && !Array.isArray(record)) {
    return { ...(record as Record<string, unknown>), ...row };
  }
  return { value: record, ...row };
}
