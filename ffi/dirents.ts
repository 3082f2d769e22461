/**
 * Names as the kernel has them: directory listings through getdents64(2) and symlink targets,
 * as raw bytes. Deno.readDir decodes names lossily (a byte that is not UTF-8 becomes U+FFFD),
 * so a name read there cannot be opened again. Callers decode the bytes as they need (lib/ uses
 * the tar codec's surrogate-escape decoding, which ffi/fs.ts encodes back).
 *
 * @example
 * ```ts
 * import { readDirents } from "./dirents.ts";
 * import { close, openat } from "./fs.ts";
 * import { AT_FDCWD, O_DIRECTORY, O_RDONLY } from "./constants.ts";
 * const fd = openat(AT_FDCWD, "/tmp", O_RDONLY | O_DIRECTORY);
 * for (const e of readDirents(fd)) console.log(new TextDecoder().decode(e.name), e.type);
 * close(fd);
 * ```
 * @module
 */
import { check, lazySymbols } from "./libc.ts";

const DIRENT_SYMBOLS = {
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  readlinkat: { parameters: ["i32", "buffer", "buffer", "usize"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

type DirentLib = Deno.DynamicLibrary<typeof DIRENT_SYMBOLS>["symbols"];
let lib: DirentLib | undefined;
const sym = (): DirentLib => lib ??= lazySymbols(DIRENT_SYMBOLS);

/** d_type values of getdents64. */
export const DT = {
  UNKNOWN: 0,
  FIFO: 1,
  CHR: 2,
  DIR: 4,
  BLK: 6,
  REG: 8,
  LNK: 10,
  SOCK: 12,
} as const;

/** One directory entry: its name's bytes (no NUL) and its d_type (DT.UNKNOWN on some file systems). */
export interface Dirent {
  name: Uint8Array;
  type: number;
}

const buffer = new Uint8Array(64 * 1024);
const view = new DataView(buffer.buffer);

/**
 * Every entry of the open directory `fd` but `.` and `..`, from its start (the offset is
 * rewound first, so a descriptor can be listed twice).
 */
export function readDirents(fd: number): Dirent[] {
  const s = sym();
  check(s.lseek(fd, 0n, 0), "lseek");
  const out: Dirent[] = [];
  for (;;) {
    const n = check(s.getdents64(fd, buffer, BigInt(buffer.length)), "getdents64");
    if (n === 0) return out;
    for (let off = 0; off < n;) {
      const reclen = view.getUint16(off + 16, true);
      const type = buffer[off + 18];
      let end = off + 19;
      while (end < off + reclen && buffer[end] !== 0) end++;
      const name = buffer.slice(off + 19, end);
      off += reclen;
      if (name.length === 1 && name[0] === 0x2e) continue;
      if (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) continue;
      out.push({ name, type });
    }
  }
}

const linkBuf = new Uint8Array(4097);

/**
 * readlinkat(2): the target of symlink `name` in `dirfd` as raw bytes. `name` is a C string
 * (NUL-terminated bytes), so names that are not UTF-8 can be given exactly.
 */
export function readlinkBytes(dirfd: number, name: Uint8Array): Uint8Array {
  const n = check(sym().readlinkat(dirfd, name, linkBuf, BigInt(linkBuf.length)), "readlinkat");
  return linkBuf.slice(0, n);
}
