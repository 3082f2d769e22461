/**
 * Plan operations → a syscall-runner program (ffi/runner_program.ts). This is the one place
 * that knows how each operation becomes system calls; the container's init (create) and a
 * process `exec`'d into a container run what it produces, so both carry out the planner's
 * order, and nothing else decides it. File-system operations are in lower_fs.ts; this module
 * has init's prologue, the pauses for the runtime, and the process: namespaces, limits, user,
 * capabilities, the wait for `start`, no_new_privs, seccomp and execve.
 *
 * Pure: it only builds data; unit tests run its output through the runner's simulator.
 * @module
 */
import {
  AT_FDCWD,
  CLONE,
  CLONE_PARENT,
  CLOSE_RANGE_CLOEXEC,
  IOCTL,
  O_CLOEXEC,
  O_DIRECTORY,
  O_PATH,
  O_WRONLY,
  PR,
  SIGCHLD,
} from "../../../ffi/constants.ts";
import { Errno } from "../../../ffi/errno.ts";
import {
  cstrArray,
  cstrBuf,
  type Item,
  slot,
  u64Buf,
  zerosBuf,
} from "../../../ffi/runner_program.ts";
import { SYS } from "../../../ffi/syscall_numbers.ts";
import { hasCapability } from "../plan/capabilities.ts";
import type { Op } from "../plan/ops.ts";
import { InitBuilder, type InitFds, SCRATCH_FDS, SLOT } from "./builder.ts";
import { lowerFsOp } from "./lower_fs.ts";
import { fprog } from "./structs.ts";

export { type InitFds, SCRATCH_FDS } from "./builder.ts";

/** The first word of records init writes itself (after the runner's fork record, ~0). */
export const RECORD = {
  sync: 0xfffffffffffffff0n,
  created: 0xfffffffffffffff1n,
} as const;

/** Which sync point a record's second word names. */
export const SYNC_POINTS = ["cgroup", "hooks", "program"] as const;

/** The length of the buffer init reads the program's path into (a pipe's atomic write). */
export const PROGRAM_PATH_MAX = 4096;

const EINVAL = Errno.EINVAL;
const SIGPIPE = 13;
const SIG_SETMASK = 2;

/** What lowering needs besides the operations. */
export interface LowerOptions {
  /** Init's descriptors (create); without them, path and pause operations are refused. */
  fds?: InitFds;
}

/**
 * Lowers `ops` to a runner program. With {@linkcode LowerOptions.fds} it is the container's
 * init; without, a process started from the runtime (exec), which needs no paths.
 */
export function lowerOps(ops: readonly Op[], options: LowerOptions = {}): Item[] {
  const b = new InitBuilder(options.fds);
  if (options.fds) prologue(b, ops.some((o) => o.op === "waitStart"));
  for (const op of ops) {
    if (!lowerFsOp(b, op)) lowerProcessOp(b, op);
  }
  return b.items;
}

/** Init's first steps: its fixed descriptors reserved, itself undumpable and named. */
function prologue(b: InitBuilder, waits: boolean): void {
  // Copies of the status pipe hold the fixed numbers until the handles replace them.
  for (let i = 0; i < SCRATCH_FDS; i++) {
    b.step({
      nr: SYS.dup3,
      args: [b.fds.status, b.fds.scratch + i, O_CLOEXEC],
      label: "reserve init's descriptors",
    });
  }
  // An undumpable init: nothing in the container can open its /proc files or descriptors.
  b.step({ nr: SYS.prctl, args: [PR.SET_DUMPABLE, 0, 0, 0, 0], label: "prctl(PR_SET_DUMPABLE)" });
  b.step({
    nr: SYS.prctl,
    args: [PR.SET_NAME, cstrBuf("ocibox-init"), 0, 0, 0],
    label: "prctl(PR_SET_NAME)",
  });
  if (waits) {
    // The exec FIFO is reopened through this handle on the host's /proc/self/fd: it works
    // after pivot_root and the user switch, without the container's /proc or the state
    // directory's permissions.
    b.openFixed(b.procFds, {
      label: "open /proc/self/fd",
      dirfd: AT_FDCWD,
      path: "/proc/self/fd",
      flags: O_PATH | O_DIRECTORY,
      resolve: 0,
    });
  }
}

