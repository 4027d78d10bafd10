import { Writable } from "node:stream";
import { clearTimeout, setTimeout } from "node:timers";
import type { StatusHost, Terminal } from "./terminal.ts";

export interface StatusLineOptions {
  /** Least time between two redraws (100 ms: at most 10 a second). */
  minIntervalMs?: number;
  /** Redraw at least this often while nothing happens, so rates fall to 0 on idle input. */
  idleRedrawMs?: number;
  now?: () => number;
}

/**
 * One line on stderr, redrawn in place with `\r` as things change. Updates are throttled: the
 * first one draws at once, later ones at most every `minIntervalMs`, and the last state is
 * always drawn before the line is removed. It is erased by overwriting with spaces rather
 * than with an escape sequence, so `--color never` output holds no escape codes at all.
 *
 * @example
 * ```ts
 * const line = new StatusLine(term, () => `${done} batches`);
 * line.start();
 * line.update(); // after each change
 * line.stop();   // erases it
 * ```
 */
export class StatusLine implements StatusHost {
  readonly #min: number;
  readonly #idle: number;
  readonly #now: () => number;
  /** The text on screen, or "" when nothing is shown. */
  #shown = "";
  #lastDraw = -Infinity;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #due = Infinity;
  #running = false;

  constructor(
    private readonly term: Terminal,
    private readonly render: () => string,
    o: StatusLineOptions = {},
  ) {
    this.#min = o.minIntervalMs ?? 100;
    this.#idle = o.idleRedrawMs ?? 1000;
    this.#now = o.now ?? (() => performance.now());
  }

  start(): void {
    this.#running = true;
    this.term.attachStatus(this);
    this.#draw();
  }

  /** Something changed: draw now if the last draw is old enough (or `now` is set), else soon. */
  update(now = false): void {
    if (!this.#running) return;
    if (now) return this.#draw();
    const wait = this.#lastDraw + this.#min - this.#now();
    if (wait <= 0) return this.#draw();
    this.#schedule(wait);
  }

  /** Draws the final state (so it is never lost to throttling), then erases the line. */
  stop(): void {
    if (!this.#running) return;
    this.#draw();
    this.#running = false;
    this.#cancel();
    this.hide();
    this.term.attachStatus(null);
  }

  hide(): void {
    if (this.#shown === "") return;
    this.term.write("\r" + " ".repeat(this.#shown.length) + "\r");
    this.#shown = "";
  }

  show(): void {
    if (this.#running) this.#draw();
  }

  #draw(): void {
    this.#cancel();
    // One column is left free: writing the last column makes some terminals wrap, and a
    // wrapped line cannot be redrawn with \r.
    const cols = this.term.columns;
    const full = this.render();
    const text = cols ? full.slice(0, Math.max(1, cols - 1)) : full;
    const pad = " ".repeat(Math.max(0, this.#shown.length - text.length));
    this.term.write("\r" + text + pad + (pad ? "\r" + text : ""));
    this.#shown = text;
    this.#lastDraw = this.#now();
    this.#schedule(this.#idle);
  }

  #schedule(ms: number): void {
    const due = this.#now() + ms;
    if (this.#timer && this.#due <= due) return;
    this.#cancel();
    this.#due = due;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#running) this.#draw();
    }, ms);
    // The status line never keeps the process alive.
    this.#timer.unref?.();
  }

  #cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/**
 * `out` (stdout on the same terminal as the status line) wrapped so that each write first
 * erases the status line and draws it again after, so data lines are never torn by it.
 */
export function writeAround(out: NodeJS.WritableStream, status: StatusHost): Writable {
  const w = new Writable({
    write(chunk, encoding, done) {
      status.hide();
      out.write(chunk, encoding, (e) => done(e ?? null));
      status.show();
    },
  });
  out.on("error", (e) => w.destroy(e));
  return w;
}
