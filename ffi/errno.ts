/**
 * errno values as typed errors. The numbers are the asm-generic ones, shared by x86_64 and
 * aarch64 for everything listed here.
 * @module
 */

const NAMES: Record<number, [string, string]> = {
  1: ["EPERM", "operation not permitted"],
  2: ["ENOENT", "no such file or directory"],
  3: ["ESRCH", "no such process"],
  4: ["EINTR", "interrupted system call"],
  5: ["EIO", "input/output error"],
  7: ["E2BIG", "argument list too long"],
  9: ["EBADF", "bad file descriptor"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "cannot allocate memory"],
  13: ["EACCES", "permission denied"],
  16: ["EBUSY", "device or resource busy"],
  17: ["EEXIST", "file exists"],
  18: ["EXDEV", "invalid cross-device link"],
  19: ["ENODEV", "no such device"],
  20: ["ENOTDIR", "not a directory"],
  21: ["EISDIR", "is a directory"],
  22: ["EINVAL", "invalid argument"],
  24: ["EMFILE", "too many open files"],
  27: ["EFBIG", "file too large"],
  28: ["ENOSPC", "no space left on device"],
  30: ["EROFS", "read-only file system"],
  31: ["EMLINK", "too many links"],
  34: ["ERANGE", "numerical result out of range"],
  36: ["ENAMETOOLONG", "file name too long"],
  38: ["ENOSYS", "function not implemented"],
  39: ["ENOTEMPTY", "directory not empty"],
  40: ["ELOOP", "too many levels of symbolic links"],
  61: ["ENODATA", "no data available"],
  95: ["EOPNOTSUPP", "operation not supported"],
  122: ["EDQUOT", "disk quota exceeded"],
};

/** Symbolic errno names for the values callers branch on. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ERANGE: 34,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EOPNOTSUPP: 95,
} as const;

/**
 * A failed libc call. `code` is the errno name (`EEXIST`), like Node's system errors.
 *
 * @example
 * ```ts
 * import { ErrnoError } from "./errno.ts";
 * const e = new ErrnoError(17, "mkdirat", "etc");
 * console.log(e.message); // mkdirat etc: file exists (EEXIST)
 * ```
 */
export class ErrnoError extends Error {
  readonly code: string;
  constructor(readonly errno: number, readonly syscall: string, readonly path?: string) {
    const [name, text] = NAMES[errno] ?? [`E${errno}`, `errno ${errno}`];
    super(`${syscall}${path === undefined ? "" : ` ${path}`}: ${text} (${name})`);
    this.code = name;
    this.name = "ErrnoError";
  }
}
