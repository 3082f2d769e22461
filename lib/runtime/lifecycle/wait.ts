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
 * Waits for `pid` to end while forwarding SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to it;
 * resolves to its exit code (128 + signal when killed).
 */
export async function waitForExit(pid: number): Promise<number> {
  const forwarders = FORWARDED.map((sig) => {
    const f = () => {
      try {
        kill(pid, NUMBERS[sig]!);
      } catch { /* gone */ }
    };
    Deno.addSignalListener(sig, f);
    return [sig, f] as const;
  });
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
    for (const [sig, f] of forwarders) Deno.removeSignalListener(sig, f);
  }
}
