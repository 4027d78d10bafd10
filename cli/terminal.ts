import { Chalk, type ChalkInstance } from "chalk";

/** `--color`: auto (colour on a terminal unless NO_COLOR is set), always, never. */
export type ColorWhen = "auto" | "always" | "never";

/** What a status line needs from the terminal to stay out of the way of other lines. */
export interface StatusHost {
  /** Erases the status line, if it is shown, so a whole line can be written. */
  hide(): void;
  /** Draws it again after that line. */
  show(): void;
}

/**
 * Whether stderr gets colour. `--color always|never` wins; in auto mode NO_COLOR (any
 * non-empty value, see no-color.org) turns it off, FORCE_COLOR (other than 0) turns it on,
 * otherwise a terminal that is not "dumb" gets colour.
 */
export function wantsColor(when: ColorWhen, env: Record<string, string | undefined>, isTTY: boolean): boolean {
  if (when !== "auto") return when === "always";
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "") return env.FORCE_COLOR !== "0";
  return isTTY && env.TERM !== "dumb";
}

/**
 * stderr as the CLI uses it: human text only (stdout carries data and nothing else), coloured
 * or not, and at most one live status line that every other line is written around.
 *
 * Chalk's default instance is not used: it decides from `process.argv` (where it would read
 * our own `--color never` as "force colour") and ignores NO_COLOR; the level is set here.
 */
export class Terminal {
  /** Styles for stderr text; plain strings when colour is off. */
  style: ChalkInstance;
  #status: StatusHost | null = null;

  constructor(
    readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number } = process.stderr,
    readonly env: Record<string, string | undefined> = process.env,
  ) {
    this.style = new Chalk({ level: 0 });
    this.setColor("auto");
  }

  get isTTY(): boolean {
    return this.stream.isTTY === true;
  }

  /** Width to fit a status line in, if known (a pipe, or a pseudo-terminal without a size, has none). */
  get columns(): number | undefined {
    const c = this.stream.columns;
    return typeof c === "number" && c > 0 ? c : undefined;
  }

  get colorEnabled(): boolean {
    return this.style.level > 0;
  }

  setColor(when: ColorWhen): void {
    this.style = new Chalk({ level: wantsColor(when, this.env, this.isTTY) ? 1 : 0 });
  }

  /** Writes text as is (the status line draws itself with this). */
  write(text: string): void {
    this.stream.write(text);
  }

  /** Writes one whole line (newline added) without tearing the status line. */
  line(text: string): void {
    this.#status?.hide();
    this.stream.write(text + "\n");
    this.#status?.show();
  }

  /** `drizzle: error: ...`, red when colour is on. */
  error(message: string): void {
    this.line(`drizzle: ${this.style.red.bold("error:")} ${message}`);
  }

  /** A log line from engine/log.ts (`prefix: level: message\n`), with the level coloured. */
  logLine(line: string): void {
    const text = line.endsWith("\n") ? line.slice(0, -1) : line;
    const m = /^([^:]*: )(warn|error|debug)(: )/.exec(text);
    if (!m || !this.colorEnabled) return this.line(text);
    const paint = m[2] === "error" ? this.style.red : m[2] === "warn" ? this.style.yellow : this.style.dim;
    this.line(m[1] + paint(m[2]) + text.slice(m[1].length + m[2].length));
  }

  attachStatus(status: StatusHost | null): void {
    this.#status = status;
  }
}
