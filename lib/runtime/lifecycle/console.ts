/**
 * Relays a container's pseudo-terminal to the caller's stdio, the foreground half of
 * `process.terminal: true` (what runc does without --console-socket, and what recvtty does
 * with one). No policy here: which fds to use and when to stop is the caller's business.
 *
 * The fds are blocking and Deno offers no async handle for a raw fd (Deno.FsFile cannot be
 * constructed from one, and reopening /proc/self/fd/N of a pty master would open /dev/ptmx
 * anew, i.e. a different pty). So each direction waits with poll(2) on Deno's blocking thread
 * pool (ffi/pty.ts pollFd), reads only what is ready, and writes from that pool too: the event
 * loop never blocks, whichever side is slow.
 * @module
 */
import {
  getWinsize,
  isatty,
  makeRaw,
  POLL,
  pollFd,
  readAvailable,
  restoreTermios,
  setWinsize,
  writeAllAsync,
} from "../../../ffi/pty.ts";
import { ErrnoError } from "../../../ffi/errno.ts";

/** What {@linkcode relayPty} copies between. */
export interface RelayOptions {
  /** Read and forwarded to the pty; a negative fd forwards nothing. */
  stdin: number;
  /** Receives everything the container writes to its terminal. */
  stdout: number;
  /**
   * Stops the relay early (what the container already wrote is still drained to `stdout`),
   * e.g. once the container's init exited but a leftover process keeps the terminal open.
   */
  signal?: AbortSignal;
}

/** How long the input side sleeps in poll(2) before it looks whether the relay ended. */
const TICK_MS = 100;

/**
 * Copies bytes both ways between the pty `master` and the caller's `stdin`/`stdout` until
 * every fd of the container's side (the slave) is closed, which the master reports as EOF/EIO,
 * or `signal` aborts. When `stdin` is a terminal it is put in raw mode for the duration (so
 * keystrokes such as ^C reach the container untouched) and restored afterwards (when
 * `stdin` is no terminal, a terminal `stdout` is made raw but for its signal keys); the window
 * size of the caller's terminal is copied to the pty at the start and on every SIGWINCH. End
 * of `stdin` just stops forwarding input. `master` stays open; closing it is the caller's job.
 *
 * @example
 * ```ts
 * import { relayPty } from "./console.ts";
 * import { recvFd } from "../../../ffi/socket.ts";
 * declare const consoleSocket: number;
 * const { fd: master } = recvFd(consoleSocket);
 * await relayPty(master, { stdin: 0, stdout: 1 });
 * ```
 */
export async function relayPty(master: number, opts: RelayOptions): Promise<void> {
  const { stdin, stdout, signal } = opts;
  const stdinTty = stdin >= 0 && isatty(stdin);
  // Without input from a terminal, the terminal showing the output is made raw too, as podman
  // does for -t without -i: the pty already turned \n into \r\n (a cooked terminal would add a
  // second \r) and nothing typed is echoed; ^C still signals ocibox, which forwards it.
  const outputTty = !stdinTty && isatty(stdout);
  const rawFd = stdinTty ? stdin : outputTty ? stdout : -1;
  const saved = rawFd >= 0 ? makeRaw(rawFd, { keepSignals: outputTty }) : undefined;
  let onResize: (() => void) | undefined;
  try {
    const sizeFrom = stdinTty ? stdin : isatty(stdout) ? stdout : undefined;
    if (sizeFrom !== undefined) {
      onResize = () => {
        const size = getWinsize(sizeFrom);
        if (size) setWinsize(master, size.rows, size.cols);
      };
      onResize();
      Deno.addSignalListener("SIGWINCH", onResize);
    }

    let ended = false;
    const output = copyOutput(master, stdout, signal).finally(() => ended = true);
    const input = stdin >= 0 ? copyInput(stdin, master, () => ended || !!signal?.aborted) : null;
    const results = await Promise.allSettled([output, input]);
    for (const r of results) if (r.status === "rejected") throw r.reason;
  } finally {
    if (onResize) Deno.removeSignalListener("SIGWINCH", onResize);
    if (saved) restoreTermios(rawFd, saved);
  }
}

/** master -> stdout until the slave side is gone (or an abort, after draining). */
async function copyOutput(master: number, stdout: number, signal?: AbortSignal): Promise<void> {
  const buf = new Uint8Array(32 * 1024);
  // After an abort, drain what is buffered, but a container that keeps writing must not keep
  // us here: a pty buffers a few KiB, so a bounded number of reads covers it.
  let drainReads = 16;
  for (;;) {
    const aborted = signal?.aborted ?? false;
    if (aborted && drainReads-- === 0) return;
    // Without a signal nothing but the master can end this loop, so it may wait unboundedly.
    const timeout = aborted ? 0 : signal ? TICK_MS : -1;
    const ready = await pollFd(master, POLL.IN, timeout);
    if (ready === 0) {
      if (aborted) return;
      continue;
    }
    const n = readAvailable(master, buf);
    if (n === 0) return; // EOF/EIO: no slave fd left open
    if (n !== null) await writeAllAsync(stdout, buf.subarray(0, n));
  }
}

/** stdin -> master until stdin ends or `stop()` says the relay is over. */
async function copyInput(stdin: number, master: number, stop: () => boolean): Promise<void> {
  const buf = new Uint8Array(4096);
  // A read on stdin could wait forever after the container is gone, so wait in short polls.
  while (!stop()) {
    if (await pollFd(stdin, POLL.IN, TICK_MS) === 0 || stop()) continue;
    const n = readAvailable(stdin, buf);
    if (n === 0) return;
    if (n === null) continue;
    try {
      await writeAllAsync(master, buf.subarray(0, n));
    } catch (e) {
      // EIO: the slave side closed while we were writing; the output side sees it too.
      if (e instanceof ErrnoError && e.errno === 5) return;
      throw e;
    }
  }
}
