/**
 * Plan operations → a syscall-runner program (ffi/runner_program.ts). This is the one place
 * that knows how each operation becomes system calls; the container's init (create) and a
 * process `exec`'d into a container run what it produces, so both carry out the planner's
 * order, and nothing else decides it.
 *
 * Before pivot_root every path inside the container is opened relative to a handle on the
 * rootfs with openat2: mount targets with RESOLVE_BENEATH (a symlink that leaves the rootfs,
 * absolute or climbing above it, is refused), everything else with RESOLVE_IN_ROOT (symlinks
 * are followed as if the rootfs were `/`). mount(2) then gets the handle as
 * /proc/self/fd/N, through the host's /proc, which init can still see until pivot_root. So
 * handles live at fixed descriptor numbers ({@linkcode InitFds}) and mount paths are plain
 * data.
 *
 * Pure: it only builds data; unit tests run its output through the runner's simulator.
 * @module
 */
import {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  CLONE,
  CLONE_PARENT,
  CLOSE_RANGE_CLOEXEC,
  IOCTL,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOCTTY,
  O_NOFOLLOW,
  O_PATH,
  O_RDWR,
  O_WRONLY,
  PR,
  RESOLVE_BENEATH,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  SIGCHLD,
} from "../../../ffi/constants.ts";
import { Errno } from "../../../ffi/errno.ts";
import {
  Buf,
  cstrArray,
  cstrBuf,
  type Item,
  slot,
  type Step,
  u64Buf,
  zerosBuf,
} from "../../../ffi/runner_program.ts";
import { SYS } from "../../../ffi/syscall_numbers.ts";
import { hasCapability } from "../plan/capabilities.ts";
import { MS, type Op } from "../plan/ops.ts";

/**
 * Init's own descriptors, at fixed numbers: the runtime's pipes and FIFO handle as it passes
 * them, then scratch handles from `scratch` on.
 */
export interface InitFds {
  /** Records to the runtime (sync points, created, failures). */
  status: number;
  /** Answers from the runtime (continue; the program's path). */
  control: number;
  /** The exec FIFO, open O_PATH. */
  fifo?: number;
  /** The first of {@linkcode SCRATCH_FDS} numbers init may use for its handles. */
  scratch: number;
}

/** How many scratch descriptors init uses. */
export const SCRATCH_FDS = 5;

/** The first word of records init writes itself (after the runner's fork record, ~0). */
export const RECORD = {
  sync: 0xfffffffffffffff0n,
  created: 0xfffffffffffffff1n,
} as const;

/** Which sync point a record's second word names. */
export const SYNC_POINTS = ["cgroup", "hooks", "program"] as const;

/** The length of the buffer init reads the program's path into (a pipe's atomic write). */
export const PROGRAM_PATH_MAX = 4096;

const SLOT = { tmp: 0, dir: 1, master: 2, slave: 3 } as const;
const EINVAL = Errno.EINVAL, ENOENT = Errno.ENOENT, EEXIST = Errno.EEXIST;
const ENOTDIR = Errno.ENOTDIR;
const MNT_DETACH = 2;
const SIGPIPE = 13;
const SIG_SETMASK = 2;

/** How mount targets and other container paths are resolved before pivot_root. */
const BENEATH = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
const IN_ROOT = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

/** struct open_how {u64 flags, mode, resolve}. */
function openHow(flags: number, resolve: number): Buf {
  return u64Buf([flags | O_CLOEXEC, 0, resolve]);
}

/** A container path as openat2 takes it relative to the rootfs handle. */
function relative(path: string): string {
  return path.replace(/^\/+/, "") || ".";
}

/** dev_t as mknodat(2) takes it (new_encode_dev). */
function encodeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

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
  return new Lowering(options).lower(ops);
}

class Lowering {
  readonly items: Item[] = [];
  #marks = 0;
  #programPath: Buf | undefined;
  #devNull = false;

  constructor(readonly options: LowerOptions) {}

