/**
 * Unix-domain stream sockets that carry file descriptors (SCM_RIGHTS), as runc's
 * `--console-socket` does: the runtime connects to the socket and sends the pty master in one
 * sendmsg(2) whose ordinary payload is a name for the fd (runc: the master's file name, at
 * most 4095 bytes, no NUL) and whose single control message carries the fd.
 *
 * The structs are laid out by hand for 64-bit Linux (x86_64, aarch64; little-endian):
 * msghdr is 56 bytes, iovec 16, cmsghdr {u64 len; i32 level; i32 type} 16 plus data aligned to
 * 8, sockaddr_un 110 (u16 family, then 108 path bytes).
 * @module
 */
import { ErrnoError } from "./errno.ts";
import { O_CLOEXEC } from "./constants.ts";
import { check, lazySymbols, retry } from "./libc.ts";

const SOCKET_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type SocketLib = Deno.DynamicLibrary<typeof SOCKET_SYMBOLS>["symbols"];
let lib: SocketLib | undefined;
const sym = (): SocketLib => lib ??= lazySymbols(SOCKET_SYMBOLS);

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = O_CLOEXEC; // the same bit on every Linux architecture we support
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_CTRUNC = 0x8;
const MSG_CMSG_CLOEXEC = 0x40000000;
const ENAMETOOLONG = 36;

/** Longest name {@linkcode sendFd} sends and {@linkcode recvFd} accepts, as in runc. */
export const MAX_FD_NAME = 4095;

const MSGHDR_SIZE = 56;
const CMSGHDR_SIZE = 16;
const align8 = (n: number): number => (n + 7) & ~7;
const cmsgLen = (data: number): number => CMSGHDR_SIZE + data; // CMSG_LEN
const cmsgSpace = (data: number): number => CMSGHDR_SIZE + align8(data); // CMSG_SPACE

const addr = (b: Uint8Array): bigint => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));

/** struct sockaddr_un for a file-system path, and the length to pass with it. */
function sockaddrUn(path: string, call: string): { sa: Uint8Array; len: number } {
  const p = new TextEncoder().encode(path);
  // sun_path holds 108 bytes; keep one for the NUL so the kernel never reads past it.
  if (p.length === 0 || p.length > 107) throw new ErrnoError(ENAMETOOLONG, call, path);
  const sa = new Uint8Array(110);
  new DataView(sa.buffer).setUint16(0, AF_UNIX, true);
  sa.set(p, 2);
  return { sa, len: 2 + p.length + 1 };
}

/**
 * Connects a new AF_UNIX stream socket (close-on-exec) to `path`; returns its fd.
 *
 * @example
 * ```ts
 * import { connectUnix, sendFd } from "./socket.ts";
 * import { openPty } from "./pty.ts";
 * const pty = openPty();
 * const sock = connectUnix("/run/console.sock");
 * sendFd(sock, pty.master, pty.name);
 * ```
 */
export function connectUnix(path: string): number {
  const { sa, len } = sockaddrUn(path, "connect");
  const s = sym();
  const fd = check(s.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
  try {
    // No EINTR retry: an interrupted connect() goes on in the background. AF_UNIX connects
    // complete (or fail) at once anyway.
    check(s.connect(fd, sa, len), "connect", path);
  } catch (e) {
    s.close(fd);
    throw e;
  }
  return fd;
}

/** A connected pair of AF_UNIX stream sockets, both close-on-exec. */
export function socketPair(): [number, number] {
  const fds = new Int32Array(2);
  check(
    sym().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, new Uint8Array(fds.buffer)),
    "socketpair",
  );
  return [fds[0], fds[1]];
}

/**
 * Binds a new AF_UNIX stream socket (close-on-exec) to `path`, which must not exist yet, and
 * listens on it; returns the listening fd. Unlinking the path afterwards is the caller's job.
 */
