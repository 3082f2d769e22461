/**
 * `delete`: removes a stopped (or, like runc, a created) container: its processes, cgroup and
 * state directory; then runs the poststop hooks. A running container needs `force`, which
 * kills everything in it first.
 * @module
 */
import { kill, waitPid } from "../../../ffi/process.ts";
import { NotFoundError } from "../../errors.ts";
import { sleep } from "../../io/event_loop.ts";
import { unmountShared } from "./shared_mounts.ts";
import { runHooks } from "./hooks.ts";
import { containerDir, ContainerStateError, isAlive, readRecord, stateOf } from "./state_store.ts";

/** Deletes container `id`; with `force`, one that does not exist is no error (as with runc). */
export async function deleteContainer(root: string, id: string, force = false): Promise<void> {
  let record;
  try {
    record = readRecord(root, id);
  } catch (e) {
    if (force && e instanceof NotFoundError) return;
    throw e;
  }
  const { loadCgroupManager } = await import("../cgroups/manager.ts");
  let cgroup = null;
  if (record.cgroupPath) {
    try {
      cgroup = loadCgroupManager(record.cgroupPath);
    } catch { /* already gone */ }
  }
  const state = stateOf(root, record, () => cgroup?.state() === "frozen");
  if ((state.status === "running" || state.status === "paused") && !force) {
    throw new ContainerStateError(id, state.status, "delete (use --force)");
  }
  if (state.status !== "stopped") {
    if (cgroup) cgroup.killAll(9);
    else kill(record.pid, 9);
  }
  // Wait for init to go (it may be our child when run deletes), then for the cgroup to empty.
  for (let i = 0; i < 500 && isAlive(record); i++) {
    try {
      waitPid(record.pid, true);
    } catch { /* not our child */ }
    await sleep(2);
  }
  if (cgroup) {
    if (cgroup.pids().length) cgroup.killAll(9);
    cgroup.destroy();
  }
  if (record.sharedMounts) unmountShared(record.sharedMounts);
  await Deno.remove(containerDir(root, id), { recursive: true });
  try {
    await runHooks(record.hooks.poststop, { ...state, status: "stopped" }, "poststop");
  } catch (e) {
    // runtime.md: a failing poststop hook is a warning; the container is gone anyway.
    console.error(`warning: ${(e as Error).message}`);
  }
}