  get fds(): InitFds {
    if (!this.options.fds) throw new Error("this operation needs init's descriptors");
    return this.options.fds;
  }

  /** Fixed descriptor numbers of init's handles. */
  get root(): number {
    return this.fds.scratch;
  }
  get target(): number {
    return this.fds.scratch + 1;
  }
  get source(): number {
    return this.fds.scratch + 2;
  }
  get procFds(): number {
    return this.fds.scratch + 3;
  }
  get master(): number {
    return this.fds.scratch + 4;
  }

  fdPath(fd: number): Buf {
    return cstrBuf(`/proc/self/fd/${fd}`);
  }

  mark(): string {
    return `m${this.#marks++}`;
  }

  step(s: Step): void {
    this.items.push(s);
  }

  at(mark: string): void {
    this.items.push({ mark });
  }

  lower(ops: readonly Op[]): Item[] {
    if (this.options.fds) {
      // The fixed numbers are taken up front (by copies of the status pipe), so no descriptor
      // opened on the way can land on one and be replaced when a handle is moved there.
      for (let i = 0; i < SCRATCH_FDS; i++) {
        this.step({
          nr: SYS.dup3,
          args: [this.fds.status, this.fds.scratch + i, O_CLOEXEC],
          label: "reserve init's descriptors",
        });
      }
      // An undumpable init: nothing in the container can open its /proc files or descriptors.
      this.step({
        nr: SYS.prctl,
        args: [PR.SET_DUMPABLE, 0, 0, 0, 0],
        label: "prctl(PR_SET_DUMPABLE)",
      });
      this.step({
        nr: SYS.prctl,
        args: [PR.SET_NAME, cstrBuf("ocibox-init"), 0, 0, 0],
        label: "prctl(PR_SET_NAME)",
      });
      if (ops.some((o) => o.op === "waitStart")) {
        // The exec FIFO is reopened through this handle on the host's /proc/self/fd: it works
        // after pivot_root and the user switch, without the container's /proc or the state
        // directory's permissions.
        this.openFixed(this.procFds, {
          label: "open /proc/self/fd",
          dirfd: AT_FDCWD,
          path: "/proc/self/fd",
          flags: O_PATH | O_DIRECTORY,
          resolve: 0,
        });
      }
    }
    for (const op of ops) this.op(op);
    return this.items;
  }

  /**
   * Opens `path` (openat2 from `dirfd`) at the fixed descriptor `fd`. `ensure` creates missing
   * directories (and a last file) first; `missing` jumps there when it does not exist.
   */
  openFixed(
    fd: number,
    o: {
      label: string;
      dirfd?: number;
      path: string;
      flags: number;
      resolve: number;
      ensure?: "dir" | "file";
      missing?: string;
      allowMissing?: number[];
    },
  ): void {
    const dirfd = o.dirfd ?? this.root;
    const rel = dirfd === this.root ? relative(o.path) : o.path;
    const how = openHow(o.flags, o.resolve);
    const open: Step = {
      nr: SYS.openat2,
      args: [dirfd, cstrBuf(rel), how, 24],
      label: o.label,
      save: SLOT.tmp,
      explain: { [Errno.EXDEV]: "the path leaves the rootfs through a symlink" },
    };
    const got = this.mark();
    if (o.ensure) {
      const make = this.mark();
      this.step({ ...open, allow: [ENOENT], onError: make, onOk: got });
      this.at(make);
      this.mkdirs(rel, o.ensure, o.resolve, o.label);
      this.step(open);
    } else if (o.missing) {
      this.step({ ...open, allow: o.allowMissing ?? [ENOENT], onError: o.missing });
    } else this.step(open);
    this.at(got);
    this.step({ nr: SYS.dup3, args: [slot(SLOT.tmp), fd, O_CLOEXEC], label: o.label });
    this.step({ nr: SYS.close, args: [slot(SLOT.tmp)], label: o.label });
  }

