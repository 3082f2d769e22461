/**
 * Processes through libc: clone() into new namespaces running a syscall-runner program
 * (runner_program.ts), waiting, signals, pipes, sealed memfds.
 *
 * JS must never run in a cloned child (the runtime's threads are gone there), so the child of
 * {@linkcode spawnSyscalls} runs the runner's machine code (ffi/asm) from a page mapped
 * read+execute, which makes the prepared system calls and nothing else.
 * @module
 */
import { Errno, ErrnoError } from "./errno.ts";
import { check, cstr, errno, lazySymbols } from "./libc.ts";
import {
  cstrArray,
  cstrBuf,
  FORK_RECORD,
  type Item,
  layoutProgram,
  type Step,
} from "./runner_program.ts";
import { SYSCALL_LIST_CODE } from "./syscall_list_code.ts";
import { SYS } from "./syscall_numbers.ts";
import { SIGCHLD } from "./constants.ts";

export { SYS };
export { CLONE, PR, SIGCHLD } from "./constants.ts";

const PROC_SYMBOLS = {
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  mprotect: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  clone: { parameters: ["pointer", "pointer", "i32", "pointer"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fcntl3: { name: "fcntl", parameters: ["i32", "i32", "i64"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  dup3: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsid: { parameters: [], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type ProcLib = Deno.DynamicLibrary<typeof PROC_SYMBOLS>["symbols"];
let lib: ProcLib | undefined;
const sym = (): ProcLib => lib ??= lazySymbols(PROC_SYMBOLS);

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
  const [statusR, low] = pipe(false);
  // High up, so that steps moving descriptors to small fixed numbers cannot overwrite it.
  let statusW = low;
  try {
    statusW = dupAbove(low, 100);
    closeFd(low);
  } catch { /* a tight descriptor limit: keep it where it is */ }
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
  const unblock: Step = {
    nr: SYS.rtSigprocmask,
    args: [2, new BigUint64Array(1), null, 8],
    label: "unblock signals",
  };
  return spawnSyscalls(flags, [unblock, step]).pid;
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

/** A duplicate of `fd` at the lowest free number from `min` on, close-on-exec (F_DUPFD_CLOEXEC). */
export function dupAbove(fd: number, min: number): number {
  const F_DUPFD_CLOEXEC = 1030;
  return check(sym().fcntl3(fd, F_DUPFD_CLOEXEC, BigInt(min)), "fcntl(F_DUPFD_CLOEXEC)");
}

/**
 * A sealed memfd holding `bytes` (nothing can change it afterwards), close-on-exec: a program
 * to execveat(AT_EMPTY_PATH) without a file on disk.
 */
export function sealedMemfd(name: string, bytes: Uint8Array): number {
  const MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2, F_ADD_SEALS = 1033;
  const SEALS = 0x1 | 0x2 | 0x4 | 0x8; // seal, shrink, grow, write
  const fd = check(sym().memfd_create(cstr(name), MFD_CLOEXEC | MFD_ALLOW_SEALING), "memfd_create");
  try {
    writeFd(fd, bytes);
    check(sym().fcntl3(fd, F_ADD_SEALS, BigInt(SEALS)), "fcntl(F_ADD_SEALS)");
  } catch (e) {
    closeFd(fd);
    throw e;
  }
  return fd;
}

/** dup3(2) without flags: `target` becomes a copy of `fd` (closed first if open). */
export function dupOnto(fd: number, target: number): void {
  check(sym().dup3(fd, target, 0), "dup3", String(target));
}

/** setsid(2): a new session without a controlling terminal (no SIGHUP when it closes). */
export function setsid(): number {
  return check(sym().setsid(), "setsid");
}

/** close(2). */
export function closeFd(fd: number): void {
  sym().close(fd);
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

/** umount2(2); MNT_DETACH = 2. */
export function umount2(target: string, flags: number): void {
  check(sym().umount2(cstr(target), flags), "umount2", target);
}

/** prctl(2) with up to four arguments. */
export function prctl(option: number, a = 0n, b = 0n, c = 0n, d = 0n): number {
  return check(sym().prctl(option, a, b, c, d), "prctl", String(option));
}

/** The address of a buffer, for syscalls that take pointers as integers. */
export function addressOf(buf: ArrayBufferView | ArrayBuffer): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}
