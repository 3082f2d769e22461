/**
 * `ocibox init`: the container's first process. It was cloned into the new namespaces and
 * exec'd by the runtime; it reads the plan from its pipe, performs it, tells the runtime it is
 * created, waits for `start` on the exec FIFO, then replaces itself with the user's program.
 * Keep imports minimal: this runs on every container start.
 * @module
 */
import { AT_FDCWD, O_CLOEXEC, O_PATH } from "../../ffi/constants.ts";
import { close, fdPath, openat } from "../../ffi/fs.ts";
import { closeFd, dup3, getpid, mount, PR, prctl, setsid } from "../../ffi/process.ts";
import { MS } from "./plan/ops.ts";
import { Executor } from "./executor.ts";
import {
  type FromInit,
  type InitRequest,
  LineReader,
  send,
  type ToInit,
} from "./lifecycle/protocol.ts";
import { runHooks } from "./lifecycle/hooks.ts";

/** Makes a pty the controlling terminal and stdio, and sends its master to the runtime's socket. */
async function setUpConsole(socketFd: number, rows?: number, cols?: number): Promise<void> {
  const { openPty, setControllingTerminal, setWinsize } = await import("../../ffi/pty.ts");
  const { sendFd } = await import("../../ffi/socket.ts");
  const pty = openPty();
  if (rows && cols) setWinsize(pty.master, rows, cols);
  setsid();
  setControllingTerminal(pty.slave);
  for (const fd of [0, 1, 2]) dup3(pty.slave, fd, false);
  // /dev/console is the terminal too, as runc makes it (bind of the slave over a plain file).
  Deno.writeFileSync("/dev/console", new Uint8Array(), { append: true, mode: 0o666 });
  mount(pty.name, "/dev/console", null, MS.BIND, null);
  sendFd(socketFd, pty.master, pty.name);
  close(pty.master);
  close(pty.slave);
  closeFd(socketFd);
}

function envFd(name: string): number {
  const v = Number(Deno.env.get(name));
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} is not set: run by the runtime only`);
  return v;
}

/** The init process's main; never returns (exec or exit). */
export async function runInit(): Promise<never> {
  const fromRuntime = envFd("OCIBOX_INIT_PLAN_FD");
  const toRuntime = envFd("OCIBOX_INIT_STATUS_FD");
  const reader = new LineReader(fromRuntime);
  const report = (m: FromInit) => send(toRuntime, m);
  let started = false;
  try {
    // exec made us dumpable again: no process in the container may open /proc/<init>/exe
    // (the runtime's binary) or our descriptors (CVE-2019-5736).
    prctl(PR.SET_DUMPABLE, 0n);
    const req = reader.next<InitRequest>();
    if (!req) throw new Error("the runtime sent no plan");
    // The FIFO lives in the host's state directory: hold it now, reach it after pivot_root
    // through /proc/self/fd.
    const fifo = req.fifo === null ? -1 : openat(AT_FDCWD, req.fifo, O_PATH | O_CLOEXEC);
    const state = { ...req.state, pid: getpid() };
    const ex = new Executor();
    for (const op of req.plan.ops) {
      if (op.op === "sync") {
        report({ type: "sync", point: op.point });
        const answer = reader.next<ToInit>();
        if (!answer || !("type" in answer) || answer.type !== "continue") {
          throw new Error(`the runtime stopped the container at ${op.point}`);
        }
        if (op.point === "createRuntime") {
          await runHooks(req.createContainer, state, "createContainer");
        }
        continue;
      }
      if (op.op === "console") {
        await setUpConsole(op.socketFd, op.rows, op.cols);
        continue;
      }
      if (op.op === "waitStart") {
        report({ type: "created" });
        closeFd(toRuntime);
        closeFd(fromRuntime);
        started = true;
        if (fifo >= 0) {
          // Blocks until `start` opens the FIFO for reading.
          const f = Deno.openSync(fdPath(fifo), { write: true });
          f.writeSync(new Uint8Array([48]));
          f.close();
          close(fifo);
        }
        await runHooks(req.startContainer, { ...state, status: "created" }, "startContainer");
        continue;
      }
      ex.run(op);
    }
    throw new Error("the plan ended without exec");
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (!started) {
      try {
        report({ type: "error", message });
      } catch { /* the runtime is gone */ }
    } else console.error(`ocibox init: ${message}`);
    Deno.exit(1);
  }
}
