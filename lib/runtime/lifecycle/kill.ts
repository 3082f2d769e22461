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
  // Only --all needs the cgroup (podman and containerd call kill for every stop: keep it light).
  let cgroup = null;
  if (all && record.cgroupPath) {
    const { loadCgroupManager } = await import("../cgroups/manager.ts");
    cgroup = tryLoad(() => loadCgroupManager(record.cgroupPath!));
  }
  // Running or paused makes no difference to a signal: no need to ask the freezer.
  const state = stateOf(root, record);
  if (state.status === "stopped" && !(cgroup && cgroup.pids().length)) {
    throw new ContainerStateError(id, state.status, "signal");
  }
  if (cgroup) {
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
