/**
 * Letting the event loop run during long chains of promises. Work whose every await resolves
 * at once (data already in memory, inflated by node:zlib) never returns to the event loop, so
 * signal handlers (SIGTERM, Ctrl-C) and timers wait until it ends; an occasional macrotask
 * lets them in. {@linkcode sleep} waits without loading Node's timers.
 * @module
 */

/**
 * Resolves after `ms` milliseconds. Built on `AbortSignal.timeout`, not `setTimeout`: the global
 * setTimeout loads Node's timers on first use (5-40 ms here, paid by every container's
 * `run`, `start` and `delete` that waits once).
 *
 * @example
 * ```ts
 * import { sleep } from "./event_loop.ts";
 * await sleep(10);
 * ```
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) =>
    AbortSignal.timeout(ms).addEventListener("abort", () => resolve(), { once: true })
  );
}

/** Yields to the event loop when `everyMs` passed since the last time it did. */
export class EventLoopYield {
  #last = performance.now();
  constructor(readonly everyMs = 20) {}

  /** Resolves after a turn of the event loop, or at once when it is not time yet. */
  async maybe(): Promise<void> {
    const now = performance.now();
    if (now - this.#last < this.everyMs) return;
    // AbortSignal.timeout, not setTimeout: the global setTimeout loads Node's timers (5-10 ms).
    await new Promise((resolve) => AbortSignal.timeout(0).addEventListener("abort", resolve));
    this.#last = performance.now();
  }
}
