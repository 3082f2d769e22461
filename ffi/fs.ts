/**
 * Typed wrappers over the *at() family of libc calls. Every function throws {@linkcode ErrnoError}
 * on failure (EINTR is retried). Paths are JS strings, encoded as NUL-terminated UTF-8.
 *
 * These exist because Deno's file API has no dirfd-relative calls, no openat2 (RESOLVE_IN_ROOT is
 * how layers are unpacked without following anything out of the rootfs), no lchown, no
 * lutimes, no mknod and no xattrs.
 *
 * @example
 * ```ts
 * import { openat2, mkdirat, close } from "./fs.ts";
 * import { AT_FDCWD, O_DIRECTORY, O_RDONLY, RESOLVE_IN_ROOT } from "./constants.ts";
 * const root = openat2(AT_FDCWD, "/tmp", O_RDONLY | O_DIRECTORY, 0, 0);
 * mkdirat(root, "ocibox-example", 0o755);
 * close(root);
 * ```
 * @module
 */
import { check, errno, fsSymbols, retry } from "./libc.ts";
import { Errno, ErrnoError } from "./errno.ts";
import { O_CLOEXEC, SYS_openat2 } from "./constants.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Two reusable scratch buffers: calls take at most two paths, and encoding into a reused buffer
// keeps per-file cost flat when unpacking tens of thousands of entries.
const scratch: Uint8Array[] = [new Uint8Array(4096), new Uint8Array(4096)];

function cstr(s: string, slot: 0 | 1 = 0): Uint8Array {
  let buf = scratch[slot];
  if (s.length * 3 + 1 > buf.length) buf = scratch[slot] = new Uint8Array(s.length * 3 + 1);
  const written = s.isWellFormed() ? encoder.encodeInto(s, buf).written : encodeEscaped(s, buf);
  buf[written] = 0;
  return buf;
}

/**
 * UTF-8 with Python's "surrogateescape": lone surrogates U+DC80..U+DCFF stand for the raw bytes
 * 0x80..0xFF of names that were not valid UTF-8 (the tar reader decodes them that way).
 */
function encodeEscaped(s: string, buf: Uint8Array): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xdc80 && cp <= 0xdcff) buf[n++] = cp - 0xdc00;
    else n += encoder.encodeInto(ch, buf.subarray(n)).written;
  }
  return n;
}

const SYS_OPENAT2 = BigInt(SYS_openat2);
const how = new BigUint64Array(3);
const howBytes = new Uint8Array(how.buffer);

/** openat2(2): opens `path` relative to `dirfd` with `resolve` restrictions; always O_CLOEXEC. */
export function openat2(
  dirfd: number,
  path: string,
  flags: number,
  mode: number,
  resolve: number,
): number {
  how[0] = BigInt(flags | O_CLOEXEC);
  how[1] = BigInt(mode);
  how[2] = BigInt(resolve);
  const s = fsSymbols();
  return retry(
    () => s.syscall5(SYS_OPENAT2, BigInt(dirfd), cstr(path), howBytes, 24n),
    "openat2",
    path,
  );
}

/** openat(2); always O_CLOEXEC. */
export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  const s = fsSymbols();
  return retry(() => s.openat(dirfd, cstr(path), flags | O_CLOEXEC, mode), "openat", path);
}

/** close(2); errors are ignored because the fd is gone either way. */
export function close(fd: number): void {
  fsSymbols().close(fd);
}

/** Writes all of `bytes` to `fd`. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  const s = fsSymbols();
  let off = 0;
  while (off < bytes.length) {
    const view = off === 0 ? bytes : bytes.subarray(off);
    const n = Number(s.write(fd, view, BigInt(view.length)));
    if (n < 0) {
      const e = errno();
      if (e === Errno.EINTR) continue;
      throw new ErrnoError(e, "write");
    }
    off += n;
  }
}

/** fsync(2). */
export function fsync(fd: number): void {
  check(fsSymbols().fsync(fd), "fsync");
}

/** mkdirat(2). */
export function mkdirat(dirfd: number, name: string, mode: number): void {
  check(fsSymbols().mkdirat(dirfd, cstr(name), mode), "mkdirat", name);
}

/** mknodat(2); `mode` includes the S_IF* type bits. */
export function mknodat(dirfd: number, name: string, mode: number, major: number, minor: number) {
  check(fsSymbols().mknodat(dirfd, cstr(name), mode, makedev(major, minor)), "mknodat", name);
}

