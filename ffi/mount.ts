/**
 * Host-side mounts and copies through libc: mount(2), umount2(2), the new mount API (fsopen,
 * fsconfig, fsmount, move_mount) and two ways to copy file data in the kernel (the FICLONE
 * ioctl, a reflink on btrfs/XFS; copy_file_range; sendfile). Every function throws
 * {@linkcode ErrnoError} on failure (EINTR is retried where a call can be repeated).
 *
 * These are for the runtime's host (the layer cache and container root file systems); the
 * container's own mounts are made by its init program (ffi/runner_program.ts), never from JS.
 * The new mount API is called through syscall(2) by number (the same on x86_64 and aarch64),
 * since glibc has wrappers only from 2.36 on.
 *
 * @example
 * ```ts
 * import { fsconfigCreate, fsconfigString, fsmount, fsopen, moveMount } from "./mount.ts";
 * import { close } from "./fs.ts";
 * const fs = fsopen("overlay");
 * fsconfigString(fs, "lowerdir+", "/tmp/lower");
 * fsconfigString(fs, "upperdir", "/tmp/upper");
 * fsconfigString(fs, "workdir", "/tmp/work");
 * fsconfigCreate(fs);
 * const mnt = fsmount(fs);
 * moveMount(mnt, "/tmp/merged");
 * close(mnt);
 * close(fs);
 * ```
 * @module
 */
import { ErrnoError } from "./errno.ts";
import { check, cstr, errno, lazySymbols, retry } from "./libc.ts";
import { AT_FDCWD } from "./constants.ts";

const MOUNT_SYMBOLS = {
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ioctl: { parameters: ["i32", "u64", "i64"], result: "i32" },
  copy_file_range: {
    parameters: ["i32", "pointer", "i32", "pointer", "usize", "u32"],
    result: "isize",
  },
  sendfile: { parameters: ["i32", "i32", "pointer", "usize"], result: "isize" },
  syncfs: { parameters: ["i32"], result: "i32" },
  // syscall(2) with the argument shapes of the new mount API.
  sys_fsopen: { name: "syscall", parameters: ["i64", "buffer", "i64"], result: "i64" },
  sys_fsconfig: {
    name: "syscall",
    parameters: ["i64", "i64", "i64", "buffer", "buffer", "i64"],
    result: "i64",
  },
  sys_fsmount: { name: "syscall", parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  sys_move_mount: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "i64", "buffer", "i64"],
    result: "i64",
  },
} as const satisfies Deno.ForeignLibraryInterface;

type MountLib = Deno.DynamicLibrary<typeof MOUNT_SYMBOLS>["symbols"];
let lib: MountLib | undefined;
const sym = (): MountLib => lib ??= lazySymbols(MOUNT_SYMBOLS);

/** Numbers of the new mount API's system calls: the same on x86_64 and aarch64. */
const SYS_MOVE_MOUNT = 429n, SYS_FSOPEN = 430n, SYS_FSCONFIG = 431n, SYS_FSMOUNT = 432n;

/** mount(2) flags. */
export const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4, BIND: 0x1000, PRIVATE: 1 << 18 } as const;

/** umount2(2) flags. */
export const MNT_FORCE = 1;
export const MNT_DETACH = 2;
export const UMOUNT_NOFOLLOW = 8;

const FSOPEN_CLOEXEC = 1n;
const FSCONFIG_SET_FLAG = 0n, FSCONFIG_SET_STRING = 1n, FSCONFIG_CMD_CREATE = 6n;
const FSMOUNT_CLOEXEC = 1n;
const MOVE_MOUNT_F_EMPTY_PATH = 4n;

/** mount_setattr/fsmount attribute flags. */
export const MOUNT_ATTR = { RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8 } as const;

/** ioctl(2) FICLONE: `_IOW(0x94, 9, int)`, the same on x86_64 and aarch64. */
const FICLONE = 0x40049409n;

/** errno values callers of these functions branch on (beyond {@linkcode Errno}). */
export const MountErrno = {
  EBUSY: 16,
  EXDEV: 18,
  ENODEV: 19,
  ENOTTY: 25,
  ENOSPC: 28,
  EMLINK: 31,
} as const;

const NULL_BYTES = new Uint8Array(1); // an empty C string

/** mount(2). `fstype` and `data` may be null; `data` is the file system's option string. */
export function mount(
  source: string,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null,
): void {
  const r = sym().mount(
    cstr(source),
    cstr(target),
    fstype === null ? null : cstr(fstype),
    BigInt(flags),
    data === null ? null : cstr(data),
  );
  check(r, "mount", target);
}

/** umount2(2). */
export function umount2(target: string, flags = 0): void {
  const t = cstr(target);
  retry(() => sym().umount2(t, flags), "umount2", target);
}

