/**
 * Linux constants that the ffi wrappers and their callers need. Values that differ between
 * architectures (the O_* open flags) are chosen for the running one.
 * @module
 */

const arch = Deno.build.arch;
if (arch !== "x86_64" && arch !== "aarch64") {
  throw new Error(`ocibox ffi: unsupported architecture ${arch}`);
}
const x86 = arch === "x86_64";

/** open(2) flags (asm-generic values on aarch64, x86 values on x86_64). */
export const O_RDONLY = 0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = x86 ? 0o200000 : 0o40000;
export const O_NOFOLLOW = x86 ? 0o400000 : 0o100000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

/** *at(2) flags. */
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_EMPTY_PATH = 0x1000;

/** openat2(2) resolve flags. */
export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

/** File type bits of st_mode. */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o60000;
export const S_IFDIR = 0o40000;
export const S_IFCHR = 0o20000;
export const S_IFIFO = 0o10000;

/** syscall numbers used through syscall(2) because glibc has no wrapper. Same on both arches. */
export const SYS_openat2 = 437;

/** setxattr(2) flags. */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;
