/**
 * `exec`: runs another process in a running container. No Deno code enters the container:
 * the syscall runner (ffi) moves the new process into the container's cgroup, joins its
 * namespaces (forking into its pid namespace), drops to the process's user, capabilities,
 * no_new_privs and seccomp filter, and execs the program, all as prepared system calls. So the
 * runtime's binary is never reachable from the container, and no runtime descriptor or host
 * cwd is left to the program (CVE-2019-5736 and CVE-2024-21626 classes).
 * @module
 */
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  O_CLOEXEC,
  O_DIRECTORY,
  O_PATH,
  O_RDONLY,
  O_WRONLY,
  RESOLVE_IN_ROOT,
  S_IFMT,
  S_IFREG,
} from "../../../ffi/constants.ts";
import { ErrnoError } from "../../../ffi/errno.ts";
import { close, openat, openat2, statx } from "../../../ffi/fs.ts";
import {
  capsetArgs,
  CLONE,
  defaultSignalSteps,
  execveStep,
  PR,
  SIGCHLD,
  sockFprog,
  spawnSyscalls,
  SYS,
  type SyscallStep,
} from "../../../ffi/process.ts";
import { OciboxError, UsageError } from "../../errors.ts";
import { cgroupProcsFiles } from "../cgroups/procs_files.ts";
import { lookPath } from "../look_path.ts";
import { capabilityMasks, hasCapability } from "../plan/capabilities.ts";
import { planRlimits } from "../plan/rlimits.ts";
import type { Process } from "../spec_types.ts";
import { ContainerStateError, readRecord, stateOf } from "./state_store.ts";
import { becomeSubreaper, waitForExit } from "./wait.ts";

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

const NS_ORDER: [string, number][] = [
  ["user", CLONE.NEWUSER],
  ["mnt", CLONE.NEWNS],
  ["cgroup", CLONE.NEWCGROUP],
  ["ipc", CLONE.NEWIPC],
  ["uts", CLONE.NEWUTS],
  ["net", CLONE.NEWNET],
  ["pid", CLONE.NEWPID],
  ["time", CLONE.NEWTIME],
];

const CLOSE_RANGE_CLOEXEC = 4;
const TIOCSCTTY = 0x540e;

function nsId(pid: number | "self", type: string): string | undefined {
  try {
    return Deno.readLinkSync(`/proc/${pid}/ns/${type}`);
  } catch {
    return undefined;
  }
}

/** The program's path inside the container: found through PATH in its root, like execvp. */
function resolveProgram(pid: number, name: string, env: string[]): string {
  const root = openat(AT_FDCWD, `/proc/${pid}/root`, O_PATH | O_DIRECTORY);
  try {
    const isExecutable = (path: string) => {
      try {
        const fd = openat2(root, path, O_PATH, 0, RESOLVE_IN_ROOT);
        try {
          const st = statx(fd, "", AT_EMPTY_PATH);
          return (st.mode & S_IFMT) === S_IFREG && (st.mode & 0o111) !== 0;
        } finally {
          close(fd);
        }
      } catch {
        return false;
      }
    };
    return lookPath(name, env, isExecutable);
  } finally {
    close(root);
  }
}

