/**
 * Lowering of the operations on the container's file system, before pivot_root: the rootfs
 * handle, mounts, devices, symlinks, masked and read-only paths, sysctls, the console, and
 * pivot_root itself. Every path inside the container is opened relative to the rootfs handle
 * (mount targets beneath it, everything else in it as if it were `/`, see builder.ts), and
 * mount(2) gets the handles as /proc/self/fd/N through the host's /proc, which init still
 * sees until pivot_root.
 * @module
 */
import {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  IOCTL,
  O_CLOEXEC,
  O_DIRECTORY,
  O_NOCTTY,
  O_NOFOLLOW,
  O_PATH,
  O_RDWR,
  O_WRONLY,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
} from "../../../ffi/constants.ts";
import { Errno } from "../../../ffi/errno.ts";
import { cstrBuf, slot } from "../../../ffi/runner_program.ts";
import { SYS } from "../../../ffi/syscall_numbers.ts";
import { MS, type Op } from "../plan/ops.ts";
import { BENEATH, IN_ROOT, type InitBuilder, relative, SLOT } from "./builder.ts";
import { encodeDev, fdMessage, ifreqFlags, openHow } from "./structs.ts";

const ENOENT = Errno.ENOENT, ENOTDIR = Errno.ENOTDIR;
const MNT_DETACH = 2;

/** Lowers `op` if it is a file-system operation; false if it is not one. */
export function lowerFsOp(b: InitBuilder, op: Op): boolean {
  switch (op.op) {
    case "propagation":
      b.step({
        nr: SYS.mount,
        args: [null, cstrBuf(op.target), null, op.flags, null],
        label: `mount propagation of ${op.target}`,
      });
      break;
    case "bindRootfs":
      b.step({
        nr: SYS.mount,
        args: [cstrBuf(op.rootfs), cstrBuf(op.rootfs), null, MS.BIND | MS.REC, null],
        label: `bind the rootfs ${op.rootfs}`,
      });
      openRootfs(b, op.rootfs);
      break;
    case "openRootfs":
      openRootfs(b, op.rootfs);
      break;
    case "loopback":
      loopback(b);
      break;
    case "mount":
      mountOp(b, op);
      break;
    case "mknod":
      mknod(b, op);
      break;
    case "bindDevice": {
      const label = `bind device ${op.source} on ${op.path}`;
      b.openFixed(b.target, {
        label,
        path: op.path,
        flags: O_PATH,
        resolve: IN_ROOT,
        ensure: "file",
      });
      b.mount(op.source, b.target, null, MS.BIND, null, label);
      break;
    }
    case "symlink": {
      const label = `symlink ${op.path} -> ${op.target}`;
      const base = b.parent(op.path, label);
      b.step({
        nr: SYS.unlinkat,
        args: [slot(SLOT.dir), cstrBuf(base), 0],
        label,
        allow: [ENOENT],
      });
      b.step({
        nr: SYS.symlinkat,
        args: [cstrBuf(op.target), slot(SLOT.dir), cstrBuf(base)],
        label,
      });
      b.step({ nr: SYS.close, args: [slot(SLOT.dir)], label });
      break;
    }
    case "mkdirAll":
      b.mkdirs(relative(op.path), "dir", IN_ROOT, `create the directory ${op.path}`);
      break;
    case "mask":
      mask(b, op.path);
      break;
    case "readonly":
      readonly(b, op.path);
      break;
    case "readonlyRoot":
      b.mount(
        null,
        b.root,
        null,
        MS.REMOUNT | MS.BIND | MS.RDONLY,
        null,
        "remount the rootfs read-only",
      );
      break;
    case "console":
      consoleOp(b, op);
      break;
    case "oomScoreAdj":
      writeFile(b, AT_FDCWD, "/proc/self/oom_score_adj", String(op.value), "set oom_score_adj");
      break;
    case "sysctl":
      writeFile(
        b,
        b.root,
        `/proc/sys/${op.key.replaceAll(".", "/")}`,
        op.value,
        `sysctl ${op.key}`,
      );
      break;
    case "pivotRoot":
      pivot(b, op.rootfs, op.mode);
      break;
    default:
      return false;
  }
  return true;
}

