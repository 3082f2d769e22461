/**
 * `start`: lets a created container run its program (runtime.md step "start"). The
 * startContainer hooks run first, in the container's namespaces, while init still waits;
 * reading the exec FIFO then releases init, which execs the program; the FIFO is removed so
 * the container counts as running, then the poststart hooks run here.
 * @module
 */
import { AT_FDCWD, O_CLOEXEC, O_NONBLOCK, O_RDONLY } from "../../../ffi/constants.ts";
import { Errno, ErrnoError } from "../../../ffi/errno.ts";
import { close, openat } from "../../../ffi/fs.ts";
import { readFd, waitPid } from "../../../ffi/process.ts";
import { OciboxError } from "../../errors.ts";
import { sleep } from "../../io/event_loop.ts";
import { runHooks } from "./hooks.ts";
import { ContainerStateError, fifoPath, isAlive, readRecord, stateOf } from "./state_store.ts";

/** Starts created container `id`; returns once its program has been released. */
export async function startContainer(root: string, id: string): Promise<void> {
  const record = readRecord(root, id);
  const state = stateOf(root, record);
  if (state.status !== "created") throw new ContainerStateError(id, state.status, "start");
  await runHooks(
    record.hooks.startContainer,
    { ...state, status: "created" },
    "startContainer",
    record.pid,
  );
  const fifo = fifoPath(root, id);
  // Non-blocking, so a dead init cannot hang us: poll for its byte while it is alive.
  const fd = openat(AT_FDCWD, fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  try {
    const buf = new Uint8Array(1);
    const released = (): boolean => {
      try {
        return readFd(fd, buf) === 1;
      } catch (e) {
        if (!(e instanceof ErrnoError && e.errno === Errno.EAGAIN)) throw e;
        return false;
      }
    };
    for (let i = 0;; i++) {
      if (released()) break;
      // Read once more after seeing init gone: between the read and the check it may have
      // written its byte, exec'd and already exited (`true` on a busy machine). The byte
      // stays in the pipe, so a released init is never taken for one that died waiting.
      if (!isAlive(record) && !released()) {
        throw new OciboxError(
          "INIT",
          `container ${JSON.stringify(id)} init exited before start${howItEnded(record.pid)}`,
        );
      }
      await sleep(i < 100 ? 1 : 10);
    }
  } finally {
    close(fd);
  }
  await Deno.remove(fifo);
  try {
    await runHooks(record.hooks.poststart, { ...state, status: "running" }, "poststart");
  } catch (e) {
    // runtime.md: a failing poststart hook is a warning; the container keeps running.
    console.error(`warning: ${(e as Error).message}`);
  }
}

/** How init ended, when it is this process's child (`run`): " (killed by signal 15)". */
function howItEnded(pid: number): string {
  try {
    const status = waitPid(pid, true);
    if ("signaled" in status) return ` (killed by signal ${status.signal})`;
    if ("exited" in status) return ` (exit code ${status.code})`;
  } catch { /* not our child (`ocibox start`), or reaped already */ }
  return "";
}
