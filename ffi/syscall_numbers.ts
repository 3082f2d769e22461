/**
 * Numbers of the system calls the syscall runner makes, for both architectures ocibox runs on
 * (from the kernel's asm/unistd headers; the seccomp tables in lib/runtime/seccomp hold the
 * full lists). {@linkcode SYS} is this machine's.
 * @module
 */

/** The syscalls runner programs use, by name. */
export interface SyscallNumbers {
  read: number;
  write: number;
  close: number;
  openat: number;
  openat2: number;
  mkdirat: number;
  mknodat: number;
  fchownat: number;
  fchmodat: number;
  unlinkat: number;
  symlinkat: number;
  dup3: number;
  fcntl: number;
  mount: number;
  umount2: number;
  pivotRoot: number;
  chdir: number;
  fchdir: number;
  chroot: number;
  sethostname: number;
  setdomainname: number;
  prlimit64: number;
  prctl: number;
  capset: number;
  setgroups: number;
  setresuid: number;
  setresgid: number;
  seccomp: number;
  closeRange: number;
  execve: number;
  execveat: number;
  ioctl: number;
  socket: number;
  sendmsg: number;
  setsid: number;
  umask: number;
  unshare: number;
  setns: number;
  rtSigaction: number;
  rtSigprocmask: number;
  exitGroup: number;
  clone: number;
}

/** x86_64 numbers. */
export const SYS_X86_64: Readonly<SyscallNumbers> = {
  read: 0,
  write: 1,
  close: 3,
  openat: 257,
  openat2: 437,
  mkdirat: 258,
  mknodat: 259,
  fchownat: 260,
  fchmodat: 268,
  unlinkat: 263,
  symlinkat: 266,
  dup3: 292,
  fcntl: 72,
  mount: 165,
  umount2: 166,
  pivotRoot: 155,
  chdir: 80,
  fchdir: 81,
  chroot: 161,
  sethostname: 170,
  setdomainname: 171,
  prlimit64: 302,
  prctl: 157,
  capset: 126,
  setgroups: 116,
  setresuid: 117,
  setresgid: 119,
  seccomp: 317,
  closeRange: 436,
  execve: 59,
  execveat: 322,
  ioctl: 16,
  socket: 41,
  sendmsg: 46,
  setsid: 112,
  umask: 95,
  unshare: 272,
  setns: 308,
  rtSigaction: 13,
  rtSigprocmask: 14,
  exitGroup: 231,
  clone: 56,
};

/** aarch64 numbers (asm-generic). */
export const SYS_AARCH64: Readonly<SyscallNumbers> = {
  read: 63,
  write: 64,
  close: 57,
  openat: 56,
  openat2: 437,
  mkdirat: 34,
  mknodat: 33,
  fchownat: 54,
  fchmodat: 53,
  unlinkat: 35,
  symlinkat: 36,
  dup3: 24,
  fcntl: 25,
  mount: 40,
  umount2: 39,
  pivotRoot: 41,
  chdir: 49,
  fchdir: 50,
  chroot: 51,
  sethostname: 161,
  setdomainname: 162,
  prlimit64: 261,
  prctl: 167,
  capset: 91,
  setgroups: 159,
  setresuid: 147,
  setresgid: 149,
  seccomp: 277,
  closeRange: 436,
  execve: 221,
  execveat: 281,
  ioctl: 29,
  socket: 198,
  sendmsg: 211,
  setsid: 157,
  umask: 166,
  unshare: 97,
  setns: 268,
  rtSigaction: 134,
  rtSigprocmask: 135,
  exitGroup: 94,
  clone: 220,
};

/** This machine's numbers. */
export const SYS: Readonly<SyscallNumbers> = Deno.build.arch === "aarch64"
  ? SYS_AARCH64
  : SYS_X86_64;
