/**
 * `exec`: runs another process in a running container. The planner plans it (planExec: join
 * the container's cgroup and namespaces, then the very privilege and start sequence of the
 * container's own process) and the syscall runner performs it: no Deno code enters the
 * container, the runtime's binary is never reachable from it, and no runtime descriptor or
 * host cwd is left to the program (CVE-2019-5736 and CVE-2024-21626 classes).
 * @module
 */
import { AT_FDCWD, O_DIRECTORY, O_PATH, O_WRONLY } from "../../../ffi/constants.ts";
import { close, openat } from "../../../ffi/fs.ts";
import { spawnSyscalls } from "../../../ffi/process.ts";
import { describeFailure } from "../../../ffi/runner_program.ts";
import { OciboxError, UsageError } from "../../errors.ts";
import { cgroupProcsFiles } from "../cgroups/procs_files.ts";
import { lowerOps } from "../init/lower.ts";
import { planExec } from "../plan/planner.ts";
import type { Process } from "../spec/spec_types.ts";
import { closeNamespaces, openNamespacesOf } from "./join.ts";
import { findProgram } from "./program.ts";
import { ContainerStateError, readRecord, stateOf } from "./state_store.ts";
import { SignalForwarder, waitForExit } from "./wait.ts";

/** Options of {@linkcode execInContainer}. */
export interface ExecOptions {
  root: string;
  process: Process;
  /** With process.terminal: where to send the pty master (else it is relayed to our stdio). */
  consoleSocket?: string;
  detach?: boolean;
  pidFile?: string;
  preserveFds?: number;
}

/** The container cgroup's cgroup.procs files, opened for writing "0" (= the writer). */
function cgroupProcs(cgroupPath: string | undefined): number[] {
  if (!cgroupPath) return [];
  return cgroupProcsFiles(cgroupPath).map((f) => openat(AT_FDCWD, f, O_WRONLY));
}

/** Runs `options.process` in container `id`; resolves to its exit code (0 when detached). */
export async function execInContainer(id: string, options: ExecOptions): Promise<number> {
  const record = readRecord(options.root, id);
  const state = stateOf(options.root, record);
  if (state.status !== "running" && state.status !== "created") {
    throw new ContainerStateError(id, state.status, "exec in");
  }
  // runc's defaults for what process.json may leave out.
  const p: Process = {
    ...options.process,
    cwd: options.process.cwd || "/",
    user: options.process.user ?? { uid: 0, gid: 0 },
  };
  if (!p.args?.length) throw new OciboxError("EXEC", "exec needs a program to run");
  if (p.terminal && options.detach && !options.consoleSocket) {
    throw new UsageError("a detached exec with a terminal needs --console-socket");
  }
  const program = findProgram(record.pid, p.args[0], p.env ?? [], p.cwd);

  const opened: number[] = [];
  const namespaces = openNamespacesOf(record.pid);
  let consoleName = "";
  let master = -1, slave = -1;
  try {
    const procs = cgroupProcs(record.cgroupPath);
    opened.push(...procs);
    if (p.terminal) {
      // The pty comes from the container's own devpts, the slave by TIOCGPTPEER (no path).
      const { getWinsize, isatty, openPtyIn, setWinsize } = await import("../../../ffi/pty.ts");
      const root = openat(AT_FDCWD, `/proc/${record.pid}/root`, O_PATH | O_DIRECTORY);
      let pty;
      try {
        pty = openPtyIn(root, "/dev/pts/ptmx");
      } finally {
        close(root);
      }
      master = pty.master;
      slave = pty.slave;
      opened.push(master, slave);
      if (p.consoleSize) setWinsize(pty.master, p.consoleSize.height, p.consoleSize.width);
      else if (!options.consoleSocket) {
        // Relayed here: sized like the caller's terminal before the program starts. The relay
        // copies the size too, but only once the program runs, and a program that asks at
        // once (`stty size`, a shell's first prompt) would see 0x0.
        const from = isatty(0) ? 0 : isatty(1) ? 1 : -1;
        const size = from >= 0 ? getWinsize(from) : undefined;
        if (size) setWinsize(pty.master, size.rows, size.cols);
      }
      consoleName = pty.name;
    }
    const plan = planExec(p, {
      rootless: record.rootless,
      userns: namespaces.some((ns) => ns.type === "user"),
      cgroupProcs: procs,
      namespaces,
      program,
      terminalFd: slave >= 0 ? slave : undefined,
      preserveFds: options.preserveFds,
      seccomp: record.seccomp,
    });
    // Caught from before the process exists: none sent to it is lost.
    using forwarder = options.detach ? undefined : new SignalForwarder();
    const report = spawnSyscalls(0, lowerOps(plan.ops), undefined, {
      shareMemory: !namespaces.some((ns) => ns.type === "time"),
    });
    if (report.failed) {
      throw new OciboxError(
        "EXEC",
        `exec in ${id}: ${describeFailure(report.failed.step, report.failed.errno)}`,
      );
    }
    if (options.pidFile) await Deno.writeTextFile(options.pidFile, String(report.pid));
    let relay: Promise<void> | undefined;
    if (master >= 0) {
      if (options.consoleSocket) {
        const { connectUnix, sendFd } = await import("../../../ffi/socket.ts");
        const sock = connectUnix(options.consoleSocket);
        try {
          sendFd(sock, master, consoleName);
        } finally {
          close(sock);
        }
      } else {
        const { relayPty } = await import("./console.ts");
        // Only the program may hold the slave now, so the relay ends when it does.
        opened.splice(opened.indexOf(slave), 1);
        close(slave);
        relay = relayPty(master, { stdin: 0, stdout: 1 });
      }
    }
    if (options.detach) return 0;
    const code = await waitForExit(report.pid, forwarder);
    await relay;
    return code;
  } finally {
    closeNamespaces(namespaces);
    for (const fd of opened) close(fd);
  }
}
