/**
 * A time limit that can be moved later cheaply. Built on `AbortSignal.timeout` rather than
 * `setTimeout`: in Deno 2.9 the global setTimeout loads the Node compatibility layer, 5-10 ms
 * of every registry command's start-up. A timeout signal keeps the process alive only while it
 * has a listener, so {@linkcode Deadline.clear} lets the process exit at once.
 *
 * @example
 * ```ts
 * import { Deadline } from "./deadline.ts";
 * const d = new Deadline(30_000);
 * // ... fetch(url, { signal: d.signal }), calling d.extend(30_000) on progress ...
 * d.clear();
 * ```
 * @module
 */

/** Aborts {@linkcode signal} once `ms` passed without {@linkcode extend}. */
export class Deadline {
  readonly #controller = new AbortController();
  #due: number;
  #timer?: { signal: AbortSignal; fires: number; listener: () => void };

  constructor(ms: number) {
    this.#due = performance.now() + ms;
    this.#arm();
  }

  /** Aborted when the time is up. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Moves the limit to `ms` from now. */
  extend(ms: number): void {
    if (this.#controller.signal.aborted) return;
    this.#due = performance.now() + ms;
    // A later limit is checked when the armed timer fires; only an earlier one re-arms.
    if (!this.#timer || this.#due < this.#timer.fires) this.#arm();
  }

  /** Stops the clock (the signal stays as it is). */
  clear(): void {
    const t = this.#timer;
    if (t) t.signal.removeEventListener("abort", t.listener);
    this.#timer = undefined;
  }

  #arm(): void {
    this.clear();
    const ms = Math.max(1, Math.ceil(this.#due - performance.now()));
    const signal = AbortSignal.timeout(ms);
    const listener = () => {
      this.#timer = undefined;
      if (performance.now() >= this.#due - 1) this.#controller.abort();
      else this.#arm();
    };
    signal.addEventListener("abort", listener, { once: true });
    this.#timer = { signal, fires: performance.now() + ms, listener };
  }
}
