/**
 * Waiting for a container's init (or an exec'd process) as its parent or subreaper, forwarding
 * the signals the caller gets, and turning the end into a shell-style exit code.
 * @module
 */
import { kill, PR, prctl, waitPid, type WaitStatus } from "../../../ffi/process.ts";
import { sleep } from "../../io/event_loop.ts";

/** Makes this process adopt orphaned descendants (the grandchild after a pid-namespace fork). */
export function becomeSubreaper(): void {
  prctl(PR.SET_CHILD_SUBREAPER, 1n);
}

const FORWARDED: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
const NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
};

/**
 * Catches the signals ocibox forwards (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2)
 * from the moment it is made, and delivers them to the container's process once
 * {@linkcode SignalForwarder.forwardTo} names it; what came before is queued and delivered
 * then, in order (runc's signal handler buffers the same way). Made before the process is
 * created or started, so that a signal sent as soon as the program runs (a caller that saw
 * its first output) is not lost between start and the wait.
 *
 * @example
 * ```ts
 * import { SignalForwarder, waitForExit } from "./wait.ts";
 * using forwarder = new SignalForwarder();
 * const pid = 1234; // created and started meanwhile
 * const code = await waitForExit(pid, forwarder);
 * ```
 */
export class SignalForwarder implements Disposable {
  #pid: number | undefined;
  #queued: number[] = [];
  #listeners: (readonly [Deno.Signal, () => void])[];

  constructor() {
    this.#listeners = FORWARDED.map((sig) => {
      const f = () => this.#deliver(NUMBERS[sig]!);
      Deno.addSignalListener(sig, f);
      return [sig, f] as const;
    });
  }

  #deliver(signal: number): void {
    if (this.#pid === undefined) {
      this.#queued.push(signal);
      return;
    }
    try {
      kill(this.#pid, signal);
    } catch { /* gone */ }
  }

  /** From now on signals go to `pid`, the queued ones first. */
  forwardTo(pid: number): void {
    this.#pid = pid;
    for (const signal of this.#queued.splice(0)) this.#deliver(signal);
  }

  /** Stops catching the signals. */
  close(): void {
    for (const [sig, f] of this.#listeners.splice(0)) Deno.removeSignalListener(sig, f);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Waits for `pid` to end while forwarding SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to it
 * (through `forwarder` when the caller made one earlier, which then stays the caller's to
 * close); resolves to its exit code (128 + signal when killed).
 */
export async function waitForExit(pid: number, forwarder?: SignalForwarder): Promise<number> {
  const own = forwarder ? undefined : new SignalForwarder();
  (forwarder ?? own!).forwardTo(pid);
  let wake: (() => void) | undefined;
  const onChild = () => wake?.();
  Deno.addSignalListener("SIGCHLD", onChild);
  try {
    for (;;) {
      const status: WaitStatus = waitPid(pid, true);
      if ("exited" in status) return status.code;
      if ("signaled" in status) return 128 + status.signal;
      // SIGCHLD wakes us; the timeout covers a signal that came before the listener.
      await new Promise<void>((resolve) => {
        wake = resolve;
        sleep(100).then(resolve);
      });
    }
  } finally {
    Deno.removeSignalListener("SIGCHLD", onChild);
    own?.close();
  }
}
