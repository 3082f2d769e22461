/**
 * The libc symbols ocibox uses for file-system work, opened lazily with Deno.dlopen, and the
 * helpers every ffi module shares (errno, checks, C strings). Only the ffi/ folder imports
 * this; everything else calls the typed wrappers in ffi/fs.ts, process.ts, pty.ts, socket.ts.
 * @module
 */

import { Errno, ErrnoError } from "./errno.ts";

const FS_SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  syscall5: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "buffer", "usize"],
    result: "i32",
  },
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  mknodat: { parameters: ["i32", "buffer", "u32", "u64"], result: "i32" },
  symlinkat: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  linkat: { parameters: ["i32", "buffer", "i32", "buffer", "i32"], result: "i32" },
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  renameat: { parameters: ["i32", "buffer", "i32", "buffer"], result: "i32" },
  readlinkat: { parameters: ["i32", "buffer", "buffer", "usize"], result: "isize" },
  fchown: { parameters: ["i32", "u32", "u32"], result: "i32" },
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  fchmodat: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  futimens: { parameters: ["i32", "buffer"], result: "i32" },
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  fsetxattr: { parameters: ["i32", "buffer", "buffer", "usize", "i32"], result: "i32" },
  lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
  llistxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  flistxattr: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  fremovexattr: { parameters: ["i32", "buffer"], result: "i32" },
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
  fgetxattr: { parameters: ["i32", "buffer", "buffer", "usize"], result: "isize" },
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  fsync: { parameters: ["i32"], result: "i32" },
  geteuid: { parameters: [], result: "u32" },
  getegid: { parameters: [], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

// Kept for the life of the process: their symbols must stay callable.
const opened: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>[] = [];

/**
 * libc's symbols of `defs`, each bound on first use. Deno.dlopen prepares a call stub for every
 * symbol it is given (a few hundred microseconds each), so a table opened whole costs
 * 5-10 ms of every start even though a command calls a handful.
 */
export function lazySymbols<T extends Deno.ForeignLibraryInterface>(
  defs: T,
): Deno.DynamicLibrary<T>["symbols"] {
  const table: Record<string, unknown> = {};
  for (const name of Object.keys(defs)) {
    Object.defineProperty(table, name, {
      configurable: true,
      enumerable: true,
      get() {
        const lib = Deno.dlopen("libc.so.6", { [name]: defs[name] });
        opened.push(lib);
        Object.defineProperty(table, name, { value: lib.symbols[name], enumerable: true });
        return lib.symbols[name];
      },
    });
  }
  return table as Deno.DynamicLibrary<T>["symbols"];
}

type FsLib = Deno.DynamicLibrary<typeof FS_SYMBOLS>["symbols"];

let fsLib: FsLib | undefined;

/** The file-system symbols of libc, each bound on first use. */
export function fsSymbols(): FsLib {
  return fsLib ??= lazySymbols(FS_SYMBOLS);
}

/**
 * The calling thread's errno; read it right after the failing call. (errno is per thread, not
 * per symbol table, so every ffi module reads it here.)
 */
export function errno(): number {
  return errnoView?.getInt32() ?? 0;
}

// Found once, up front: opening libc or allocating a view between a failed call and this read
// could run libc code that overwrites errno (a failed mkdirat once reported ENOENT, not EEXIST).
// errno's address is per thread and each worker has its own copy of this module.
const errnoLocation = fsSymbols().__errno_location();
const errnoView = errnoLocation === null ? undefined : new Deno.UnsafePointerView(errnoLocation);

/** Returns `r` as a number, or throws {@linkcode ErrnoError} with errno when it is negative. */
export function check(r: number | bigint, call: string, what?: string): number {
  const n = Number(r);
  if (n < 0) throw new ErrnoError(errno(), call, what);
  return n;
}

/** Runs `f` until it does not fail with EINTR; throws {@linkcode ErrnoError} on other failures. */
export function retry(f: () => number | bigint, call: string, what?: string): number {
  for (;;) {
    const n = Number(f());
    if (n >= 0) return n;
    const e = errno();
    if (e !== Errno.EINTR) throw new ErrnoError(e, call, what);
  }
}

const encoder = new TextEncoder();

/** NUL-terminated UTF-8 in a fresh buffer; the caller keeps it alive while the call runs. */
export function cstr(s: string): Uint8Array {
  const b = new Uint8Array(s.length * 3 + 1);
  const { written } = encoder.encodeInto(s, b);
  return b.subarray(0, written + 1);
}
