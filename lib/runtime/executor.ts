/**
 * Performs a {@linkcode Plan}'s operations inside the new namespaces (in the container's init
 * process). Before pivot_root, every path is resolved inside the rootfs with
 * openat2(RESOLVE_IN_ROOT) and acted on through /proc/self/fd, so a symlink in the image can
 * never send a mount, a device or a write outside it.
 * @module
 */
import {
  AT_FDCWD,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_WRONLY,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
} from "../../ffi/constants.ts";
import { Errno, ErrnoError } from "../../ffi/errno.ts";
import {
  close,
  fchmodat,
  fchownat,
  fdPath,
  mkdirat,
  mknodat,
  openat,
  openat2,
  readlinkat,
  symlinkat,
  unlinkat,
} from "../../ffi/fs.ts";
import * as proc from "../../ffi/process.ts";
import { OciboxError } from "../errors.ts";
import { lookPath } from "./look_path.ts";
import { hasCapability } from "./plan/capabilities.ts";
import { MS, type Op } from "./plan/ops.ts";

/** A step that failed, named for the one-line error the user sees. */
export class InitError extends OciboxError {
  constructor(op: Op, reason: string, options?: ErrorOptions) {
    super("INIT", `container init: ${describe(op)}: ${reason}`, options);
  }
}

function describe(op: Op): string {
  switch (op.op) {
    case "mount":
      return `mount ${op.source ?? op.fstype} on ${op.target}`;
    case "mknod":
    case "bindDevice":
    case "symlink":
    case "mask":
    case "readonly":
    case "chdir":
      return `${op.op} ${op.path}`;
    case "exec":
      return `exec ${op.path}`;
    default:
      return op.op;
  }
}

const CAP_LAST = 40;
const MNT_DETACH = 2;
const SIGPIPE = 13;

/** Runs plan operations; one executor per init process. */
export class Executor {
  #root = -1;
  #rootfs = "";
  #pivoted = false;

  /** Performs one operation. */
  run(op: Op): void {
    try {
      this.#run(op);
    } catch (e) {
      if (e instanceof OciboxError) throw e;
      throw new InitError(op, e instanceof Error ? e.message : String(e), { cause: e });
    }
  }

  #rootFd(): number {
    if (this.#root < 0) throw new Error("no rootfs yet (bindRootfs must come first)");
    return this.#root;
  }