  /** mkdir -p of `rel` inside the rootfs (the last component a file for "file"). */
  mkdirs(rel: string, kind: "dir" | "file", resolve: number, label: string): void {
    const parts = rel.split("/").filter((p) => p && p !== ".");
    parts.forEach((name, i) => {
      const parent = parts.slice(0, i).join("/") || ".";
      this.step({
        nr: SYS.openat2,
        args: [this.root, cstrBuf(parent), openHow(O_PATH | O_DIRECTORY, resolve), 24],
        label,
        save: SLOT.dir,
        explain: { [Errno.EXDEV]: "the path leaves the rootfs through a symlink" },
      });
      if (i === parts.length - 1 && kind === "file") {
        const made = this.mark();
        this.step({
          nr: SYS.openat,
          args: [
            slot(SLOT.dir),
            cstrBuf(name),
            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
            O_CLOEXEC,
            0o644,
          ],
          label,
          allow: [EEXIST],
          onError: made,
          save: SLOT.tmp,
        });
        this.step({ nr: SYS.close, args: [slot(SLOT.tmp)], label });
        this.at(made);
      } else {
        this.step({
          nr: SYS.mkdirat,
          args: [slot(SLOT.dir), cstrBuf(name), 0o755],
          label,
          allow: [EEXIST],
        });
      }
      this.step({ nr: SYS.close, args: [slot(SLOT.dir)], label });
    });
  }

  /** The parent directory of `path` (created as needed) in the `dir` slot, and the last name. */
  parent(path: string, label: string): string {
    const i = path.lastIndexOf("/");
    const parent = i <= 0 ? "/" : path.slice(0, i);
    const base = path.slice(i + 1);
    if (!base || base === "." || base === "..") throw new Error(`bad path ${path}`);
    const rel = relative(parent);
    const open: Step = {
      nr: SYS.openat2,
      args: [this.root, cstrBuf(rel), openHow(O_PATH | O_DIRECTORY, IN_ROOT), 24],
      label,
      save: SLOT.dir,
    };
    const got = this.mark(), make = this.mark();
    this.step({ ...open, allow: [ENOENT], onError: make, onOk: got });
    this.at(make);
    this.mkdirs(rel, "dir", IN_ROOT, label);
    this.step(open);
    this.at(got);
    return base;
  }

  mount(
    source: string | Buf | null,
    target: number,
    fstype: string | null,
    flags: number,
    data: string | null,
    label: string,
    extra: Partial<Step> = {},
  ): void {
    this.step({
      nr: SYS.mount,
      args: [
        typeof source === "string" ? cstrBuf(source) : source,
        this.fdPath(target),
        fstype === null ? null : cstrBuf(fstype),
        flags,
        data === null ? null : cstrBuf(data),
      ],
      label,
      ...extra,
    });
  }

  write(fd: number | ReturnType<typeof slot>, text: string, label: string): void {
    const bytes = cstrBuf(text);
    this.step({
      nr: SYS.write,
      args: [fd, bytes, bytes.bytes.length - 1],
      label,
      expect: bytes.bytes.length - 1,
    });
  }

