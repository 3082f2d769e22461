/**
 * Processes and namespaces through libc: clone() into new namespaces, and the calls the
 * container init needs (mount, pivot_root, sethostname, setresuid, capset, prctl, seccomp ...).
 *
 * JS must never run in a cloned child (the runtime's threads are gone there), so the child of
 * {@linkcode cloneExec} runs a few bytes of machine code that only call execve() and, if that
 * fails, exit(127). They sit in a page mapped read+execute.
 * @module
 */
import { Errno, ErrnoError } from "./errno.ts";
import { check, cstr, errno, lazySymbols } from "./libc.ts";
import {
  Buf,
  bytesBuf,
  cstrArray,
  cstrBuf,
  FORK_RECORD,
  type Item,
  layoutProgram,
  type Step,
} from "./runner_program.ts";
import { SYSCALL_LIST_CODE } from "./syscall_list_code.ts";
import { SYS } from "./syscall_numbers.ts";

export { SYS };
/** One step of a runner program (see runner_program.ts). */
export type { Step as SyscallStep };

const PROC_SYMBOLS = {
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  mprotect: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  clone: { parameters: ["pointer", "pointer", "i32", "pointer"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  dup3: { parameters: ["i32", "i32", "i32"], result: "i32" },
  fcntl3: { name: "fcntl", parameters: ["i32", "i32", "i64"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  chroot: { parameters: ["buffer"], result: "i32" },
  chdir: { parameters: ["buffer"], result: "i32" },
  fchdir: { parameters: ["i32"], result: "i32" },
  sethostname: { parameters: ["buffer", "usize"], result: "i32" },
  setdomainname: { parameters: ["buffer", "usize"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  umask: { parameters: ["u32"], result: "u32" },
  setgroups: { parameters: ["usize", "buffer"], result: "i32" },
  setresuid: { parameters: ["u32", "u32", "u32"], result: "i32" },
  setresgid: { parameters: ["u32", "u32", "u32"], result: "i32" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  syscall4: { name: "syscall", parameters: ["i64", "i64", "i64", "buffer"], result: "i64" },
  syscallI: { name: "syscall", parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  unshare: { parameters: ["i32"], result: "i32" },
  setsid: { parameters: [], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

type ProcLib = Deno.DynamicLibrary<typeof PROC_SYMBOLS>["symbols"];
let lib: ProcLib | undefined;
const sym = (): ProcLib => lib ??= lazySymbols(PROC_SYMBOLS);

const encoder = new TextEncoder();
function optCstr(s: string | null | undefined): Uint8Array | null {
  return s === null || s === undefined ? null : cstr(s);
}

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

export const SIGCHLD = 17;

const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
const MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
const STACK_SIZE = 64 * 1024;

let runnerPage: Deno.PointerValue | undefined;
let childStack: Deno.PointerValue | undefined;

/** The syscall-list runner (ffi/asm), copied once into a page mapped read+execute. */
function runner(): Deno.PointerValue {
  if (runnerPage) return runnerPage;
  const hex = SYSCALL_LIST_CODE[Deno.build.arch];
  if (!hex) throw new Error(`clone: no syscall runner for ${Deno.build.arch}`);
  const code = Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
  const s = sym();
  const page = s.mmap(null, 4096n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
  if (page === null || Deno.UnsafePointer.value(page) === -1n) {
    throw new ErrnoError(errno(), "mmap");
  }
  new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(page, 4096)).set(code);
  check(s.mprotect(page, 4096n, PROT_READ | PROT_EXEC), "mprotect");
  return runnerPage = page;
}

function stackTop(): Deno.PointerValue {
  if (!childStack) {
    const s = sym();
    const p = s.mmap(
      null,
      BigInt(STACK_SIZE),
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS,
      -1,
      0n,
    );
    if (p === null || Deno.UnsafePointer.value(p) === -1n) throw new ErrnoError(errno(), "mmap");
    childStack = p;
  }
  // The child gets a copy of this memory (no CLONE_VM), so one stack serves every clone.
  return Deno.UnsafePointer.offset(childStack!, STACK_SIZE - 64);
}

/** A NULL-terminated array of pointers to the given strings, plus what keeps them alive. */
function liveCstrArray(items: string[]): { array: BigUint64Array; keep: Uint8Array[] } {
  const keep = items.map(cstr);
  const array = new BigUint64Array(items.length + 1);
  keep.forEach((b, i) => array[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b))));
  return { array, keep };
}

/** What the child reported: the pid that went on after a fork, or the step that failed. */
export interface SpawnReport {
  pid: number;
  failed?: { step: Step; errno: number };
}

const CLONE_VM = 0x100;
const ALL_SIGNALS = new BigUint64Array([0xffffffffffffffffn]);

/**
 * clone(2)s a child into new namespaces (`flags`: CLONE.* bits) that runs the runner program
 * `items` (see runner_program.ts) and exits 127 if none of its steps replaced it (the last is
 * normally execve). `afterClone` runs with the child's pid right after clone (the child may
 * wait for it in a read step). The child shares our memory unless `shareMemory` is false,
 * which joining a time namespace needs (setns refuses a process whose memory is shared:
 * EUSERS). Then this blocks until the child has exec'd, failed or forked past every fork
 * step, and returns the pid that runs on (the grandchild after a fork). SIGCHLD tells the
 * parent when its child exits.
 */
export function spawnSyscalls(
  flags: number,
  items: readonly Item[],
  afterClone?: (pid: number) => void,
  options: { shareMemory?: boolean } = {},
): SpawnReport {
  // The child shares our memory (CLONE_VM: no page tables to copy, none to tear down at its
  // exec), so it must never run one of our signal handlers: it blocks every signal first, and
  // callers restore a clean mask before execve (defaultSignalSteps).
  const all: Item[] = [
    { nr: SYS.rtSigprocmask, args: [0, ALL_SIGNALS, null, 8], label: "block signals" },
    ...items,
  ];
  const [statusR, statusW] = pipe(false);
  let block: Uint8Array;
  let layout;
  try {
    layout = layoutProgram(all, { statusFd: statusW });
    // Off the V8 heap (over 64 bytes), so its address stays put while the child reads it.
    block = new Uint8Array(Math.max(layout.size, 128));
    layout.write(block, addressOf(block));
  } catch (e) {
    closeFd(statusR);
    closeFd(statusW);
    throw e;
  }
  let pid: number;
  try {
    pid = check(
      sym().clone(
        runner(),
        stackTop(),
        flags | (options.shareMemory === false ? 0 : CLONE_VM) | SIGCHLD,
        Deno.UnsafePointer.of(block),
      ),
      "clone",
    );
  } finally {
    closeFd(statusW);
  }
  const report: SpawnReport = { pid };
  try {
    // E.g. write uid/gid maps while the child waits in a read step.
    afterClone?.(pid);
  } catch (e) {
    closeFd(statusR);
    throw e;
  }
  try {
    for (const [word, value] of readRecords(statusR)) {
      if (word === FORK_RECORD) {
        // The forking parent has exited: reap it, the grandchild goes on.
        if (report.pid === pid) waitPid(pid);
        report.pid = Number(value);
      } else report.failed = { step: layout.steps[Number(word)], errno: Number(value) };
    }
  } finally {
    closeFd(statusR);
  }
  // The child read the block until it exec'd or exited, which the end of the pipe tells.
  void block;
  return report;
}

/** The runner's 16-byte records from `fd`, until end of file. */
export function* readRecords(fd: number): Generator<[bigint, bigint]> {
  const record = new BigUint64Array(2);
  const bytes = new Uint8Array(record.buffer);
  for (;;) {
    let got = 0;
    while (got < 16) {
      const n = readFd(fd, bytes.subarray(got));
      if (n === 0) break;
      got += n;
    }
    if (got < 16) return;
    yield [record[0], record[1]];
  }
}

/**
 * Steps that give the program a clean signal state: Deno ignores SIGPIPE, and an ignored
 * disposition (like the blocked mask) survives execve.
 */
export function defaultSignalSteps(): Step[] {
  // A zeroed kernel struct sigaction is SIG_DFL with no flags on both architectures.
  const act = new Uint8Array(32);
  const none = new Uint8Array(8);
  return [
    { nr: SYS.rtSigaction, args: [13, act, null, 8], label: "reset SIGPIPE" },
    { nr: SYS.rtSigprocmask, args: [2, none, null, 8], label: "unblock signals" },
  ];
}

/** prctl(2) options and arguments the runtime uses. */
export const PR = {
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  CAPBSET_DROP: 24,
  SET_CHILD_SUBREAPER: 36,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;

/**
 * capset(2)'s two arguments (version 3) for capability masks (bit n = capability n): the header
 * {version, pid 0} and two {effective, permitted, inheritable} words, low 32 bits first.
 */
export function capsetArgs(
  effective: number,
  permitted: number,
  inheritable: number,
): [header: Uint32Array, data: Uint32Array] {
  const lo = (m: number) => m % 2 ** 32 >>> 0;
  const hi = (m: number) => Math.floor(m / 2 ** 32) >>> 0;
  return [
    new Uint32Array([0x20080522, 0]),
    new Uint32Array([
      lo(effective),
      lo(permitted),
      lo(inheritable),
      hi(effective),
      hi(permitted),
      hi(inheritable),
    ]),
  ];
}

/** capset(2) for the calling thread. */
export function capset(effective: number, permitted: number, inheritable: number): void {
  const [header, data] = capsetArgs(effective, permitted, inheritable);
  syscallInts(SYS.capset, addressOf(header), addressOf(data), 0n);
}

/** struct sock_fprog {u16 len; sock_filter *filter} for a BPF program, as runner memory. */
export function sockFprog(program: Uint8Array): Buf {
  const fprog = new Buf(new Uint8Array(16));
  new DataView(fprog.bytes.buffer).setUint16(0, program.length / 8, true);
  return fprog.point(8, bytesBuf(program));
}

/** seccomp(SECCOMP_SET_MODE_FILTER) of a BPF program (8-byte sock_filter records). */
export function loadSeccomp(program: Uint8Array, flags: number): void {
  const fprog = new BigUint64Array([BigInt(program.length / 8), addressOf(program)]);
  syscall(SYS.seccomp, 1n, BigInt(flags), new Uint8Array(fprog.buffer));
  void program;
}

/** Marks every descriptor from `from` on close-on-exec (close_range CLOSE_RANGE_CLOEXEC). */
export function closeRangeCloexec(from: number): void {
  syscallInts(SYS.closeRange, BigInt(from), 0xffffffffn, 4n);
}

/** An execve step. */
export function execveStep(path: string, args: string[], env: string[]): Step {
  return {
    nr: SYS.execve,
    args: [cstrBuf(path), cstrArray(args), cstrArray(env)],
    label: `exec ${path}`,
  };
}

/**
 * clone(2)s a child into new namespaces (`flags`: CLONE.* bits) that immediately execve()s
 * `path` with `args` and `env`; returns its pid once it has exec'd (or exited 127 when it
 * could not). SIGCHLD tells the parent when it exits.
 *
 * @example
 * ```ts
 * import { CLONE, cloneExec, waitPid } from "./process.ts";
 * const pid = cloneExec(CLONE.NEWUTS, "/bin/true", ["true"], []);
 * waitPid(pid); // { exited: true, code: 0 }
 * ```
 */
export function cloneExec(flags: number, path: string, args: string[], env: string[]): number {
  const step = { ...execveStep(path, args, env), mode: "ignore" as const };
  return spawnSyscalls(flags, [...defaultSignalSteps(), step]).pid;
}

/** How a process ended (or that it has not, with WNOHANG). */
export type WaitStatus =
  | { exited: true; code: number }
  | { signaled: true; signal: number }
  | { running: true };

/** waitpid(2); `noHang` returns {running} instead of blocking. */
export function waitPid(pid: number, noHang = false): WaitStatus {
  const status = new Int32Array(1);
  for (;;) {
    const r = sym().waitpid(pid, new Uint8Array(status.buffer), noHang ? 1 : 0);
    if (r < 0) {
      const e = errno();
      if (e === Errno.EINTR) continue;
      throw new ErrnoError(e, "waitpid", String(pid));
    }
    if (r === 0) return { running: true };
    const s = status[0];
    if ((s & 0x7f) === 0) return { exited: true, code: (s >> 8) & 0xff };
    return { signaled: true, signal: s & 0x7f };
  }
}

/** kill(2). */
export function kill(pid: number, signal: number): void {
  check(sym().kill(pid, signal), "kill", String(pid));
}

/** A pipe; both ends close-on-exec unless `inheritable`. */
export function pipe(inheritable = false): [read: number, write: number] {
  const fds = new Int32Array(2);
  check(sym().pipe2(new Uint8Array(fds.buffer), inheritable ? 0 : 0o2000000), "pipe2");
  return [fds[0], fds[1]];
}

/** Sets or clears FD_CLOEXEC. */
export function setCloexec(fd: number, on: boolean): void {
  const F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1;
  const cur = check(sym().fcntl3(fd, F_GETFD, 0n), "fcntl");
  check(sym().fcntl3(fd, F_SETFD, BigInt(on ? cur | FD_CLOEXEC : cur & ~FD_CLOEXEC)), "fcntl");
}

/** close(2). */
export function closeFd(fd: number): void {
  sym().close(fd);
}

/** dup3(2). */
export function dup3(from: number, to: number, cloexec: boolean): void {
  check(sym().dup3(from, to, cloexec ? 0o2000000 : 0), "dup3");
}

/** read(2) into `buf`; returns the count (0 at end of file). */
export function readFd(fd: number, buf: Uint8Array): number {
  for (;;) {
    const n = Number(sym().read(fd, buf, BigInt(buf.length)));
    if (n >= 0) return n;
    const e = errno();
    if (e !== Errno.EINTR) throw new ErrnoError(e, "read");
  }
}

/** write(2) of all of `buf`. */
export function writeFd(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    const n = Number(sym().write(fd, buf.subarray(off), BigInt(buf.length - off)));
    if (n < 0) {
      const e = errno();
      if (e === Errno.EINTR) continue;
      throw new ErrnoError(e, "write");
    }
    off += n;
  }
}

/** execve(2): replaces this process. Returns only on failure (by throwing). */
export function execve(path: string, args: string[], env: string[]): never {
  const argv = liveCstrArray(args);
  const envp = liveCstrArray(env);
  sym().execve(cstr(path), new Uint8Array(argv.array.buffer), new Uint8Array(envp.array.buffer));
  void [argv.keep, envp.keep];
  throw new ErrnoError(errno(), "execve", path);
}

/** mount(2). */
export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null,
): void {
  check(
    sym().mount(optCstr(source), cstr(target), optCstr(fstype), BigInt(flags), optCstr(data)),
    "mount",
    target,
  );
}

/** umount2(2); MNT_DETACH = 2. */
export function umount2(target: string, flags: number): void {
  check(sym().umount2(cstr(target), flags), "umount2", target);
}

/** pivot_root(2) (no glibc wrapper). */
export function pivotRoot(newRoot: string, putOld: string): void {
  const nr = Deno.build.arch === "x86_64" ? 155n : 41n;
  const a = cstr(newRoot), b = cstr(putOld);
  const r = sym().syscall4(
    nr,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a))),
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b))),
    null,
  );
  check(r, "pivot_root", newRoot);
}

/** chroot(2). */
export function chroot(path: string): void {
  check(sym().chroot(cstr(path)), "chroot", path);
}

/** chdir(2) (Deno.chdir would do; this one works with the errno model used here). */
export function chdir(path: string): void {
  check(sym().chdir(cstr(path)), "chdir", path);
}

/** fchdir(2). */
export function fchdir(fd: number): void {
  check(sym().fchdir(fd), "fchdir");
}

/** sethostname(2). */
export function sethostname(name: string): void {
  const b = encoder.encode(name);
  check(sym().sethostname(b, BigInt(b.length)), "sethostname", name);
}

/** setdomainname(2). */
export function setdomainname(name: string): void {
  const b = encoder.encode(name);
  check(sym().setdomainname(b, BigInt(b.length)), "setdomainname", name);
}

/** setrlimit(2); -1 means RLIM_INFINITY. */
export function setrlimit(resource: number, soft: number, hard: number): void {
  const v = new BigUint64Array([
    soft < 0 ? 0xffffffffffffffffn : BigInt(soft),
    hard < 0 ? 0xffffffffffffffffn : BigInt(hard),
  ]);
  check(sym().setrlimit(resource, new Uint8Array(v.buffer)), "setrlimit", String(resource));
}

/** umask(2); returns the previous mask. */
export function umask(mask: number): number {
  return sym().umask(mask);
}

/** setgroups(2). */
export function setgroups(gids: number[]): void {
  const a = new Uint32Array(gids);
  check(sym().setgroups(BigInt(gids.length), new Uint8Array(a.buffer)), "setgroups");
}

/** setresuid(2) for all of this process's threads (glibc broadcasts it). */
export function setresuid(uid: number): void {
  check(sym().setresuid(uid, uid, uid), "setresuid", String(uid));
}

/** setresgid(2) for all of this process's threads (glibc broadcasts it). */
export function setresgid(gid: number): void {
  check(sym().setresgid(gid, gid, gid), "setresgid", String(gid));
}

/** prctl(2) with up to four arguments. */
export function prctl(option: number, a = 0n, b = 0n, c = 0n, d = 0n): number {
  return check(sym().prctl(option, a, b, c, d), "prctl", String(option));
}

/** A raw syscall with up to three integer arguments and a buffer. */
export function syscall(nr: number, a: bigint, b: bigint, buf: Uint8Array | null): number {
  return check(sym().syscall4(BigInt(nr), a, b, buf), "syscall", String(nr));
}

/** A raw syscall with three integer (or pointer-as-integer) arguments. */
export function syscallInts(nr: number, a: bigint, b: bigint, c: bigint): number {
  return check(sym().syscallI(BigInt(nr), a, b, c), "syscall", String(nr));
}

/** The address of a buffer, for syscalls that take pointers as integers. */
export function addressOf(buf: ArrayBufferView | ArrayBuffer): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

/** unshare(2) for the calling thread (only kinds a multithreaded process may unshare). */
export function unshare(flags: number): void {
  check(sym().unshare(flags), "unshare");
}

/** setns(2). */
export function setns(fd: number, nstype: number): void {
  check(sym().setns(fd, nstype), "setns");
}

/** setsid(2). */
export function setsid(): number {
  return check(sym().setsid(), "setsid");
}

/** This process's pid. */
export function getpid(): number {
  return sym().getpid();
}

/** Restores the default action of `signal` (SIG_DFL), e.g. SIGPIPE, which Deno ignores. */
export function defaultSignal(signal: number): void {
  sym().signal(signal, null);
}
