/**
 * `run`: create + start, then (unless detached) wait for the program, relay its terminal when
 * it has one and no console socket was given, delete the container and return its exit code.
 * @module
 */
import { closeFd } from "../../../ffi/process.ts";
import { UsageError } from "../../errors.ts";
import { absoluteBundle, readBundleSpec } from "./bundle.ts";
import { createContainer, type CreateOptions } from "./create.ts";
import { deleteContainer } from "./delete.ts";
import { runHooks } from "./hooks.ts";
import { startContainer } from "./start.ts";
import { stateOf } from "./state_store.ts";
import { becomeSubreaper, SignalForwarder, waitForExit } from "./wait.ts";

/** Options of {@linkcode runContainer}. */
export interface RunOptions extends CreateOptions {
  detach?: boolean;
  /** Keep the stopped container (runc --keep). */
  keep?: boolean;
}

/** Runs container `id`; resolves to its exit code (0 when detached). */
export async function runContainer(id: string, options: RunOptions): Promise<number> {
  const spec = readBundleSpec(absoluteBundle(options.bundle));
  const terminal = spec.process?.terminal === true;
  let relayEnd = -1;
  let consoleFd: number | undefined;
  if (terminal && !options.consoleSocket) {
    if (options.detach) {
      throw new UsageError("a detached container with a terminal needs --console-socket");
    }
    const { socketPair } = await import("../../../ffi/socket.ts");
    [relayEnd, consoleFd] = socketPair();
  }
  if (!options.detach) becomeSubreaper();
  // Caught from before the program starts (created running): none sent to it is lost.
  using forwarder = options.detach ? undefined : new SignalForwarder();
  let created;
  try {
    created = await createContainer(id, { ...options, spec, consoleFd, startNow: true });
  } finally {
    if (consoleFd !== undefined) closeFd(consoleFd);
  }
  const { record, pid } = created;
  let relay: Promise<void> | undefined;
  let master = -1;
  if (relayEnd >= 0) {
    const { recvFd } = await import("../../../ffi/socket.ts");
    master = recvFd(relayEnd).fd;
    closeFd(relayEnd);
    const { relayPty } = await import("./console.ts");
    relay = relayPty(master, { stdin: 0, stdout: 1 });
  }
  if (record.hooks.startContainer?.length) {
    // Created waiting for start, so the startContainer hooks run before the program (and
    // start runs the poststart hooks).
    await startContainer(options.root, id);
  } else {
    try {
      await runHooks(record.hooks.poststart, { ...stateOf(options.root, record) }, "poststart");
    } catch (e) {
      console.error(`warning: ${(e as Error).message}`);
    }
  }
  if (options.detach) return 0;
  const code = await waitForExit(pid, forwarder);
  if (relay) {
    await relay;
    closeFd(master);
  }
  if (!options.keep) await deleteContainer(options.root, id, true);
  return code;
}
