/**
 * C structs the init program passes to the kernel, as runner memory (lib/runtime/init).
 * @module
 */
import { O_CLOEXEC } from "../../../ffi/constants.ts";
import { Buf, u64Buf } from "../../../ffi/runner_program.ts";

/** struct open_how {u64 flags, mode, resolve} (close-on-exec always). */
export function openHow(flags: number, resolve: number): Buf {
  return u64Buf([flags | O_CLOEXEC, 0, resolve]);
}

/** dev_t as mknodat(2) takes it (new_encode_dev). */
export function encodeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** struct ifreq for SIOCSIFFLAGS: the name, then ifr_flags (a short) at offset 16. */
export function ifreqFlags(name: string, flags: number): Uint8Array {
  const ifreq = new Uint8Array(40);
  ifreq.set(new TextEncoder().encode(name));
  new DataView(ifreq.buffer).setInt16(16, flags, true);
  return ifreq;
}

/** struct sock_fprog for a base64 BPF program. */
export function fprog(programBase64: string): Buf {
  const program = Uint8Array.from(atob(programBase64), (c) => c.charCodeAt(0));
  const buf = new Buf(new Uint8Array(16));
  new DataView(buf.bytes.buffer).setUint16(0, program.length / 8, true);
  return buf.point(8, new Buf(program));
}

/** struct msghdr carrying `name` as data and descriptor `fd` as SCM_RIGHTS. */
export function fdMessage(name: string, fd: number): Buf {
  const data = new Buf(new TextEncoder().encode(name), 1);
  const iov = new Buf(new Uint8Array(16)).point(0, data);
  new DataView(iov.bytes.buffer).setBigUint64(8, BigInt(data.bytes.length), true);
  // struct cmsghdr {u64 len = CMSG_LEN(4); i32 level SOL_SOCKET; i32 type SCM_RIGHTS}, the fd.
  const control = new Uint8Array(24);
  const c = new DataView(control.buffer);
  c.setBigUint64(0, 20n, true);
  c.setInt32(8, 1, true);
  c.setInt32(12, 1, true);
  c.setInt32(16, fd, true);
  const msg = new Buf(new Uint8Array(56)).point(16, iov).point(32, new Buf(control));
  const m = new DataView(msg.bytes.buffer);
  m.setBigUint64(24, 1n, true); // msg_iovlen
  m.setBigUint64(40, 24n, true); // msg_controllen
  return msg;
}
