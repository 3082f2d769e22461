/**
 * One container's life under the process that created it: create it with the runtime (its
 * program waiting for start), set up what needs its pid (the network), start it, relay its
 * terminal, forward signals, wait for it and take the runtime's container down. The foreground
 * `run IMAGE` and a detached container's monitor both run this; what happens to the container
 * directory afterwards is the caller's business.
 * @module
 */
import { closeFd, dupOnto } from "../../ffi/process.ts";
import { AT_FDCWD, O_CLOEXEC, O_RDWR } from "../../ffi/constants.ts";
import { openat } from "../../ffi/fs.ts";
import { createContainer } from "../runtime/lifecycle/create.ts";
import { deleteContainer } from "../runtime/lifecycle/delete.ts";
import { startContainer } from "../runtime/lifecycle/start.ts";
import { becomeSubreaper, SignalForwarder, waitForExit } from "../runtime/lifecycle/wait.ts";

/** Something started for a container once it has a pid, stopped when it ends. */
export interface Attachment {
  stop(): Promise<void>;
}

/** Options of {@linkcode superviseContainer}. */
export interface SuperviseOptions {
  /** The runtime's state directory. */
  runtimeRoot: string;
  id: string;
  /** The bundle directory (config.json, rootfs). */
  bundle: string;
  /** process.terminal: relay a pty to this process's stdio. */
  terminal: boolean;
  /** Keep stdin attached (-i); otherwise the program reads /dev/null. */
  interactive: boolean;
  /** Run with the container's pid before its program starts (the network helper). */
  beforeStart?: (pid: number) => Promise<Attachment | undefined>;
  /** Told once the program runs (a detached container's monitor reports it). */
  onStarted?: (pid: number) => void;
}

/**
 * Runs the container; resolves to its program's exit code (128+N when killed by signal N).
 * Errors before the program starts leave no runtime container behind.
 */
export async function superviseContainer(options: SuperviseOptions): Promise<number> {
  const { runtimeRoot: root, id } = options;
  becomeSubreaper();
  // Caught from before create: a signal sent as soon as the program runs reaches it.
  using forwarder = new SignalForwarder();
  if (!options.interactive) {
    // The container inherits this process's stdio: without -i it gets no input, as in podman.
    const nul = openat(AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
    dupOnto(nul, 0);
    closeFd(nul);
  }
  let relayEnd = -1;
  let consoleFd: number | undefined;
  if (options.terminal) {
    const { socketPair } = await import("../../ffi/socket.ts");
    [relayEnd, consoleFd] = socketPair();
  }
  let attachment: Attachment | undefined;
  let pid: number;
  let master = -1;
  try {
    try {
      ({ pid } = await createContainer(id, { root, bundle: options.bundle, consoleFd }));
    } finally {
      if (consoleFd !== undefined) closeFd(consoleFd);
    }
    if (relayEnd >= 0) {
      master = await receiveTerminal(relayEnd, options.interactive);
      closeFd(relayEnd);
      relayEnd = -1;
    }
    attachment = await options.beforeStart?.(pid);
    await startContainer(root, id);
  } catch (e) {
    if (relayEnd >= 0) closeFd(relayEnd);
    if (master >= 0) closeFd(master);
    await attachment?.stop().catch(() => {});
    await deleteContainer(root, id, true).catch(() => {});
    throw e;
  }
  options.onStarted?.(pid);
  let relay: Promise<void> | undefined;
  if (master >= 0) {
    const { relayPty } = await import("../runtime/lifecycle/console.ts");
    relay = relayPty(master, { stdin: options.interactive ? 0 : -1, stdout: 1 });
  }
  try {
    const code = await waitForExit(pid, forwarder);
    if (relay) await relay;
    return code;
  } finally {
    if (master >= 0) closeFd(master);
    await attachment?.stop().catch(() => {});
    await deleteContainer(root, id, true).catch(() => {});
  }
}

/**
 * The pty master init sent during create, sized like the caller's terminal before the program
 * starts: the relay copies the size too, but only once the program runs, and a program that
 * asks at once (`stty size`, a shell's first prompt) would see 0x0.
 */
async function receiveTerminal(relayEnd: number, interactive: boolean): Promise<number> {
  const [{ recvFd }, { getWinsize, isatty, setWinsize }] = await Promise.all([
    import("../../ffi/socket.ts"),
    import("../../ffi/pty.ts"),
  ]);
  const master = recvFd(relayEnd).fd;
  const from = interactive && isatty(0) ? 0 : isatty(1) ? 1 : -1;
  const size = from >= 0 ? getWinsize(from) : undefined;
  if (size) setWinsize(master, size.rows, size.cols);
  return master;
}