function capLast(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
  } catch {
    return 40;
  }
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
  const p = options.process;
  if (!p.args?.length) throw new OciboxError("EXEC", "exec needs a program to run");
  const env = p.env ?? [];
  const program = resolveProgram(record.pid, p.args[0], env);
  const warnings: string[] = [];
  const caps = capabilityMasks(p.capabilities, warnings);
  const rlimits = planRlimits(p.rlimits, warnings);
  const cstr = (s: string) => new TextEncoder().encode(s + "\0");

  const opened: number[] = [];
  let consoleName = "";
  try {
    const steps: SyscallStep[] = [
      { nr: SYS.prctl, args: [PR.SET_DUMPABLE, 0, 0, 0, 0], label: "prctl(PR.SET_DUMPABLE)" },
    ];
    for (const fd of cgroupProcs(record.cgroupPath)) {
      opened.push(fd);
      steps.push({ nr: SYS.write, args: [fd, cstr("0"), 1], label: "join the cgroup" });
    }
    let forks = false, joinsTime = false;
    for (const [type, flag] of NS_ORDER) {
      const target = nsId(record.pid, type);
      if (!target || target === nsId("self", type)) continue;
      const fd = openat(AT_FDCWD, `/proc/${record.pid}/ns/${type}`, O_RDONLY | O_CLOEXEC);
      opened.push(fd);
      steps.push({ nr: SYS.setns, args: [fd, flag], label: `join the ${type} namespace` });
      // Both only reach children: the process itself must fork once it has joined them.
      if (type === "pid" || type === "time") forks = true;
      if (type === "time") joinsTime = true;
    }
    if (forks) {
      steps.push({ nr: SYS.clone, args: [SIGCHLD, 0, 0, 0, 0], mode: "fork", label: "fork" });
    }
    let master = -1, slave = -1;
    if (p.terminal) {
      if (options.detach && !options.consoleSocket) {
        throw new UsageError("a detached exec with a terminal needs --console-socket");
      }
      // The pty comes from the container's own devpts, the slave by TIOCGPTPEER (no path).
      const { openPtyIn, setWinsize } = await import("../../../ffi/pty.ts");
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
      steps.push(
        { nr: SYS.setsid, args: [], label: "setsid" },
        ...[0, 1, 2].map((fd): SyscallStep => ({
          nr: SYS.dup3,
          args: [pty.slave, fd, 0],
          label: "the pty as stdio",
        })),
        { nr: SYS.ioctl, args: [0, TIOCSCTTY, 0], label: "the pty as controlling terminal" },
      );
      consoleName = pty.name;
    }
    steps.push({ nr: SYS.chdir, args: [cstr(p.cwd || "/")], label: `chdir ${p.cwd}` });
    for (const op of rlimits) {
      if (op.op !== "setrlimit") continue;
      const lim = new BigUint64Array([
        op.soft < 0 ? 0xffffffffffffffffn : BigInt(op.soft),
        op.hard < 0 ? 0xffffffffffffffffn : BigInt(op.hard),
      ]);
      steps.push({ nr: SYS.prlimit64, args: [0, op.resource, lim, null], label: "setrlimit" });
    }
    const last = capLast();
    for (let cap = 0; cap <= last; cap++) {
      if (!hasCapability(caps.bounding, cap)) {
        steps.push({ nr: SYS.prctl, args: [PR.CAPBSET_DROP, cap, 0, 0, 0], label: "drop caps" });
      }
    }
    const uid = p.user?.uid ?? 0, gid = p.user?.gid ?? 0;
    const groups = p.user?.additionalGids ?? [];
    steps.push(
      { nr: SYS.prctl, args: [PR.SET_KEEPCAPS, 1, 0, 0, 0], label: "keep caps" },
      {
        nr: SYS.setgroups,
        args: [groups.length, new Uint32Array(groups.length ? groups : [0])],
        // A user namespace that denies setgroups only matters when groups were asked for.
        mode: groups.length ? "strict" : "ignore",
        label: "setgroups",
      },
      { nr: SYS.setresgid, args: [gid, gid, gid], label: `setresgid ${gid}` },
      { nr: SYS.setresuid, args: [uid, uid, uid], label: `setresuid ${uid}` },
      { nr: SYS.prctl, args: [PR.SET_KEEPCAPS, 0, 0, 0, 0], label: "keep caps" },
    );
    steps.push({
      nr: SYS.capset,
      args: capsetArgs(caps.effective, caps.permitted, caps.inheritable),
      label: "capset",
    });
    for (let cap = 0; cap <= last; cap++) {
      if (hasCapability(caps.ambient, cap)) {
        steps.push({
          nr: SYS.prctl,
          args: [PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, cap, 0, 0],
          label: "raise ambient caps",
        });
      }
    }
    if (p.noNewPrivileges) {
      steps.push({ nr: SYS.prctl, args: [PR.SET_NO_NEW_PRIVS, 1, 0, 0, 0], label: "no_new_privs" });
    }
    if (record.seccomp) {
      const filter = Uint8Array.from(atob(record.seccomp.program), (c) => c.charCodeAt(0));
      steps.push({
        nr: SYS.seccomp,
        args: [1, record.seccomp.flags, sockFprog(filter)],
        label: "seccomp",
      });
    }
    steps.push(
      {
        nr: SYS.closeRange,
        args: [3 + (options.preserveFds ?? 0), 0xffffffff, CLOSE_RANGE_CLOEXEC],
        mode: "ignore",
        label: "close_range",
      },
      ...defaultSignalSteps(),
      execveStep(program, p.args, env),
    );
    if (!options.detach) becomeSubreaper();
    const report = spawnSyscalls(0, steps, undefined, { shareMemory: !joinsTime });
    if (report.failed) {
      throw new OciboxError(
        "EXEC",
        `exec in ${id}: ${new ErrnoError(report.failed.errno, report.failed.step.label).message}`,
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
        const { relayPty } = await import("../console.ts");
        // Only the program may hold the slave now, so the relay ends when it does.
        opened.splice(opened.indexOf(slave), 1);
        close(slave);
        relay = relayPty(master, { stdin: 0, stdout: 1 });
      }
    }
    if (options.detach) return 0;
    const code = await waitForExit(report.pid);
    await relay;
    return code;
  } finally {
    for (const fd of opened) close(fd);
  }
}
