/**
 * `kill`: sends a signal to a created or running container's init, or with `all` to every
 * process in its cgroup.
 * @module
 */
import { kill } from "../../../ffi/process.ts";
import { ContainerStateError, readRecord, stateOf } from "./state_store.ts";

/** Sends `signal` to container `id`. */
export async function killContainer(
  root: string,
  id: string,
  signal: number,
  all = false,
): Promise<void> {
  const record = readRecord(root, id);
  const { loadCgroupManager } = await import("../cgroups/manager.ts");
  const cgroup = record.cgroupPath ? tryLoad(() => loadCgroupManager(record.cgroupPath!)) : null;
  const state = stateOf(root, record, () => cgroup?.state() === "frozen");
  if (state.status === "stopped" && !(all && cgroup && cgroup.pids().length)) {
    throw new ContainerStateError(id, state.status, "signal");
  }
  if (all && cgroup) {
    cgroup.killAll(signal);
    return;
  }
  kill(record.pid, signal);
}

function tryLoad<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}