  op(op: Op): void {
    switch (op.op) {
      case "cgroupNamespace":
        return this.step({
          nr: SYS.unshare,
          args: [CLONE.NEWCGROUP],
          label: "new cgroup namespace",
        });
      case "propagation":
        return this.step({
          nr: SYS.mount,
          args: [null, cstrBuf(op.target), null, op.flags, null],
          label: `mount propagation of ${op.target}`,
        });
      case "bindRootfs":
        this.step({
          nr: SYS.mount,
          args: [cstrBuf(op.rootfs), cstrBuf(op.rootfs), null, MS.BIND | MS.REC, null],
          label: `bind the rootfs ${op.rootfs}`,
        });
        return this.openRootfs(op.rootfs);
      case "openRootfs":
        return this.openRootfs(op.rootfs);
      case "loopback":
        return this.loopback();
      case "mount":
        return this.mountOp(op);
      case "mknod":
        return this.mknod(op);
      case "bindDevice": {
        const label = `bind device ${op.source} on ${op.path}`;
        this.openFixed(this.target, {
          label,
          path: op.path,
          flags: O_PATH,
          resolve: IN_ROOT,
          ensure: "file",
        });
        return this.mount(op.source, this.target, null, MS.BIND, null, label);
      }
      case "symlink": {
        const label = `symlink ${op.path} -> ${op.target}`;
        const base = this.parent(op.path, label);
        this.step({
          nr: SYS.unlinkat,
          args: [slot(SLOT.dir), cstrBuf(base), 0],
          label,
          allow: [ENOENT],
        });
        this.step({
          nr: SYS.symlinkat,
          args: [cstrBuf(op.target), slot(SLOT.dir), cstrBuf(base)],
          label,
        });
        return this.step({ nr: SYS.close, args: [slot(SLOT.dir)], label });
      }
      case "mkdirAll":
        this.mkdirs(relative(op.path), "dir", IN_ROOT, `create the directory ${op.path}`);
        return;
      case "sync":
        return this.sync(op.point);
      case "mask":
        return this.mask(op.path);
      case "readonly":
        return this.readonly(op.path);
      case "readonlyRoot":
        return this.mount(
          null,
          this.root,
          null,
          MS.REMOUNT | MS.BIND | MS.RDONLY,
          null,
          "remount the rootfs read-only",
        );
      case "console":
        return this.console(op);
      case "oomScoreAdj":
        return this.writeFile(
          AT_FDCWD,
          "/proc/self/oom_score_adj",
          String(op.value),
          "set oom_score_adj",
        );
      case "pivotRoot":
        return this.pivot(op.rootfs, op.mode);
      case "sethostname":
      case "setdomainname": {
        const name = cstrBuf(op.name);
        return this.step({
          nr: op.op === "sethostname" ? SYS.sethostname : SYS.setdomainname,
          args: [name, name.bytes.length - 1],
          label: `${op.op} ${op.name}`,
        });
      }
      case "sysctl":
        return this.writeFile(
          this.root,
          `/proc/sys/${op.key.replaceAll(".", "/")}`,
          op.value,
          `sysctl ${op.key}`,
        );
      case "setrlimit":
        return this.step({
          nr: SYS.prlimit64,
          args: [0, op.resource, u64Buf([op.soft, op.hard]), null],
          label: `setrlimit ${op.resource}`,
        });
      case "chdir":
        return this.step({ nr: SYS.chdir, args: [cstrBuf(op.path)], label: `chdir ${op.path}` });
      case "umask":
        return this.step({ nr: SYS.umask, args: [op.mask], label: "umask" });
      case "setgroups": {
        const gids = new Uint32Array(op.gids.length ? op.gids : [0]);
        return this.step({
          nr: SYS.setgroups,
          args: [op.gids.length, gids],
          label: "setgroups",
          // A user namespace may deny setgroups: that only matters when groups were asked for.
          ...(op.gids.length ? {} : { allow: [Errno.EPERM] }),
        });
      }
      case "setresgid":
        return this.step({
          nr: SYS.setresgid,
          args: [op.gid, op.gid, op.gid],
          label: `setresgid ${op.gid}`,
        });
      case "setresuid":
        return this.step({
          nr: SYS.setresuid,
          args: [op.uid, op.uid, op.uid],
          label: `setresuid ${op.uid}`,
        });
      case "keepCaps":
        return this.step({
          nr: SYS.prctl,
          args: [PR.SET_KEEPCAPS, op.on ? 1 : 0, 0, 0, 0],
          label: "prctl(PR_SET_KEEPCAPS)",
        });
      case "dropBounding":
        // Capabilities this kernel does not know are simply absent (EINVAL).
        for (let cap = 0; cap < 64; cap++) {
          if (hasCapability(op.keep, cap)) continue;
          this.step({
            nr: SYS.prctl,
            args: [PR.CAPBSET_DROP, cap, 0, 0, 0],
            label: `drop capability ${cap} from the bounding set`,
            allow: [EINVAL],
          });
        }
        return;
      case "capabilities":
        return this.capabilities(op);
      case "closeFds":
        return this.step({
          nr: SYS.closeRange,
          args: [3 + op.preserve, 0xffffffff, CLOSE_RANGE_CLOEXEC],
          label: "close_range",
        });
      case "created":
        return this.step({
          nr: SYS.write,
          args: [this.fds.status, u64Buf([RECORD.created, 0]), 16],
          label: "report created",
          expect: 16,
        });
      case "waitStart":
        return this.waitStart();
      case "resetSignals":
        // Deno ignores SIGPIPE and the runner blocks every signal; both survive execve. A
        // zeroed kernel struct sigaction is SIG_DFL with no flags on both architectures.
        this.step({
          nr: SYS.rtSigaction,
          args: [SIGPIPE, zerosBuf(32), null, 8],
          label: "reset SIGPIPE",
        });
        return this.step({
          nr: SYS.rtSigprocmask,
          args: [SIG_SETMASK, zerosBuf(8), null, 8],
          label: "unblock signals",
        });
      case "noNewPrivileges":
        return this.step({
          nr: SYS.prctl,
          args: [PR.SET_NO_NEW_PRIVS, 1, 0, 0, 0],
          label: "prctl(PR_SET_NO_NEW_PRIVS)",
        });
      case "seccomp":
        return this.step({
          nr: SYS.seccomp,
          args: [1, op.flags, fprog(op.program)],
          label: "load the seccomp filter",
        });
      case "exec":
        return this.exec(op);
      case "dumpable":
        return this.step({
          nr: SYS.prctl,
          args: [PR.SET_DUMPABLE, op.on ? 1 : 0, 0, 0, 0],
          label: "prctl(PR_SET_DUMPABLE)",
        });
      case "joinCgroup":
        return this.write(op.fd, "0", "join the cgroup");
      case "joinNamespace":
        return this.step({
          nr: SYS.setns,
          args: [op.fd, op.flag],
          label: `join the ${op.type} namespace`,
        });
      case "fork":
        return this.step({
          nr: SYS.clone,
          // The child becomes the runtime's own, so it can wait for it.
          args: [SIGCHLD | CLONE_PARENT, 0, 0, 0, 0],
          mode: "fork",
          label: "fork",
        });
      case "terminal":
        this.step({ nr: SYS.setsid, args: [], label: "setsid" });
        for (const to of [0, 1, 2]) {
          this.step({ nr: SYS.dup3, args: [op.fd, to, 0], label: "the pty as stdio" });
        }
        return this.step({
          nr: SYS.ioctl,
          args: [0, IOCTL.TIOCSCTTY, 0],
          label: "the pty as controlling terminal",
        });
    }
  }