/** A handle on the rootfs at its fixed number. */
function openRootfs(b: InitBuilder, rootfs: string): void {
  b.openFixed(b.root, {
    label: `open the rootfs ${rootfs}`,
    dirfd: AT_FDCWD,
    path: rootfs,
    flags: O_PATH | O_DIRECTORY,
    resolve: 0,
  });
}
/** The loopback interface of a new network namespace up, as runc brings it up. */
function loopback(b: InitBuilder): void {
  const AF_INET = 2, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0o2000000;
  const IFF_UP = 0x1, IFF_LOOPBACK = 0x8, IFF_RUNNING = 0x40;
  const ifreq = ifreqFlags("lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING);
  const label = "bring the loopback interface up";
  b.step({
    nr: SYS.socket,
    args: [AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0],
    label,
    save: SLOT.tmp,
  });
  b.step({ nr: SYS.ioctl, args: [slot(SLOT.tmp), IOCTL.SIOCSIFFLAGS, ifreq], label });
  b.step({ nr: SYS.close, args: [slot(SLOT.tmp)], label });
}
/** A mount onto its target's handle; then its propagation and read-only remount, if any. */
function mountOp(b: InitBuilder, op: Extract<Op, { op: "mount" }>): void {
  const remount = (op.flags & MS.REMOUNT) !== 0;
  const label = remount
    ? `remount ${op.target}`
    : `mount ${op.source ?? op.fstype} on ${op.target}`;
  const resolve = (what: string) =>
    b.openFixed(b.target, {
      label: `${label} (${what})`,
      path: op.target,
      flags: O_PATH,
      resolve: BENEATH,
      ...(remount ? {} : { ensure: op.kind }),
    });
  resolve("its target");
  b.mount(op.source, b.target, op.fstype, op.flags, op.data, label);
  if (op.propagation.length === 0 && op.remountFlags === undefined) return;
  // Reopened: the first handle names what is under the new mount, not the mount itself.
  resolve("the new mount");
  for (const flags of op.propagation) {
    b.mount(null, b.target, null, flags, null, `${label} (propagation)`);
  }
  if (op.remountFlags !== undefined) {
    b.mount(
      null,
      b.target,
      null,
      MS.REMOUNT | MS.BIND | op.remountFlags,
      null,
      `${label} (remount)`,
    );
  }
}
/** A device node (or FIFO) with the owner and the exact mode asked for. */
function mknod(b: InitBuilder, op: Extract<Op, { op: "mknod" }>): void {
  const label = `mknod ${op.path}`;
  const base = b.parent(op.path, label);
  const type = op.type === "b" ? S_IFBLK : op.type === "p" ? S_IFIFO : S_IFCHR;
  const name = cstrBuf(base);
  const mode = op.mode & 0o7777;
  b.step({ nr: SYS.unlinkat, args: [slot(SLOT.dir), name, 0], label, allow: [ENOENT] });
  b.step({
    nr: SYS.mknodat,
    args: [slot(SLOT.dir), name, type | mode, encodeDev(op.major, op.minor)],
    label,
  });
  b.step({
    nr: SYS.fchownat,
    args: [slot(SLOT.dir), name, op.uid, op.gid, AT_SYMLINK_NOFOLLOW],
    label,
  });
  // The umask applied to mknodat's mode; the mode asked for is set as it is.
  b.step({ nr: SYS.fchmodat, args: [slot(SLOT.dir), name, mode], label });
  b.step({ nr: SYS.close, args: [slot(SLOT.dir)], label });
}
/** Opens `path` for writing (in the rootfs, or from `dirfd`), writes `text`, closes it. */
function writeFile(b: InitBuilder, dirfd: number, path: string, text: string, label: string): void {
  const inRoot = dirfd === b.root;
  b.step({
    nr: SYS.openat2,
    args: [
      dirfd,
      cstrBuf(inRoot ? relative(path) : path),
      openHow(O_WRONLY, inRoot ? IN_ROOT : 0),
      24,
    ],
    label,
    save: SLOT.tmp,
  });
  b.write(slot(SLOT.tmp), text, label);
  b.step({ nr: SYS.close, args: [slot(SLOT.tmp)], label });
}
/**
 * /dev/null over a file, an empty read-only tmpfs over a directory; symlinks are not followed.
 * /dev/null is opened on the file branch of each mask: an open shared by all masks would be
 * skipped at run time whenever the first masked path is missing (/proc/kcore, /proc/acpi on
 * some machines), leaving later masks to bind a descriptor that was never opened (EINVAL).
 */
function mask(b: InitBuilder, path: string): void {
  const label = `mask ${path}`;
  const done = b.mark(), file = b.mark();
  b.openFixed(b.target, {
    label,
    path,
    flags: O_PATH | O_NOFOLLOW,
    resolve: IN_ROOT,
    missing: done,
    allowMissing: [ENOENT, ENOTDIR],
  });
  b.mount("tmpfs", b.target, "tmpfs", MS.RDONLY, null, label, {
    allow: [ENOTDIR],
    onError: file,
    onOk: done,
  });
  b.at(file);
  b.openFixed(b.source, {
    label: "open the container's /dev/null",
    path: "/dev/null",
    flags: O_PATH,
    resolve: IN_ROOT,
  });
  b.mount(b.fdPath(b.source), b.target, null, MS.BIND, null, label);
  b.at(done);
}
/** A path bound onto itself and remounted read-only. */
function readonly(b: InitBuilder, path: string): void {
  const label = `make ${path} read-only`;
  const done = b.mark();
  const open = () =>
    b.openFixed(b.target, {
      label,
      path,
      flags: O_PATH,
      resolve: IN_ROOT,
      missing: done,
    });
  open();
  b.mount(b.fdPath(b.target), b.target, null, MS.BIND | MS.REC, null, label);
  open();
  b.mount(null, b.target, null, MS.REMOUNT | MS.BIND | MS.RDONLY, null, label);
  b.at(done);
}
/**
 * The pty from the container's devpts: the slave as controlling terminal, stdio and
 * /dev/console; the master sent over the console socket (runc names it "/dev/ptmx").
 */
function consoleOp(b: InitBuilder, op: Extract<Op, { op: "console" }>): void {
  const label = "set up the console";
  b.step({
    nr: SYS.openat2,
    args: [b.root, cstrBuf("dev/ptmx"), openHow(O_RDWR | O_NOCTTY, IN_ROOT), 24],
    label: "open the container's /dev/ptmx",
    save: SLOT.master,
  });
  b.step({
    nr: SYS.ioctl,
    args: [slot(SLOT.master), IOCTL.TIOCSPTLCK, new Int32Array([0])],
    label: "unlock the pty",
  });
  if (op.rows && op.cols) {
    const ws = new Uint16Array([op.rows, op.cols, 0, 0]);
    b.step({
      nr: SYS.ioctl,
      args: [slot(SLOT.master), IOCTL.TIOCSWINSZ, ws],
      label: "set the console size",
    });
  }
  b.step({
    nr: SYS.ioctl,
    args: [slot(SLOT.master), IOCTL.TIOCGPTPEER, O_RDWR | O_NOCTTY],
    label: "open the pty's slave",
    save: SLOT.slave,
  });
  b.step({ nr: SYS.setsid, args: [], label: "setsid" });
  b.step({
    nr: SYS.ioctl,
    args: [slot(SLOT.slave), IOCTL.TIOCSCTTY, 0],
    label: "the pty as controlling terminal",
  });
  for (const to of [0, 1, 2]) {
    b.step({ nr: SYS.dup3, args: [slot(SLOT.slave), to, 0], label: "the pty as stdio" });
  }
  b.openFixed(b.target, {
    label: "create /dev/console",
    path: "/dev/console",
    flags: O_PATH,
    resolve: IN_ROOT,
    ensure: "file",
  });
  b.mount(b.fdPath(0), b.target, null, MS.BIND, null, "bind the pty on /dev/console");
  // The master at a fixed number, so the SCM_RIGHTS message is plain data.
  b.step({
    nr: SYS.dup3,
    args: [slot(SLOT.master), b.master, O_CLOEXEC],
    label,
  });
  b.step({
    nr: SYS.sendmsg,
    args: [op.socketFd, fdMessage("/dev/ptmx", b.master), 0],
    label: "send the pty to the console socket",
  });
  for (const fd of [slot(SLOT.master), slot(SLOT.slave), b.master, op.socketFd]) {
    b.step({ nr: SYS.close, args: [fd], label });
  }
}
/** The rootfs becomes `/`: pivot_root with the old root detached, MS_MOVE + chroot, or chroot. */
function pivot(b: InitBuilder, rootfs: string, mode: "pivot" | "move" | "chroot"): void {
  const label = mode === "pivot" ? "pivot_root" : mode === "move" ? "move the rootfs" : "chroot";
  b.step({ nr: SYS.fchdir, args: [b.root], label });
  if (mode === "pivot") {
    // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only
    // the rootfs reachable (no put_old directory needed).
    const dot = cstrBuf(".");
    b.step({ nr: SYS.pivotRoot, args: [dot, dot], label });
    b.step({
      nr: SYS.mount,
      args: [null, dot, null, MS.SLAVE | MS.REC, null],
      label: "detach the old root",
    });
    b.step({ nr: SYS.umount2, args: [dot, MNT_DETACH], label: "detach the old root" });
  } else {
    if (mode === "move") {
      b.step({
        nr: SYS.mount,
        args: [cstrBuf(rootfs), cstrBuf("/"), null, MS.MOVE, null],
        label,
      });
    }
    b.step({ nr: SYS.chroot, args: [cstrBuf(".")], label });
  }
  b.step({ nr: SYS.chdir, args: [cstrBuf("/")], label: "chdir /" });
}