  /** An O_PATH descriptor of `path`, resolved in the rootfs (before pivot) or from `/`. */
  #resolve(path: string, flags = O_PATH): number {
    if (this.#pivoted) return openat2(AT_FDCWD, path, flags, 0, 0);
    return openat2(this.#rootFd(), path, flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  }

  /** The absolute host path a resolved descriptor names (for mount(2), which wants paths). */
  #real(fd: number): string {
    return readlinkat(AT_FDCWD, fdPath(fd));
  }

  /** Makes `path` exist (as a directory, or an empty file), creating parents, inside the root. */
  #ensure(path: string, kind: "dir" | "file"): number {
    try {
      return this.#resolve(path, O_PATH);
    } catch (e) {
      if (!(e instanceof ErrnoError && e.errno === Errno.ENOENT)) throw e;
    }
    const parts = path.split("/").filter(Boolean);
    let dir = this.#resolve("/", O_PATH | O_DIRECTORY);
    for (const [i, name] of parts.entries()) {
      const last = i === parts.length - 1;
      try {
        if (last && kind === "file") {
          close(openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644));
        } else mkdirat(dir, name, 0o755);
      } catch (e) {
        if (!(e instanceof ErrnoError && e.errno === Errno.EEXIST)) throw e;
      }
      close(dir);
      dir = this.#resolve("/" + parts.slice(0, i + 1).join("/"), O_PATH);
    }
    return dir;
  }

  #run(op: Op): void {
    switch (op.op) {
      case "cgroupNamespace":
        return proc.unshare(proc.CLONE.NEWCGROUP);
      case "propagation":
        return proc.mount(null, op.target, null, op.flags, null);
      case "bindRootfs":
        proc.mount(op.rootfs, op.rootfs, null, MS.BIND | MS.REC, null);
        this.#rootfs = op.rootfs;
        this.#root = openat(AT_FDCWD, op.rootfs, O_RDONLY | O_DIRECTORY);
        return;
      case "mount":
        return this.#mount(op);
      case "mknod": {
        const [dir, base] = this.#parent(op.path);
        const type = op.type === "b" ? S_IFBLK : op.type === "p" ? S_IFIFO : S_IFCHR;
        try {
          unlinkat(dir, base, 0);
        } catch { /* absent */ }
        mknodat(dir, base, type | (op.mode & 0o7777), op.major, op.minor);
        fchownat(dir, base, op.uid, op.gid, 0x100);
        fchmodat(dir, base, op.mode & 0o7777);
        close(dir);
        return;
      }
      case "bindDevice": {
        const fd = this.#ensure(op.path, "file");
        try {
          proc.mount(op.source, fdPath(fd), null, MS.BIND, null);
        } finally {
          close(fd);
        }
        return;
      }
      case "symlink": {
        const [dir, base] = this.#parent(op.path);
        try {
          unlinkat(dir, base, 0);
        } catch { /* absent */ }
        symlinkat(op.target, dir, base);
        close(dir);
        return;
      }
      case "pivotRoot":
        return this.#pivot(op.rootfs, op.noPivot);
      case "mask":
        return this.#mask(op.path);
      case "readonly":
        return this.#readonly(op.path);
      case "readonlyRoot":
        return proc.mount(null, "/", null, MS.REMOUNT | MS.BIND | MS.RDONLY, null);
      case "sethostname":
        return proc.sethostname(op.name);
      case "setdomainname":
        return proc.setdomainname(op.name);
      case "sysctl":
        return Deno.writeTextFileSync(`/proc/sys/${op.key.replaceAll(".", "/")}`, op.value);
      case "setrlimit":
        return proc.setrlimit(op.resource, op.soft, op.hard);
      case "oomScoreAdj":
        return Deno.writeTextFileSync("/proc/self/oom_score_adj", String(op.value));
      case "chdir":
        return proc.chdir(op.path);
      case "umask":
        proc.umask(op.mask);
        return;
      case "setgroups":
        return proc.setgroups(op.gids);
      case "setresgid":
        return proc.setresgid(op.gid);
      case "setresuid":
        return proc.setresuid(op.uid);
      case "keepCaps":
        proc.prctl(proc.PR.SET_KEEPCAPS, op.on ? 1n : 0n);
        return;
      case "dropBounding":
        return this.#dropBounding(op.keep);
      case "capabilities":
        return this.#capabilities(op);
      case "console":
        throw new Error("console is handled by init itself");
      case "noNewPrivileges":
        proc.prctl(proc.PR.SET_NO_NEW_PRIVS, 1n);
        return;
      case "seccomp":
        return this.#seccomp(op.program, op.flags);
      case "closeFds":
        // CLOSE_RANGE_CLOEXEC: the runtime still runs until exec, so mark rather than close.
        proc.closeRangeCloexec(3 + op.preserve);
        return;
      case "waitStart":
      case "sync":
        throw new Error(`${op.op} is handled by init itself`);
      case "exec":
        return this.#exec(op.path, op.args, op.env);
    }
  }

  /** The parent directory of `path` (resolved) and the last name. */
  #parent(path: string): [number, string] {
    const i = path.lastIndexOf("/");
    const parent = i <= 0 ? "/" : path.slice(0, i);
    const base = path.slice(i + 1);
    if (!base || base === "." || base === "..") throw new Error(`bad path ${path}`);
    return [this.#ensure(parent, "dir"), base];
  }

  /**
   * Refuses a mount target reached through a symlink that points out of the rootfs (absolute,
   * or climbing above it): a runtime following it on the host would mount outside the
   * container, so such a bundle is rejected rather than silently reinterpreted.
   */
  #checkTarget(target: string): void {
    const queue = target.split("/").filter((p) => p && p !== ".");
    const parts: string[] = [];
    for (let links = 0; queue.length;) {
      const name = queue.shift()!;
      if (name === "..") {
        parts.pop();
        continue;
      }
      let link: string | undefined;
      try {
        link = readlinkat(this.#rootFd(), [...parts, name].join("/"));
      } catch (e) {
        if (e instanceof ErrnoError && (e.errno === Errno.EINVAL || e.errno === Errno.ENOENT)) {
          parts.push(name); // not a symlink, or not there yet (it will be made as a directory)
          continue;
        }
        throw e;
      }
      if (++links > 40) throw new Error(`too many symlinks in ${target}`);
      const where = "/" + [...parts, name].join("/");
      const linkParts = link.split("/").filter((p) => p && p !== ".");
      let depth = parts.length;
      const climbsOut = linkParts.some((p) => (depth += p === ".." ? -1 : 1) < 0);
      if (link.startsWith("/") || climbsOut) {
        throw new Error(
          `the target goes through the symlink ${where} -> ${link}, out of the rootfs`,
        );
      }
      queue.unshift(...linkParts);
    }
  }

  #mount(op: Extract<Op, { op: "mount" }>): void {
    if (!this.#pivoted) this.#checkTarget(op.target);
    const fd = this.#ensure(op.target, op.kind);
    let target: string;
    try {
      target = this.#real(fd);
      if (!this.#pivoted && !(target === this.#rootfs || target.startsWith(this.#rootfs + "/"))) {
        throw new Error(`resolves outside the rootfs (${target})`);
      }
      proc.mount(op.source, fdPath(fd), op.fstype, op.flags, op.data);
    } finally {
      close(fd);
    }
    for (const p of op.propagation) proc.mount(null, target, null, p, null);
    if (op.remountFlags !== undefined) {
      proc.mount(null, target, null, MS.REMOUNT | MS.BIND | op.remountFlags, null);
    }
  }

  #pivot(rootfs: string, noPivot: boolean): void {
    proc.chdir(rootfs);
    if (noPivot) {
      proc.mount(rootfs, "/", null, MS.MOVE, null);
      proc.chroot(".");
    } else {
      // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only
      // the rootfs reachable (runc's approach, no put_old directory needed).
      proc.pivotRoot(".", ".");
      proc.mount(null, ".", null, MS.SLAVE | MS.REC, null);
      proc.umount2(".", MNT_DETACH);
    }
    proc.chdir("/");
    if (this.#root >= 0) close(this.#root);
    this.#root = -1;
    this.#pivoted = true;
  }

  #mask(path: string): void {
    let fd: number;
    try {
      fd = this.#resolve(path, O_PATH | O_NOFOLLOW);
    } catch (e) {
      if (e instanceof ErrnoError && (e.errno === Errno.ENOENT || e.errno === Errno.ENOTDIR)) {
        return; // nothing to hide
      }
      throw e;
    }
    try {
      let isDir = false;
      try {
        close(openat(AT_FDCWD, fdPath(fd), O_RDONLY | O_DIRECTORY));
        isDir = true;
      } catch { /* not a directory */ }
      if (isDir) proc.mount("tmpfs", fdPath(fd), "tmpfs", MS.RDONLY, null);
      else proc.mount("/dev/null", fdPath(fd), null, MS.BIND, null);
    } finally {
      close(fd);
    }
  }

  #readonly(path: string): void {
    let fd: number;
    try {
      fd = this.#resolve(path, O_PATH);
    } catch (e) {
      if (e instanceof ErrnoError && e.errno === Errno.ENOENT) return;
      throw e;
    }
    try {
      const real = this.#real(fd);
      proc.mount(real, real, null, MS.BIND | MS.REC, null);
      proc.mount(null, real, null, MS.REMOUNT | MS.BIND | MS.RDONLY, null);
    } finally {
      close(fd);
    }
  }

  #dropBounding(keep: number): void {
    for (let cap = 0; cap <= CAP_LAST; cap++) {
      if (!hasCapability(keep, cap)) {
        try {
          proc.prctl(proc.PR.CAPBSET_DROP, BigInt(cap));
        } catch (e) {
          // Capabilities this kernel does not know are simply absent.
          if (!(e instanceof ErrnoError && e.errno === Errno.EINVAL)) throw e;
        }
      }
    }
  }

  #capabilities(op: Extract<Op, { op: "capabilities" }>): void {
    proc.capset(op.effective, op.permitted, op.inheritable);
    proc.prctl(proc.PR.CAP_AMBIENT, BigInt(proc.PR.CAP_AMBIENT_CLEAR_ALL));
    for (let cap = 0; cap <= CAP_LAST; cap++) {
      if (hasCapability(op.ambient, cap)) {
        proc.prctl(proc.PR.CAP_AMBIENT, BigInt(proc.PR.CAP_AMBIENT_RAISE), BigInt(cap));
      }
    }
  }

  #seccomp(programBase64: string, flags: number): void {
    proc.loadSeccomp(Uint8Array.from(atob(programBase64), (c) => c.charCodeAt(0)), flags);
  }

  #exec(path: string, args: string[], env: string[]): never {
    const resolved = lookPath(path, env);
    // Deno ignores SIGPIPE, and ignored signals survive execve: give the program the default.
    proc.defaultSignal(SIGPIPE);
    return proc.execve(resolved, args, env);
  }
}