  openRootfs(rootfs: string): void {
    this.openFixed(this.root, {
      label: `open the rootfs ${rootfs}`,
      dirfd: AT_FDCWD,
      path: rootfs,
      flags: O_PATH | O_DIRECTORY,
      resolve: 0,
    });
  }

  loopback(): void {
    const AF_INET = 2, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0o2000000;
    const IFF_UP = 0x1, IFF_LOOPBACK = 0x8, IFF_RUNNING = 0x40;
    // struct ifreq: the name, then ifr_flags (a short) at offset 16.
    const ifreq = new Uint8Array(40);
    ifreq.set(new TextEncoder().encode("lo"));
    new DataView(ifreq.buffer).setInt16(16, IFF_UP | IFF_LOOPBACK | IFF_RUNNING, true);
    const label = "bring the loopback interface up";
    this.step({
      nr: SYS.socket,
      args: [AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0],
      label,
      save: SLOT.tmp,
    });
    this.step({ nr: SYS.ioctl, args: [slot(SLOT.tmp), IOCTL.SIOCSIFFLAGS, ifreq], label });
    this.step({ nr: SYS.close, args: [slot(SLOT.tmp)], label });
  }

  mountOp(op: Extract<Op, { op: "mount" }>): void {
    const remount = (op.flags & MS.REMOUNT) !== 0;
    const label = remount
      ? `remount ${op.target}`
      : `mount ${op.source ?? op.fstype} on ${op.target}`;
    const resolve = (what: string) =>
      this.openFixed(this.target, {
        label: `${label} (${what})`,
        path: op.target,
        flags: O_PATH,
        resolve: BENEATH,
        ...(remount ? {} : { ensure: op.kind }),
      });
    resolve("its target");
    this.mount(op.source, this.target, op.fstype, op.flags, op.data, label);
    if (op.propagation.length === 0 && op.remountFlags === undefined) return;
    // Reopened: the first handle names what is under the new mount, not the mount itself.
    resolve("the new mount");
    for (const flags of op.propagation) {
      this.mount(null, this.target, null, flags, null, `${label} (propagation)`);
    }
    if (op.remountFlags !== undefined) {
      this.mount(
        null,
        this.target,
        null,
        MS.REMOUNT | MS.BIND | op.remountFlags,
        null,
        `${label} (remount)`,
      );
    }
  }

