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

/** Namespace flags of clone(2)/unshare(2)/setns(2). */
export const CLONE = {
  NEWTIME: 0x80,
  NEWNS: 0x20000,
  NEWCGROUP: 0x2000000,
  NEWUTS: 0x4000000,
  NEWIPC: 0x8000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

/** clone(2): the child gets the caller's parent (so the runtime can wait for a grandchild). */
export const CLONE_PARENT = 0x8000;

/** The child-exit signal. */
export const SIGCHLD = 17;

/** prctl(2) options and arguments the runtime uses. */
export const PR = {
  SET_PDEATHSIG: 1,
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  SET_NAME: 15,
  CAPBSET_DROP: 24,
  SET_CHILD_SUBREAPER: 36,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;

/** ioctl(2) requests (the same numbers on x86_64 and aarch64). */
export const IOCTL = {
  TIOCSCTTY: 0x540e,
  TIOCSWINSZ: 0x5414,
  TIOCSPTLCK: 0x40045431,
  TIOCGPTPEER: 0x5441,
  SIOCSIFFLAGS: 0x8914,
} as const;

/** close_range(2) flag: mark close-on-exec instead of closing. */
export const CLOSE_RANGE_CLOEXEC = 4;