/** Lowers an operation on the process itself (and the pauses for the runtime). */
function lowerProcessOp(b: InitBuilder, op: Op): void {
  switch (op.op) {
    case "cgroupNamespace":
      return b.step({
        nr: SYS.unshare,
        args: [CLONE.NEWCGROUP],
        label: "new cgroup namespace",
      });
    case "sync":
      return sync(b, op.point);
    case "sethostname":
    case "setdomainname": {
      const name = cstrBuf(op.name);
      return b.step({
        nr: op.op === "sethostname" ? SYS.sethostname : SYS.setdomainname,
        args: [name, name.bytes.length - 1],
        label: `${op.op} ${op.name}`,
      });
    }
    case "setrlimit":
      return b.step({
        nr: SYS.prlimit64,
        args: [0, op.resource, u64Buf([op.soft, op.hard]), null],
        label: `setrlimit ${op.resource}`,
      });
    case "chdir":
      return b.step({ nr: SYS.chdir, args: [cstrBuf(op.path)], label: `chdir ${op.path}` });
    case "umask":
      return b.step({ nr: SYS.umask, args: [op.mask], label: "umask" });
    case "setgroups": {
      const gids = new Uint32Array(op.gids.length ? op.gids : [0]);
      return b.step({
        nr: SYS.setgroups,
        args: [op.gids.length, gids],
        label: "setgroups",
        // A user namespace may deny setgroups: that only matters when groups were asked for.
        ...(op.gids.length ? {} : { allow: [Errno.EPERM] }),
      });
    }
    case "setresgid":
      return b.step({
        nr: SYS.setresgid,
        args: [op.gid, op.gid, op.gid],
        label: `setresgid ${op.gid}`,
      });
    case "setresuid":
      return b.step({
        nr: SYS.setresuid,
        args: [op.uid, op.uid, op.uid],
        label: `setresuid ${op.uid}`,
      });
    case "keepCaps":
      return b.step({
        nr: SYS.prctl,
        args: [PR.SET_KEEPCAPS, op.on ? 1 : 0, 0, 0, 0],
        label: "prctl(PR_SET_KEEPCAPS)",
      });
    case "dropBounding":
      // Capabilities this kernel does not know are simply absent (EINVAL).
      for (let cap = 0; cap < 64; cap++) {
        if (hasCapability(op.keep, cap)) continue;
        b.step({
          nr: SYS.prctl,
          args: [PR.CAPBSET_DROP, cap, 0, 0, 0],
          label: `drop capability ${cap} from the bounding set`,
          allow: [EINVAL],
        });
      }
      return;
    case "capabilities":
      return capabilities(b, op);
    case "closeFds":
      return b.step({
        nr: SYS.closeRange,
        args: [3 + op.preserve, 0xffffffff, CLOSE_RANGE_CLOEXEC],
        label: "close_range",
      });
    case "created":
      return b.step({
        nr: SYS.write,
        args: [b.fds.status, u64Buf([RECORD.created, 0]), 16],
        label: "report created",
        expect: 16,
      });
    case "waitStart":
      return waitStart(b);
    case "resetSignals":
      // Deno ignores SIGPIPE and the runner blocks every signal; both survive execve. A
      // zeroed kernel struct sigaction is SIG_DFL with no flags on both architectures.
      b.step({
        nr: SYS.rtSigaction,
        args: [SIGPIPE, zerosBuf(32), null, 8],
        label: "reset SIGPIPE",
      });
      return b.step({
        nr: SYS.rtSigprocmask,
        args: [SIG_SETMASK, zerosBuf(8), null, 8],
        label: "unblock signals",
      });
    case "noNewPrivileges":
      return b.step({
        nr: SYS.prctl,
        args: [PR.SET_NO_NEW_PRIVS, 1, 0, 0, 0],
        label: "prctl(PR_SET_NO_NEW_PRIVS)",
      });
    case "seccomp":
      return b.step({
        nr: SYS.seccomp,
        args: [1, op.flags, fprog(op.program)],
        label: "load the seccomp filter",
      });
    case "exec":
      return exec(b, op);
    case "dumpable":
      return b.step({
        nr: SYS.prctl,
        args: [PR.SET_DUMPABLE, op.on ? 1 : 0, 0, 0, 0],
        label: "prctl(PR_SET_DUMPABLE)",
      });
    case "joinCgroup":
      return b.write(op.fd, "0", "join the cgroup");
    case "joinNamespace":
      return b.step({
        nr: SYS.setns,
        args: [op.fd, op.flag],
        label: `join the ${op.type} namespace`,
      });
    case "fork":
      return b.step({
        nr: SYS.clone,
        // The child becomes the runtime's own, so it can wait for it.
        args: [SIGCHLD | CLONE_PARENT, 0, 0, 0, 0],
        mode: "fork",
        label: "fork",
      });
    case "terminal":
      b.step({ nr: SYS.setsid, args: [], label: "setsid" });
      for (const to of [0, 1, 2]) {
        b.step({ nr: SYS.dup3, args: [op.fd, to, 0], label: "the pty as stdio" });
      }
      return b.step({
        nr: SYS.ioctl,
        args: [0, IOCTL.TIOCSCTTY, 0],
        label: "the pty as controlling terminal",
      });
  }
}

