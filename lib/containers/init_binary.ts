/**
 * The reaper `--init` puts in front of a container's command as its pid 1: catatonit (podman's
 * choice, also shipped in /usr/libexec/podman) or a static tini, whichever is installed. It is
 * bound into the container, which need not have a libc, so only static builds qualify.
 * @module
 */
import { NotFoundError } from "../errors.ts";

/** Where the reapers are looked for, best first. */
export const INIT_CANDIDATES: readonly string[] = [
  "/usr/bin/catatonit",
  "/usr/libexec/podman/catatonit",
  "/usr/local/bin/catatonit",
  "/usr/bin/tini-static",
  "/usr/local/bin/tini-static",
  "/usr/bin/tini",
  "/usr/local/bin/tini",
];

/** ELF program header type of a dynamic linker request. */
const PT_INTERP = 3;

/** Whether `bytes` (the start of a file) are a 64-bit little-endian ELF without PT_INTERP. */
export function isStaticElf(bytes: Uint8Array): boolean {
  if (bytes.length < 64) return false;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0) !== 0x7f454c46 || bytes[4] !== 2 || bytes[5] !== 1) return false;
  const phoff = Number(v.getBigUint64(32, true));
  const phentsize = v.getUint16(54, true);
  const phnum = v.getUint16(56, true);
  if (phoff + phnum * phentsize > bytes.length) return false;
  for (let i = 0; i < phnum; i++) {
    if (v.getUint32(phoff + i * phentsize, true) === PT_INTERP) return false;
  }
  return true;
}

/**
 * The first static reaper installed.
 *
 * @throws {NotFoundError} when none is (the message says what to install).
 */
export function findInitBinary(candidates: readonly string[] = INIT_CANDIDATES): string {
  for (const path of candidates) {
    let head: Uint8Array;
    try {
      using f = Deno.openSync(path);
      head = new Uint8Array(4096);
      head = head.subarray(0, f.readSync(head) ?? 0);
    } catch {
      continue;
    }
    if (isStaticElf(head)) return Deno.realPathSync(path);
  }
  throw new NotFoundError(
    "--init needs a static catatonit or tini (Debian: apt install catatonit); none was found in " +
      candidates.join(", "),
  );
}