export function listenUnix(path: string, backlog = 16): number {
  const { sa, len } = sockaddrUn(path, "bind");
  const s = sym();
  const fd = check(s.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
  try {
    check(s.bind(fd, sa, len), "bind", path);
    check(s.listen(fd, backlog), "listen", path);
  } catch (e) {
    s.close(fd);
    throw e;
  }
  return fd;
}

/**
 * Accepts one connection on a listening socket; returns the connected fd (close-on-exec).
 * It blocks until a peer connects: from async code, first await
 * `pollFd(listenFd, POLL.IN, -1)` from ./pty.ts, which waits off the event loop.
 */
export function acceptFd(listenFd: number): number {
  return retry(() => sym().accept4(listenFd, null, null, SOCK_CLOEXEC), "accept4");
}

/**
 * Sends `fd` over the connected socket `sock` in a single sendmsg(2): the bytes of `name` as
 * the payload and one SCM_RIGHTS control message holding the fd. This is the framing of
 * runc's --console-socket (libcontainer's SendRawFd), so recvtty, containerd and other
 * console-socket servers accept it. `name` must be 1 to {@linkcode MAX_FD_NAME} bytes: a
 * stream socket cannot carry control data without at least one payload byte.
 */
export function sendFd(sock: number, fd: number, name: string): void {
  const payload = new TextEncoder().encode(name);
  if (payload.length === 0 || payload.length > MAX_FD_NAME) {
    throw new RangeError(`sendFd: name must be 1 to ${MAX_FD_NAME} bytes, got ${payload.length}`);
  }
  const iov = new Uint8Array(16);
  const iv = new DataView(iov.buffer);
  iv.setBigUint64(0, addr(payload), true);
  iv.setBigUint64(8, BigInt(payload.length), true);

  const control = new Uint8Array(cmsgSpace(4));
  const cv = new DataView(control.buffer);
  cv.setBigUint64(0, BigInt(cmsgLen(4)), true);
  cv.setInt32(8, SOL_SOCKET, true);
  cv.setInt32(12, SCM_RIGHTS, true);
  cv.setInt32(16, fd, true);

  const msg = new Uint8Array(MSGHDR_SIZE); // msg_name NULL: the socket is connected
  const mv = new DataView(msg.buffer);
  mv.setBigUint64(16, addr(iov), true); // msg_iov
  mv.setBigUint64(24, 1n, true); // msg_iovlen
  mv.setBigUint64(32, addr(control), true); // msg_control
  mv.setBigUint64(40, BigInt(control.length), true); // msg_controllen

  const n = retry(() => sym().sendmsg(sock, msg, 0), "sendmsg");
  // A short send (not expected for 4 KiB on AF_UNIX) would leave the receiver a truncated
  // name; report it rather than trail the rest as stray bytes.
  if (n !== payload.length) throw new Error(`sendFd: sent ${n} of ${payload.length} bytes`);
  void [payload, iov, control]; // alive until sendmsg returned
}

/**
 * Receives one fd sent by {@linkcode sendFd} (or by runc over --console-socket) with
 * recvmsg(2); it arrives close-on-exec (MSG_CMSG_CLOEXEC). Returns the fd and the payload as
 * its name. Throws if the peer closed the connection or the message did not carry exactly one
 * fd; fds of a malformed message are closed, never leaked. Blocks until a message arrives:
 * from async code, first await `pollFd(sock, POLL.IN, -1)` from ./pty.ts.
 */
export function recvFd(sock: number): { fd: number; name: string } {
  const payload = new Uint8Array(MAX_FD_NAME + 1);
  const iov = new Uint8Array(16);
  const iv = new DataView(iov.buffer);
  iv.setBigUint64(0, addr(payload), true);
  iv.setBigUint64(8, BigInt(payload.length), true);

  // Room for more than one fd, so a peer that sends several cannot make the kernel drop
  // (and leak) them with MSG_CTRUNC before we get to close the extras.
  const control = new Uint8Array(cmsgSpace(4 * 16));
  const msg = new Uint8Array(MSGHDR_SIZE);
  const mv = new DataView(msg.buffer);
  mv.setBigUint64(16, addr(iov), true);
  mv.setBigUint64(24, 1n, true);
  mv.setBigUint64(32, addr(control), true);
  mv.setBigUint64(40, BigInt(control.length), true);

  const n = retry(() => sym().recvmsg(sock, msg, MSG_CMSG_CLOEXEC), "recvmsg");
  void [payload, iov, control];

  // Walk the control messages the kernel filled in (msg_controllen now holds their length).
  const fds: number[] = [];
  const controlLen = Math.min(Number(mv.getBigUint64(40, true)), control.length);
  const cv = new DataView(control.buffer);
  for (let off = 0; off + CMSGHDR_SIZE <= controlLen;) {
    const len = Number(cv.getBigUint64(off, true));
    if (len < CMSGHDR_SIZE || off + len > controlLen) break;
    if (cv.getInt32(off + 8, true) === SOL_SOCKET && cv.getInt32(off + 12, true) === SCM_RIGHTS) {
      for (let p = off + CMSGHDR_SIZE; p + 4 <= off + len; p += 4) fds.push(cv.getInt32(p, true));
    }
    off += align8(len);
  }

  const fail = (why: string): never => {
    for (const f of fds) sym().close(f);
    throw new Error(`recvFd: ${why}`);
  };
  if (n === 0 && fds.length === 0) fail("connection closed by peer");
  if (mv.getInt32(48, true) & MSG_CTRUNC) fail("control data truncated");
  if (fds.length !== 1) fail(`expected one fd, got ${fds.length}`);
  if (n > MAX_FD_NAME) fail(`name longer than ${MAX_FD_NAME} bytes`);
  return { fd: fds[0], name: new TextDecoder().decode(payload.subarray(0, n)) };
}
