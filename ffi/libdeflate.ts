/**
 * Whole-buffer gzip compression through libdeflate (`libdeflate.so.0`, Debian's `libdeflate0`,
 * which libtiff pulls onto most systems), opened with Deno.dlopen on first use.
 *
 * Why libdeflate: it compresses a buffer in one call, which is what block-parallel gzip needs,
 * and measured here on a 200 MB tar of /usr/lib (1 MiB blocks, one core) level 2 gives 73.5 MB
 * at ~125 MB/s where node:zlib's level 6 gives 73.6 MB at ~67 MB/s. The call is bound twice:
 * synchronously, and `nonblocking` (run on Deno's blocking thread pool, so several blocks
 * compress on several cores while the event loop reads, hashes and writes).
 *
 * A compressor holds libdeflate's state for one level and must not run two calls at once.
 *
 * @example
 * ```ts
 * import { openGzipCompressor } from "./libdeflate.ts";
 * const c = openGzipCompressor(2); // null without libdeflate or --allow-ffi
 * if (c) {
 *   const input = new TextEncoder().encode("hello hello hello");
 *   const out = new Uint8Array(c.bound(input.length));
 *   const n = await c.compress(input, out);
 *   console.log(out.subarray(0, n)); // one gzip member
 *   c.free();
 * }
 * ```
 * @module
 */

const LIBRARIES = ["libdeflate.so.0", "libdeflate.so"];

const DEFS = {
  alloc: { name: "libdeflate_alloc_compressor", parameters: ["i32"], result: "pointer" },
  free: { name: "libdeflate_free_compressor", parameters: ["pointer"], result: "void" },
  bound: {
    name: "libdeflate_gzip_compress_bound",
    parameters: ["pointer", "usize"],
    result: "usize",
  },
  gzip: {
    name: "libdeflate_gzip_compress",
    parameters: ["pointer", "buffer", "usize", "buffer", "usize"],
    result: "usize",
  },
  gzipAsync: {
    name: "libdeflate_gzip_compress",
    parameters: ["pointer", "buffer", "usize", "buffer", "usize"],
    result: "usize",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof DEFS>["symbols"];

/** The bound symbols; null once opening failed; undefined before the first try. */
let symbols: Symbols | null | undefined;

function ffiAllowed(): boolean {
  if (typeof Deno.dlopen !== "function") return false;
  // Asked first, because without --allow-ffi Deno.dlopen would prompt on a terminal.
  return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
}

function open(): Symbols | null {
  if (symbols !== undefined) return symbols;
  symbols = null;
  if (!ffiAllowed()) return null;
  for (const name of LIBRARIES) {
    try {
      // Kept open for the life of the process: compressors may be in use until exit.
      symbols = Deno.dlopen(name, DEFS).symbols;
      break;
    } catch {
      // Not there, or without these symbols: try the next name.
    }
  }
  return symbols;
}

/** libdeflate's compression levels. */
export const LIBDEFLATE_MIN_LEVEL = 0;
/** libdeflate's highest level (slow; zlib stops at 9). */
export const LIBDEFLATE_MAX_LEVEL = 12;

/** One libdeflate compressor (one level), producing whole gzip members. */
export interface GzipCompressor {
  readonly level: number;
  /** The most bytes {@linkcode compress} can write for `inputSize` bytes. */
  bound(inputSize: number): number;
  /**
   * Compresses `input` into `output` as one gzip member on a pool thread; resolves to the
   * number of bytes written. Neither buffer may be touched until it settles.
   * @throws {RangeError} when `output` is smaller than {@linkcode bound}.
   */
  compress(input: Uint8Array, output: Uint8Array): Promise<number>;
  /** {@linkcode compress} on the calling thread. */
  compressSync(input: Uint8Array, output: Uint8Array): number;
  /** Releases libdeflate's state; the compressor cannot be used afterwards. */
  free(): void;
}

/**
 * True when libdeflate can be used (it is opened on the first call).
 *
 * @example
 * ```ts
 * if (!libdeflateAvailable()) console.log("falling back to node:zlib");
 * ```
 */
export function libdeflateAvailable(): boolean {
  return open() !== null;
}

/**
 * A compressor at `level` (0-12), or null when libdeflate cannot be opened (not installed, no
 * FFI permission). Never throws for those.
 *
 * @throws {RangeError} for a level libdeflate does not have.
 * @example
 * ```ts
 * const c = openGzipCompressor(6);
 * c?.free();
 * ```
 */
export function openGzipCompressor(level: number): GzipCompressor | null {
  if (!Number.isInteger(level) || level < LIBDEFLATE_MIN_LEVEL || level > LIBDEFLATE_MAX_LEVEL) {
    throw new RangeError(`libdeflate has no compression level ${level}`);
  }
  const s = open();
  if (s === null) return null;
  const handle = s.alloc(level);
  if (handle === null) throw new Error("libdeflate_alloc_compressor failed (out of memory)");
  return new Compressor(s, handle, level);
}

class Compressor implements GzipCompressor {
  #s: Symbols;
  #handle: Deno.PointerValue;
  readonly level: number;

  constructor(s: Symbols, handle: Deno.PointerObject, level: number) {
    this.#s = s;
    this.#handle = handle;
    this.level = level;
  }

  bound(inputSize: number): number {
    return Number(this.#s.bound(this.#live(), BigInt(inputSize)));
  }

  async compress(input: Uint8Array, output: Uint8Array): Promise<number> {
    const handle = this.#check(input, output);
    const n = Number(
      await this.#s.gzipAsync(handle, input, BigInt(input.length), output, BigInt(output.length)),
    );
    return this.#result(n);
  }

  compressSync(input: Uint8Array, output: Uint8Array): number {
    const handle = this.#check(input, output);
    return this.#result(
      Number(this.#s.gzip(handle, input, BigInt(input.length), output, BigInt(output.length))),
    );
  }

  free(): void {
    if (this.#handle !== null) this.#s.free(this.#handle);
    this.#handle = null;
  }

  #live(): Deno.PointerObject {
    if (this.#handle === null) throw new Error("libdeflate compressor used after free()");
    return this.#handle;
  }

  #check(input: Uint8Array, output: Uint8Array): Deno.PointerObject {
    const handle = this.#live();
    // libdeflate returns 0 when the output is too small; asking for the bound makes that a
    // programming error instead of a silently empty block.
    if (output.length < this.bound(input.length)) {
      throw new RangeError(
        `output of ${output.length} bytes is below libdeflate's bound for ${input.length}`,
      );
    }
    return handle;
  }

  #result(n: number): number {
    if (n === 0) throw new Error("libdeflate_gzip_compress wrote nothing");
    return n;
  }
}