/** glibc's makedev(): the 64-bit dev_t encoding of a major/minor pair. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0), mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) |
    (mi & 0xffn);
}

/** symlinkat(2): creates `name` in `dirfd` pointing at `target` (never followed here). */
export function symlinkat(target: string, dirfd: number, name: string): void {
  check(fsSymbols().symlinkat(cstr(target, 1), dirfd, cstr(name)), "symlinkat", name);
}

/** linkat(2). With `flags` 0 a symlink `oldName` is linked itself, not followed. */
export function linkat(
  oldDirfd: number,
  oldName: string,
  newDirfd: number,
  newName: string,
  flags = 0,
): void {
  const r = fsSymbols().linkat(oldDirfd, cstr(oldName, 1), newDirfd, cstr(newName), flags);
  check(r, "linkat", newName);
}

/** unlinkat(2); pass AT_REMOVEDIR to remove an empty directory. */
export function unlinkat(dirfd: number, name: string, flags = 0): void {
  check(fsSymbols().unlinkat(dirfd, cstr(name), flags), "unlinkat", name);
}

/** renameat(2). */
export function renameat(oldDirfd: number, oldName: string, newDirfd: number, newName: string) {
  check(
    fsSymbols().renameat(oldDirfd, cstr(oldName, 1), newDirfd, cstr(newName)),
    "renameat",
    newName,
  );
}

/** readlinkat(2). */
export function readlinkat(dirfd: number, name: string): string {
  const out = new Uint8Array(4096);
  const n = Number(fsSymbols().readlinkat(dirfd, cstr(name), out, BigInt(out.length)));
  check(n, "readlinkat", name);
  return decoder.decode(out.subarray(0, n));
}

/** fchown(2). */
export function fchown(fd: number, uid: number, gid: number): void {
  check(fsSymbols().fchown(fd, uid, gid), "fchown");
}

/** fchownat(2); AT_SYMLINK_NOFOLLOW makes it lchown. */
export function fchownat(dirfd: number, name: string, uid: number, gid: number, flags: number) {
  check(fsSymbols().fchownat(dirfd, cstr(name), uid, gid, flags), "fchownat", name);
}

/** fchmod(2). */
export function fchmod(fd: number, mode: number): void {
  check(fsSymbols().fchmod(fd, mode), "fchmod");
}

/** fchmodat(2) (flags must be 0 on Linux: symlinks have no mode). */
export function fchmodat(dirfd: number, name: string, mode: number): void {
  check(fsSymbols().fchmodat(dirfd, cstr(name), mode, 0), "fchmodat", name);
}

const times = new BigInt64Array(4);
const timesBytes = new Uint8Array(times.buffer);

function setTimes(sec: number, nsec: number): Uint8Array {
  times[0] = times[2] = BigInt(Math.trunc(sec));
  times[1] = times[3] = BigInt(nsec);
  return timesBytes;
}

/** futimens(2): sets atime and mtime of `fd` to the same instant. */
export function futimens(fd: number, sec: number, nsec: number): void {
  check(fsSymbols().futimens(fd, setTimes(sec, nsec)), "futimens");
}

/** utimensat(2): sets atime and mtime; AT_SYMLINK_NOFOLLOW for symlinks themselves. */
export function utimensat(dirfd: number, name: string, sec: number, nsec: number, flags: number) {
  const r = fsSymbols().utimensat(dirfd, cstr(name), setTimes(sec, nsec), flags);
  check(r, "utimensat", name);
}

/** fsetxattr(2). */
export function fsetxattr(fd: number, name: string, value: Uint8Array, flags = 0): void {
  check(
    fsSymbols().fsetxattr(fd, cstr(name, 1), value, BigInt(value.length), flags),
    "fsetxattr",
    name,
  );
}

/** lsetxattr(2) on a path (used for symlinks, which cannot be opened). */
export function lsetxattr(path: string, name: string, value: Uint8Array, flags = 0): void {
  const r = fsSymbols().lsetxattr(cstr(path), cstr(name, 1), value, BigInt(value.length), flags);
  check(r, "lsetxattr", path);
}

/** fremovexattr(2). */
export function fremovexattr(fd: number, name: string): void {
  check(fsSymbols().fremovexattr(fd, cstr(name, 1)), "fremovexattr", name);
}

