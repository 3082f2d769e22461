/**
 * Pseudo-terminals through libc, for `process.terminal: true`: allocate a pty pair, size it,
 * make it a controlling terminal, switch a terminal to raw mode and back, plus the few fd I/O
 * helpers a relay needs to wait on blocking fds without stalling Deno's event loop.
 *
 * The ioctl numbers (TIOCSCTTY 0x540E, TIOCGWINSZ 0x5413, TIOCSWINSZ 0x5414) come from
 * asm-generic/ioctls.h, which both x86_64 and aarch64 use unchanged (they differ only on
 * alpha, mips, powerpc and sparc). glibc's struct termios is 60 bytes on both.
 * @module
 */
import { Errno, ErrnoError } from "./errno.ts";
import { O_CLOEXEC, O_NOCTTY, O_RDWR, RESOLVE_IN_ROOT } from "./constants.ts";
import { openat2 } from "./fs.ts";
import { check, cstr, errno, lazySymbols } from "./libc.ts";

const PTY_SYMBOLS = {
  posix_openpt: { parameters: ["i32"], result: "i32" },
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  ioctlPtr: { name: "ioctl", parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctlInt: { name: "ioctl", parameters: ["i32", "u64", "i64"], result: "i32" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  isatty: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  // Run on Deno's blocking thread pool and return promises. errno lives in that other thread,
  // so failures are re-examined with the synchronous twin (see pollFd / writeAllAsync).
  pollAsync: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  writeAsync: {
    name: "write",
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

type PtyLib = Deno.DynamicLibrary<typeof PTY_SYMBOLS>["symbols"];
let lib: PtyLib | undefined;
const sym = (): PtyLib => lib ??= lazySymbols(PTY_SYMBOLS);

const TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414;
const TCSANOW = 0;
const EIO = 5;
const ENOTTY = 25;
// glibc's struct termios is 60 bytes; the spare bytes cost nothing and guard against a libc
// that writes a little more.
const TERMIOS_SIZE = 64;

/** A freshly allocated pseudo-terminal pair. */
export interface Pty {
  /** The master (multiplexer) side, kept by the runtime or sent over --console-socket. */
  master: number;
  /** The slave side, which becomes the container process's stdio and controlling terminal. */
  slave: number;
  /** The slave's path, e.g. `/dev/pts/3`. */
  name: string;
}

/**
 * Allocates a pty pair: posix_openpt, grantpt, unlockpt, ptsname_r, then opens the slave.
 * Both fds are close-on-exec and neither becomes our controlling terminal.
 *
 * @example
 * ```ts
 * import { openPty } from "./pty.ts";
 * const { master, slave, name } = openPty(); // name: "/dev/pts/3"
 * ```
 */
export function openPty(): Pty {
  const s = sym();
  const flags = O_RDWR | O_NOCTTY | O_CLOEXEC;
  const master = check(s.posix_openpt(flags), "posix_openpt");
  try {
    check(s.grantpt(master), "grantpt");
    check(s.unlockpt(master), "unlockpt");
    const buf = new Uint8Array(128);
    // ptsname_r returns the error number instead of setting errno.
    const r = s.ptsname_r(master, buf, BigInt(buf.length));
    if (r !== 0) throw new ErrnoError(r, "ptsname_r");
    const name = new TextDecoder().decode(buf.subarray(0, buf.indexOf(0)));
    const slave = check(s.open(cstr(name), flags, 0), "open", name);
    return { master, slave, name };
  } catch (e) {
    s.close(master);
    throw e;
  }
}

const TIOCGPTN = 0x80045430;
const TIOCSPTLCK = 0x40045431;
const TIOCGPTPEER = 0x5441;

/**
 * Opens a new pty from the devpts instance whose ptmx is `path` under the directory `dirfd`,
 * resolved as if `dirfd` were `/` (RESOLVE_IN_ROOT): e.g. a container's /dev/pts/ptmx through
 * /proc/PID/root, so the pty belongs to the container. The slave comes from TIOCGPTPEER, never
 * by path; `name` is the slave's path inside that root.
 */
export function openPtyIn(dirfd: number, path: string): Pty {
  const s = sym();
  const flags = O_RDWR | O_NOCTTY | O_CLOEXEC;
  const master = openat2(dirfd, path, flags, 0, RESOLVE_IN_ROOT);
  try {
    check(s.ioctlPtr(master, BigInt(TIOCSPTLCK), new Uint8Array(4)), "ioctl(TIOCSPTLCK)");
    const n = new Uint32Array(1);
    check(s.ioctlPtr(master, BigInt(TIOCGPTN), new Uint8Array(n.buffer)), "ioctl(TIOCGPTN)");
    const slave = check(
      s.ioctlInt(master, BigInt(TIOCGPTPEER), BigInt(flags)),
      "ioctl(TIOCGPTPEER)",
    );
    return { master, slave, name: `/dev/pts/${n[0]}` };
  } catch (e) {
    s.close(master);
    throw e;
  }
}

/**
 * Sets a terminal's window size (TIOCSWINSZ). On a pty master this resizes the pair and the
 * kernel sends SIGWINCH to the slave's foreground process group.
 */
export function setWinsize(fd: number, rows: number, cols: number): void {
  // struct winsize { unsigned short ws_row, ws_col, ws_xpixel, ws_ypixel; }
  const ws = new Uint16Array([rows, cols, 0, 0]);
  check(sym().ioctlPtr(fd, BigInt(TIOCSWINSZ), new Uint8Array(ws.buffer)), "ioctl(TIOCSWINSZ)");
}

/**
 * A terminal's window size (TIOCGWINSZ), or undefined when `fd` is not a terminal.
 *
 * @example
 * ```ts
 * import { getWinsize } from "./pty.ts";
 * const size = getWinsize(1); // { rows: 50, cols: 120 } on a terminal
 * ```
 */
export function getWinsize(fd: number): { rows: number; cols: number } | undefined {
  const ws = new Uint16Array(4);
  if (sym().ioctlPtr(fd, BigInt(TIOCGWINSZ), new Uint8Array(ws.buffer)) < 0) {
    const e = errno();
    if (e === ENOTTY || e === Errno.EINVAL) return undefined;
    throw new ErrnoError(e, "ioctl(TIOCGWINSZ)");
  }
  return { rows: ws[0], cols: ws[1] };
}

/** struct termios: c_iflag, c_oflag, c_cflag, c_lflag (tcflag_t each), so c_lflag is at 12. */
const C_LFLAG_OFFSET = 12;
const ISIG = 0x1;

/**
 * Switches a terminal to raw mode (cfmakeraw, applied with TCSANOW) and returns the previous
 * termios for {@linkcode restoreTermios}. With `keepSignals`, ^C, ^\ and ^Z still raise their
 * signals (ISIG stays on): for a terminal that shows a container's output but whose input is
 * not relayed to it.
 *
 * @example
 * ```ts
 * import { makeRaw, restoreTermios } from "./pty.ts";
 * const saved = makeRaw(0);
 * try {
 *   // ... relay keystrokes ...
 * } finally {
 *   restoreTermios(0, saved);
 * }
 * ```
 */
export function makeRaw(fd: number, options: { keepSignals?: boolean } = {}): Uint8Array {
  const s = sym();
  const saved = new Uint8Array(TERMIOS_SIZE);
  check(s.tcgetattr(fd, saved), "tcgetattr");
  const raw = saved.slice();
  s.cfmakeraw(raw);
  if (options.keepSignals) {
    const view = new DataView(raw.buffer);
    view.setUint32(C_LFLAG_OFFSET, view.getUint32(C_LFLAG_OFFSET, true) | ISIG, true);
  }
  check(s.tcsetattr(fd, TCSANOW, raw), "tcsetattr");
  return saved;
}

/** Puts back a termios saved by {@linkcode makeRaw} (tcsetattr, TCSANOW). */
export function restoreTermios(fd: number, saved: Uint8Array): void {
  check(sym().tcsetattr(fd, TCSANOW, saved), "tcsetattr");
}

/** Whether `fd` refers to a terminal (isatty(3)). */
export function isatty(fd: number): boolean {
  return sym().isatty(fd) === 1;
}

/** poll(2) event bits, for {@linkcode pollFd}. */
export const POLL = { IN: 0x1, OUT: 0x4, ERR: 0x8, HUP: 0x10, NVAL: 0x20 } as const;

/**
 * Waits on a thread-pool thread until `fd` has one of `events` (POLL.* bits; ERR, HUP and NVAL
 * are always reported) or `timeoutMs` passes (-1: no limit). Resolves to the revents, 0 on
 * timeout or interruption. The event loop keeps running meanwhile, which makes blocking fds
 * (a pty master, the caller's stdin, a listening socket) usable from async code.
 *
 * @example
 * ```ts
 * import { POLL, pollFd, readAvailable } from "./pty.ts";
 * const buf = new Uint8Array(4096);
 * if (await pollFd(0, POLL.IN, 100)) console.log(readAvailable(0, buf));
 * ```
 */
export async function pollFd(fd: number, events: number, timeoutMs: number): Promise<number> {
  const pfd = new Int32Array([fd, events]);
  const bytes = new Uint8Array(pfd.buffer);
  let r = await sym().pollAsync(bytes, 1n, timeoutMs);
  if (r < 0) {
    // The errno is in the pool thread; ask again here, without waiting, to learn it.
    pfd[1] = events;
    r = sym().poll(bytes, 1n, 0);
    if (r < 0) {
      const e = errno();
      if (e === Errno.EINTR) return 0;
      throw new ErrnoError(e, "poll");
    }
  }
  // struct pollfd { int fd; short events; short revents; }
  return r === 0 ? 0 : new Int16Array(pfd.buffer)[3];
}

/**
 * One read(2) into `buf`: the byte count, 0 at end of file, or null when nothing is there yet
 * (EAGAIN on a non-blocking fd). EIO also counts as end of file: it is what a pty master reads
 * once every slave fd is closed. Call it after {@linkcode pollFd} reported POLL.IN (or HUP),
 * so a blocking fd returns at once.
 */
export function readAvailable(fd: number, buf: Uint8Array): number | null {
  for (;;) {
    const n = Number(sym().read(fd, buf, BigInt(buf.length)));
    if (n >= 0) return n;
    const e = errno();
    if (e === Errno.EINTR) continue;
    if (e === Errno.EAGAIN) return null;
    if (e === EIO) return 0;
    throw new ErrnoError(e, "read");
  }
}

/**
 * Writes all of `buf` to `fd` from a thread-pool thread, so a full pipe or pty (a reader that
 * is not keeping up) holds back only this promise, not the event loop.
 */
export async function writeAllAsync(fd: number, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const part = buf.subarray(off);
    let n = Number(await sym().writeAsync(fd, part, BigInt(part.length)));
    if (n < 0) {
      // errno stayed in the pool thread. If the fd is ready (or broken) now, a synchronous
      // write cannot block and tells us the real outcome; otherwise wait for room.
      const ready = await pollFd(fd, POLL.OUT, 0);
      if (ready === 0) {
        await pollFd(fd, POLL.OUT, -1);
        continue;
      }
      n = Number(sym().write(fd, part, BigInt(part.length)));
      if (n < 0) {
        const e = errno();
        if (e === Errno.EINTR || e === Errno.EAGAIN) continue;
        throw new ErrnoError(e, "write");
      }
    }
    off += n;
  }
}