  mknod(op: Extract<Op, { op: "mknod" }>): void {
    const label = `mknod ${op.path}`;
    const base = this.parent(op.path, label);
    const type = op.type === "b" ? S_IFBLK : op.type === "p" ? S_IFIFO : S_IFCHR;
    const name = cstrBuf(base);
    const mode = op.mode & 0o7777;
    this.step({ nr: SYS.unlinkat, args: [slot(SLOT.dir), name, 0], label, allow: [ENOENT] });
    this.step({
      nr: SYS.mknodat,
      args: [slot(SLOT.dir), name, type | mode, encodeDev(op.major, op.minor)],
      label,
    });
    this.step({
      nr: SYS.fchownat,
      args: [slot(SLOT.dir), name, op.uid, op.gid, AT_SYMLINK_NOFOLLOW],
      label,
    });
    // The umask applied to mknodat's mode; the mode asked for is set as it is.
    this.step({ nr: SYS.fchmodat, args: [slot(SLOT.dir), name, mode], label });
    this.step({ nr: SYS.close, args: [slot(SLOT.dir)], label });
  }

  sync(point: typeof SYNC_POINTS[number]): void {
    const label = `wait for the runtime (${point})`;
    this.step({
      nr: SYS.write,
      args: [this.fds.status, u64Buf([RECORD.sync, SYNC_POINTS.indexOf(point)]), 16],
      label,
      expect: 16,
    });
    if (point === "program") {
      this.#programPath = zerosBuf(PROGRAM_PATH_MAX);
      this.step({
        nr: SYS.read,
        args: [this.fds.control, this.#programPath, PROGRAM_PATH_MAX],
        label,
        expect: PROGRAM_PATH_MAX,
      });
    } else {
      this.step({ nr: SYS.read, args: [this.fds.control, zerosBuf(8), 1], label, expect: 1 });
    }
  }

  /** Opens `path` for writing (in the rootfs, or from `dirfd`), writes `text`, closes it. */
  writeFile(dirfd: number, path: string, text: string, label: string): void {
    const inRoot = dirfd === this.root;
    this.step({
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
    this.write(slot(SLOT.tmp), text, label);
    this.step({ nr: SYS.close, args: [slot(SLOT.tmp)], label });
  }

  /** /dev/null over a file, an empty read-only tmpfs over a directory; symlinks are not followed. */
  mask(path: string): void {
    const label = `mask ${path}`;
    const done = this.mark(), file = this.mark();
    this.openFixed(this.target, {
      label,
      path,
      flags: O_PATH | O_NOFOLLOW,
      resolve: IN_ROOT,
      missing: done,
      allowMissing: [ENOENT, ENOTDIR],
    });
    if (!this.#devNull) {
      this.openFixed(this.source, {
        label: "open the container's /dev/null",
        path: "/dev/null",
        flags: O_PATH,
        resolve: IN_ROOT,
      });
      this.#devNull = true;
    }
    this.mount("tmpfs", this.target, "tmpfs", MS.RDONLY, null, label, {
      allow: [ENOTDIR],
      onError: file,
      onOk: done,
    });
    this.at(file);
    this.mount(this.fdPath(this.source), this.target, null, MS.BIND, null, label);
    this.at(done);
  }

  readonly(path: string): void {
    const label = `make ${path} read-only`;
    const done = this.mark();
    const open = () =>
      this.openFixed(this.target, {
        label,
        path,
        flags: O_PATH,
        resolve: IN_ROOT,
        missing: done,
      });
    open();
    this.mount(this.fdPath(this.target), this.target, null, MS.BIND | MS.REC, null, label);
    open();
    this.mount(null, this.target, null, MS.REMOUNT | MS.BIND | MS.RDONLY, null, label);
    this.at(done);
  }

  /**
   * The pty from the container's devpts: the slave as controlling terminal, stdio and
   * /dev/console; the master sent over the console socket (runc names it "/dev/ptmx").
   */
  console(op: Extract<Op, { op: "console" }>): void {
    const label = "set up the console";
    this.step({
      nr: SYS.openat2,
      args: [this.root, cstrBuf("dev/ptmx"), openHow(O_RDWR | O_NOCTTY, IN_ROOT), 24],
      label: "open the container's /dev/ptmx",
      save: SLOT.master,
    });
    this.step({
      nr: SYS.ioctl,
      args: [slot(SLOT.master), IOCTL.TIOCSPTLCK, new Int32Array([0])],
      label: "unlock the pty",
    });
    if (op.rows && op.cols) {
      const ws = new Uint16Array([op.rows, op.cols, 0, 0]);
      this.step({
        nr: SYS.ioctl,
        args: [slot(SLOT.master), IOCTL.TIOCSWINSZ, ws],
        label: "set the console size",
      });
    }
    this.step({
      nr: SYS.ioctl,
      args: [slot(SLOT.master), IOCTL.TIOCGPTPEER, O_RDWR | O_NOCTTY],
      label: "open the pty's slave",
      save: SLOT.slave,
    });
    this.step({ nr: SYS.setsid, args: [], label: "setsid" });
    this.step({
      nr: SYS.ioctl,
      args: [slot(SLOT.slave), IOCTL.TIOCSCTTY, 0],
      label: "the pty as controlling terminal",
    });
    for (const to of [0, 1, 2]) {
      this.step({ nr: SYS.dup3, args: [slot(SLOT.slave), to, 0], label: "the pty as stdio" });
    }
    this.openFixed(this.target, {
      label: "create /dev/console",
      path: "/dev/console",
      flags: O_PATH,
      resolve: IN_ROOT,
      ensure: "file",
    });
    this.mount(this.fdPath(0), this.target, null, MS.BIND, null, "bind the pty on /dev/console");
    // The master at a fixed number, so the SCM_RIGHTS message is plain data.
    this.step({
      nr: SYS.dup3,
      args: [slot(SLOT.master), this.master, O_CLOEXEC],
      label,
    });
    this.step({
      nr: SYS.sendmsg,
      args: [op.socketFd, fdMessage("/dev/ptmx", this.master), 0],
      label: "send the pty to the console socket",
    });
    for (const fd of [slot(SLOT.master), slot(SLOT.slave), this.master, op.socketFd]) {
      this.step({ nr: SYS.close, args: [fd], label });
    }
  }

  pivot(rootfs: string, mode: "pivot" | "move" | "chroot"): void {
    const label = mode === "pivot" ? "pivot_root" : mode === "move" ? "move the rootfs" : "chroot";
    this.step({ nr: SYS.fchdir, args: [this.root], label });
    if (mode === "pivot") {
      // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only
      // the rootfs reachable (no put_old directory needed).
      const dot = cstrBuf(".");
      this.step({ nr: SYS.pivotRoot, args: [dot, dot], label });
      this.step({
        nr: SYS.mount,
        args: [null, dot, null, MS.SLAVE | MS.REC, null],
        label: "detach the old root",
      });
      this.step({ nr: SYS.umount2, args: [dot, MNT_DETACH], label: "detach the old root" });
    } else {
      if (mode === "move") {
        this.step({
          nr: SYS.mount,
          args: [cstrBuf(rootfs), cstrBuf("/"), null, MS.MOVE, null],
          label,
        });
      }
      this.step({ nr: SYS.chroot, args: [cstrBuf(".")], label });
    }
    this.step({ nr: SYS.chdir, args: [cstrBuf("/")], label: "chdir /" });
  }

  capabilities(op: Extract<Op, { op: "capabilities" }>): void {
    const lo = (m: number) => m % 2 ** 32 >>> 0;
    const hi = (m: number) => Math.floor(m / 2 ** 32) >>> 0;
    this.step({
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
    this.step({
      nr: SYS.prctl,
      args: [PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL, 0, 0, 0],
      label: "clear the ambient capabilities",
    });
    for (let cap = 0; cap < 64; cap++) {
      if (!hasCapability(op.ambient, cap)) continue;
      this.step({
        nr: SYS.prctl,
        args: [PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, cap, 0, 0],
        label: `raise ambient capability ${cap}`,
      });
    }
  }

  waitStart(): void {
    const fifo = this.fds.fifo;
    if (fifo === undefined) throw new Error("waitStart needs the exec FIFO");
    const label = "wait for start";
    this.step({
      nr: SYS.openat,
      args: [this.procFds, cstrBuf(String(fifo)), O_WRONLY | O_CLOEXEC, 0],
      label,
      save: SLOT.tmp,
    });
    this.write(slot(SLOT.tmp), "0", label);
    this.step({ nr: SYS.close, args: [slot(SLOT.tmp)], label });
  }

  exec(op: Extract<Op, { op: "exec" }>): void {
    const path = op.path === null ? this.#programPath : cstrBuf(op.path);
    if (!path) throw new Error("exec without a path needs the program sync before it");
    this.step({
      nr: SYS.execve,
      args: [path, cstrArray(op.args), cstrArray(op.env)],
      label: `exec ${op.path ?? op.args[0]}`,
    });
  }
}

/** struct sock_fprog for a base64 BPF program. */
function fprog(programBase64: string): Buf {
  const program = Uint8Array.from(atob(programBase64), (c) => c.charCodeAt(0));
  const buf = new Buf(new Uint8Array(16));
  new DataView(buf.bytes.buffer).setUint16(0, program.length / 8, true);
  return buf.point(8, new Buf(program));
}

/** struct msghdr carrying `name` as data and descriptor `fd` as SCM_RIGHTS. */
function fdMessage(name: string, fd: number): Buf {
  const data = new Buf(new TextEncoder().encode(name), 1);
  const iov = new Buf(new Uint8Array(16)).point(0, data);
  new DataView(iov.bytes.buffer).setBigUint64(8, BigInt(data.bytes.length), true);
  // struct cmsghdr {u64 len = CMSG_LEN(4); i32 level SOL_SOCKET; i32 type SCM_RIGHTS}, the fd.
  const control = new Uint8Array(24);
  const c = new DataView(control.buffer);
  c.setBigUint64(0, 20n, true);
  c.setInt32(8, 1, true);
  c.setInt32(12, 1, true);
  c.setInt32(16, fd, true);
  const msg = new Buf(new Uint8Array(56)).point(16, iov).point(32, new Buf(control));
  const m = new DataView(msg.bytes.buffer);
  m.setBigUint64(24, 1n, true); // msg_iovlen
  m.setBigUint64(40, 24n, true); // msg_controllen
  return msg;
}