/** flistxattr(2): the names of an open file's extended attributes. */
export function flistxattr(fd: number): string[] {
  return listXattrs(
    (buf) => Number(fsSymbols().flistxattr(fd, buf, BigInt(buf.length))),
    `fd ${fd}`,
  );
}

/** llistxattr(2): the names of `path`'s extended attributes (symlinks not followed). */
export function llistxattr(path: string): string[] {
  return listXattrs(
    (buf) => Number(fsSymbols().llistxattr(cstr(path), buf, BigInt(buf.length))),
    path,
  );
}

function listXattrs(call: (buf: Uint8Array) => number, what: string): string[] {
  let size = 1024;
  for (;;) {
    const buf = new Uint8Array(size);
    const n = call(buf);
    if (n < 0) {
      const e = errno();
      if (e === Errno.ERANGE) {
        size *= 4;
        continue;
      }
      if (e === Errno.EOPNOTSUPP) return [];
      throw new ErrnoError(e, "listxattr", what);
    }
    return decoder.decode(buf.subarray(0, n)).split("\0").filter((x) => x !== "");
  }
}

/** lgetxattr(2): one extended attribute's value (symlinks not followed). */
export function lgetxattr(path: string, name: string): Uint8Array {
  const s = fsSymbols();
  let size = 256;
  for (;;) {
    const buf = new Uint8Array(size);
    const n = Number(s.lgetxattr(cstr(path), cstr(name, 1), buf, BigInt(buf.length)));
    if (n < 0) {
      const e = errno();
      if (e === Errno.ERANGE) {
        size *= 16;
        continue;
      }
      throw new ErrnoError(e, "lgetxattr", path);
    }
    return buf.slice(0, n);
  }
}

/**
 * Whether the open file `fd` has the extended attribute `name` (fgetxattr(2) asked for its size
 * only). A file system without xattrs has none.
 */
export function fhasxattr(fd: number, name: string): boolean {
  const n = Number(fsSymbols().fgetxattr(fd, cstr(name), null, 0n));
  if (n >= 0) return true;
  const e = errno();
  if (e === Errno.ENODATA || e === Errno.EOPNOTSUPP) return false;
  throw new ErrnoError(e, "fgetxattr", name);
}

/** The fields of statx(2) ocibox uses. */
export interface StatX {
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  ino: bigint;
  size: number;
  mtimeSec: number;
  mtimeNsec: number;
  rdevMajor: number;
  rdevMinor: number;
  devMajor: number;
  devMinor: number;
}

const statBuf = new Uint8Array(256);
const statView = new DataView(statBuf.buffer);

/** statx(2) with the basic fields; `flags` e.g. AT_SYMLINK_NOFOLLOW or AT_EMPTY_PATH. */
export function statx(dirfd: number, name: string, flags: number): StatX {
  check(fsSymbols().statx(dirfd, cstr(name), flags, 0x7ff, statBuf), "statx", name);
  const v = statView;
  return {
    nlink: v.getUint32(16, true),
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    mode: v.getUint16(28, true),
    ino: v.getBigUint64(32, true),
    size: Number(v.getBigUint64(40, true)),
    mtimeSec: Number(v.getBigInt64(112, true)),
    mtimeNsec: v.getUint32(120, true),
    rdevMajor: v.getUint32(128, true),
    rdevMinor: v.getUint32(132, true),
    devMajor: v.getUint32(136, true),
    devMinor: v.getUint32(140, true),
  };
}

/** Like {@linkcode statx} but returns undefined when the name does not exist (ENOENT). */
export function statxIfExists(dirfd: number, name: string, flags: number): StatX | undefined {
  try {
    return statx(dirfd, name, flags);
  } catch (e) {
    if (e instanceof ErrnoError && e.errno === Errno.ENOENT) return undefined;
    throw e;
  }
}

/** The effective user id of this process. */
export function geteuid(): number {
  return fsSymbols().geteuid();
}

/** The effective group id of this process. */
export function getegid(): number {
  return fsSymbols().getegid();
}

/**
 * The process's umask, read from /proc/self/status (umask(2) can only be read by setting it,
 * which would race with other threads creating files); undefined where the kernel does not
 * show it.
 */
export function currentUmask(): number | undefined {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? parseInt(m[1], 8) : undefined;
  } catch {
    return undefined;
  }
}

/** A path that names `fd` itself (through /proc), for APIs that only take paths. */
export function fdPath(fd: number, name?: string): string {
  return name === undefined || name === "" ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}