/** fsopen(2): a file system context for `fsname` ("overlay", "tmpfs" ...); close-on-exec. */
export function fsopen(fsname: string): number {
  const name = cstr(fsname);
  return check(sym().sys_fsopen(SYS_FSOPEN, name, FSOPEN_CLOEXEC), "fsopen", fsname);
}

/**
 * The messages the kernel left in a file system context (`e overlayfs: ...`), oldest first;
 * reading them empties the log. Best effort: an empty list when there are none.
 */
export function readFsLog(fd: number): string[] {
  const out: string[] = [];
  const buf = new Uint8Array(1024);
  for (let i = 0; i < 32; i++) {
    const n = Number(sym().read(fd, buf, BigInt(buf.length)));
    if (n <= 0) break;
    out.push(new TextDecoder().decode(buf.subarray(0, n)).trim());
  }
  return out;
}

/**
 * A failed fsconfig or fsmount call, with the kernel's own words from the context log when it
 * left some.
 */
function fsError(fd: number, call: string, what: string): ErrnoError {
  const e = errno();
  const log = readFsLog(fd).join("; ");
  return new ErrnoError(e, call, log ? `${what} (${log})` : what);
}

/** fsconfig(2) FSCONFIG_SET_STRING: `key=value` (overlay: "lowerdir+", "upperdir" ...). */
export function fsconfigString(fd: number, key: string, value: string): void {
  const k = cstr(key), v = cstr(value);
  const r = sym().sys_fsconfig(SYS_FSCONFIG, BigInt(fd), FSCONFIG_SET_STRING, k, v, 0n);
  if (Number(r) < 0) throw fsError(fd, "fsconfig", `${key}=${value}`);
}

/** fsconfig(2) FSCONFIG_SET_FLAG: a flag without a value (e.g. "volatile"). */
export function fsconfigFlag(fd: number, key: string): void {
  const k = cstr(key);
  const r = sym().sys_fsconfig(SYS_FSCONFIG, BigInt(fd), FSCONFIG_SET_FLAG, k, null, 0n);
  if (Number(r) < 0) throw fsError(fd, "fsconfig", key);
}

/** fsconfig(2) FSCONFIG_CMD_CREATE: makes the superblock from the parameters set so far. */
export function fsconfigCreate(fd: number): void {
  const r = sym().sys_fsconfig(SYS_FSCONFIG, BigInt(fd), FSCONFIG_CMD_CREATE, null, null, 0n);
  if (Number(r) < 0) throw fsError(fd, "fsconfig", "create");
}

/** fsmount(2): a detached mount of the created context; `attrs` are MOUNT_ATTR flags. */
export function fsmount(fd: number, attrs = 0): number {
  const r = sym().sys_fsmount(SYS_FSMOUNT, BigInt(fd), FSMOUNT_CLOEXEC, BigInt(attrs));
  if (Number(r) < 0) throw fsError(fd, "fsmount", "");
  return Number(r);
}

/** move_mount(2) of the detached mount `mountFd` onto `target`. */
export function moveMount(mountFd: number, target: string): void {
  const r = sym().sys_move_mount(
    SYS_MOVE_MOUNT,
    BigInt(mountFd),
    NULL_BYTES,
    BigInt(AT_FDCWD),
    cstr(target),
    MOVE_MOUNT_F_EMPTY_PATH,
  );
  check(r, "move_mount", target);
}

/** ioctl(FICLONE): makes `dst` share `src`'s data blocks (a reflink; btrfs, XFS, bcachefs). */
export function ficlone(dstFd: number, srcFd: number): void {
  check(sym().ioctl(dstFd, FICLONE, BigInt(srcFd)), "ioctl FICLONE");
}

/**
 * copy_file_range(2) from the current offset of `inFd` to that of `outFd`, up to `len` bytes;
 * returns the bytes copied (0 at the end of `inFd`).
 */
export function copyFileRange(inFd: number, outFd: number, len: number): number {
  return retry(
    () => sym().copy_file_range(inFd, null, outFd, null, BigInt(len), 0),
    "copy_file_range",
  );
}

/**
 * sendfile(2) from the current offset of `inFd` to `outFd` (any two files), up to `len` bytes;
 * returns the bytes copied (0 at the end of `inFd`). The fallback where copy_file_range cannot
 * cross between two file systems.
 */
export function sendfile(outFd: number, inFd: number, len: number): number {
  return retry(() => sym().sendfile(outFd, inFd, null, BigInt(len)), "sendfile");
}

/** syncfs(2): writes out everything of the file system that holds `fd`. */
export function syncfs(fd: number): void {
  check(sym().syncfs(fd), "syncfs");
}
