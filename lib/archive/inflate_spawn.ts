/**
 * Spawning the inflate worker (inflate_worker.ts), and spawning it early: a worker takes
 * 50-150 ms to boot (a V8 isolate, then node:zlib), which `unpack` would otherwise wait for
 * after loading its own code. main.ts calls {@linkcode prestartInflateWorker} before it loads
 * the command's modules, so both happen at once on two cores; {@linkcode takePrestarted}
 * hands the worker to the first {@linkcode InflateWorker} that starts. This module imports
 * nothing, so the early start waits for no other module.
 *
 * @example
 * ```ts
 * import { prestartInflateWorker, takePrestarted } from "./inflate_spawn.ts";
 * prestartInflateWorker();
 * const w = takePrestarted(); // the worker, or undefined where none can be spawned
 * w?.terminate();
 * ```
 * @module
 */

let early: Worker | undefined;

/**
 * A new inflate worker, or undefined where its module cannot be had (e.g. a bundle shipped
 * without it: checked first, as Deno reports a worker that fails to load on stderr whatever its
 * error handler does).
 */
export function spawnInflateWorker(): Worker | undefined {
  try {
    const url = new URL("./inflate_worker.ts", import.meta.url);
    if (url.protocol === "file:") Deno.statSync(url);
    return new Worker(url, { type: "module" });
  } catch {
    return undefined;
  }
}

/** Spawns the worker now, for a command that will want it; the process must end by exit. */
export function prestartInflateWorker(): void {
  early ??= spawnInflateWorker();
}

/** The worker spawned early, once; undefined when there is none. */
export function takePrestarted(): Worker | undefined {
  const w = early;
  early = undefined;
  return w;
}