/** A pause: a record to the runtime, then its answer (the program's path, for "program"). */
function sync(b: InitBuilder, point: typeof SYNC_POINTS[number]): void {
  const label = `wait for the runtime (${point})`;
  b.step({
    nr: SYS.write,
    args: [b.fds.status, u64Buf([RECORD.sync, SYNC_POINTS.indexOf(point)]), 16],
    label,
    expect: 16,
  });
  if (point === "program") {
    b.programPath = zerosBuf(PROGRAM_PATH_MAX);
    b.step({
      nr: SYS.read,
      args: [b.fds.control, b.programPath, PROGRAM_PATH_MAX],
      label,
      expect: PROGRAM_PATH_MAX,
    });
  } else {
    b.step({ nr: SYS.read, args: [b.fds.control, zerosBuf(8), 1], label, expect: 1 });
  }
}
/** capset, then the ambient set (cleared, then each raised). */
function capabilities(b: InitBuilder, op: Extract<Op, { op: "capabilities" }>): void {
  const lo = (m: number) => m % 2 ** 32 >>> 0;
  const hi = (m: number) => Math.floor(m / 2 ** 32) >>> 0;
  b.step({
    nr: SYS.capset,
    args: [
      new Uint32Array([0x20080522, 0]),
      new Uint32Array([
        lo(op.effective),
        lo(op.permitted),
        lo(op.inheritable),
        hi(op.effective),
        hi(op.permitted),
        hi(op.inheritable),
      ]),
    ],
    label: "capset",
  });
  b.step({
    nr: SYS.prctl,
    args: [PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL, 0, 0, 0],
    label: "clear the ambient capabilities",
  });
  for (let cap = 0; cap < 64; cap++) {
    if (!hasCapability(op.ambient, cap)) continue;
    b.step({
      nr: SYS.prctl,
      args: [PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, cap, 0, 0],
      label: `raise ambient capability ${cap}`,
    });
  }
}
/** Blocks until `start` opens the exec FIFO, reopened through the host's /proc/self/fd. */
function waitStart(b: InitBuilder): void {
  const fifo = b.fds.fifo;
  if (fifo === undefined) throw new Error("waitStart needs the exec FIFO");
  const label = "wait for start";
  b.step({
    nr: SYS.openat,
    args: [b.procFds, cstrBuf(String(fifo)), O_WRONLY | O_CLOEXEC, 0],
    label,
    save: SLOT.tmp,
  });
  b.write(slot(SLOT.tmp), "0", label);
  b.step({ nr: SYS.close, args: [slot(SLOT.tmp)], label });
}
/** execve of the program: its path given, or the one the runtime sent at the "program" pause. */
function exec(b: InitBuilder, op: Extract<Op, { op: "exec" }>): void {
  const path = op.path === null ? b.programPath : cstrBuf(op.path);
  if (!path) throw new Error("exec without a path needs the program sync before it");
  b.step({
    nr: SYS.execve,
    args: [path, cstrArray(op.args), cstrArray(op.env)],
    label: `exec ${op.path ?? op.args[0]}`,
  });
}
