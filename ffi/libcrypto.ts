/**
 * SHA-256 and SHA-512 through OpenSSL's libcrypto (`libcrypto.so.3`, else `libcrypto.so`),
 * opened with Deno.dlopen on first use. It hashes as fast as `node:crypto` (the same OpenSSL
 * assembly) but opens in ~2 ms, where importing `node:crypto` costs ~20 ms of every start; and
 * its update can run on Deno's blocking thread pool, so hashing overlaps I/O on another core.
 *
 * The low-level `SHA256_*`/`SHA512_*` API keeps the whole running state in a plain struct
 * (SHA256_CTX 112 bytes, SHA512_CTX 216), held here in an ArrayBuffer: copying the buffer copies
 * the hash. These functions are deprecated in OpenSSL 3 but exported by every build, and unlike
 * EVP they need no provider loading or allocation on the C side.
 *
 * @example
 * ```ts
 * import { openSha } from "./libcrypto.ts";
 * const sha = openSha("sha256"); // null without libcrypto or --allow-ffi
 * if (sha) {
 *   sha.update(new TextEncoder().encode("{}"));
 *   await sha.updateAsync(new Uint8Array(1 << 20)); // hashed on a pool thread
 *   console.log(sha.final().toHex());
 * }
 * ```
 * @module
 */

/** The algorithms libcrypto hashes here. */
export type ShaAlgorithm = "sha256" | "sha512";

/** A running SHA-2 hash in libcrypto. */
export interface ShaState {
  readonly algorithm: ShaAlgorithm;
  /** Adds `bytes` to the hash, on this thread. */
  update(bytes: Uint8Array): void;
  /**
   * Adds `bytes` to the hash on a thread of Deno's blocking pool (inputs under 64 KiB are
   * hashed at once: the hand-off costs ~20 µs). Until the promise resolves, do not modify or
   * transfer `bytes`, and call nothing else on this state (such calls throw).
   */
  updateAsync(bytes: Uint8Array): Promise<void>;
  /** An independent state that continues from this one's current point. */
  copy(): ShaState;
  /** The digest (32 or 64 bytes); the state cannot be used afterwards. */
  final(): Uint8Array;
}

const LIBRARIES = ["libcrypto.so.3", "libcrypto.so"];
/** Above sizeof(SHA512_CTX) = 216; a fresh ArrayBuffer is aligned for the struct's u64s. */
const CTX_BYTES = 256;
const DIGEST_BYTES: Record<ShaAlgorithm, number> = { sha256: 32, sha512: 64 };
/** Below this, a pool thread's hand-off (~20 µs) costs more than hashing on this thread. */
const ASYNC_MIN = 64 << 10;

function syncDefs(prefix: "SHA256" | "SHA512") {
  return {
    init: { name: `${prefix}_Init`, parameters: ["buffer"], result: "i32" },
    update: { name: `${prefix}_Update`, parameters: ["buffer", "buffer", "usize"], result: "i32" },
    final: { name: `${prefix}_Final`, parameters: ["buffer", "buffer"], result: "i32" },
  } as const satisfies Deno.ForeignLibraryInterface;
}

function asyncDefs(prefix: "SHA256" | "SHA512") {
  return {
    update: {
      name: `${prefix}_Update`,
      parameters: ["buffer", "buffer", "usize"],
      result: "i32",
      nonblocking: true,
    },
  } as const satisfies Deno.ForeignLibraryInterface;
}

type SyncSymbols = Deno.DynamicLibrary<ReturnType<typeof syncDefs>>["symbols"];
type AsyncSymbols = Deno.DynamicLibrary<ReturnType<typeof asyncDefs>>["symbols"];

// Deno.dlopen prepares a call stub per symbol (~0.3 ms each), so symbols are bound in small
// groups as they are first needed: most runs only ever use sha256's three synchronous ones.
const PREFIX = { sha256: "SHA256", sha512: "SHA512" } as const;
const syncSymbols = new Map<ShaAlgorithm, SyncSymbols | null>();
const asyncSymbols = new Map<ShaAlgorithm, AsyncSymbols | null>();
// Kept for the life of the process: their symbols must stay callable.
const opened: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>[] = [];
/** The library name that opened; null once none could; undefined before the first try. */
let library: string | null | undefined;

function ffiAllowed(): boolean {
  if (typeof Deno.dlopen !== "function") return false;
  // Asked first, because without --allow-ffi Deno.dlopen would prompt on a terminal.
  return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
}

/** `defs` bound in libcrypto, or null when libcrypto (or a symbol, or permission) is missing. */
function bind<T extends Deno.ForeignLibraryInterface>(
  defs: T,
): Deno.DynamicLibrary<T>["symbols"] | null {
  if (library === null) return null;
  if (library === undefined && !ffiAllowed()) {
    library = null;
    return null;
  }
  for (const name of library === undefined ? LIBRARIES : [library]) {
    try {
      const lib = Deno.dlopen(name, defs);
      opened.push(lib);
      library = name;
      return lib.symbols;
    } catch {
      // Not there, or without these symbols: try the next name.
    }
  }
  library ??= null;
  return null;
}

function sync(algorithm: ShaAlgorithm): SyncSymbols | null {
  let s = syncSymbols.get(algorithm);
  if (s === undefined) syncSymbols.set(algorithm, s = bind(syncDefs(PREFIX[algorithm])));
  return s;
}

function nonblocking(algorithm: ShaAlgorithm): AsyncSymbols | null {
  let s = asyncSymbols.get(algorithm);
  if (s === undefined) asyncSymbols.set(algorithm, s = bind(asyncDefs(PREFIX[algorithm])));
  return s;
}

/**
 * True when libcrypto can be used (it is opened, with sha256's symbols, on the first call).
 *
 * @example
 * ```ts
 * if (!libcryptoAvailable()) console.log("falling back to node:crypto");
 * ```
 */
export function libcryptoAvailable(): boolean {
  return sync("sha256") !== null;
}

/**
 * A fresh running hash of `algorithm`, or null when libcrypto cannot be opened (not installed,
 * no FFI permission) or lacks the algorithm's symbols. Never throws for those.
 *
 * @example
 * ```ts
 * const sha = openSha("sha512");
 * sha?.update(new Uint8Array([1, 2, 3]));
 * ```
 */
export function openSha(algorithm: ShaAlgorithm): ShaState | null {
  const s = sync(algorithm);
  if (s === null) return null;
  const ctx = new Uint8Array(new ArrayBuffer(CTX_BYTES));
  s.init(ctx);
  return new Sha(algorithm, s, ctx);
}

class Sha implements ShaState {
  readonly algorithm: ShaAlgorithm;
  #s: SyncSymbols;
  #ctx: Uint8Array;
  #busy = false;
  #done = false;

  constructor(algorithm: ShaAlgorithm, s: SyncSymbols, ctx: Uint8Array) {
    this.algorithm = algorithm;
    this.#s = s;
    this.#ctx = ctx;
  }

  update(bytes: Uint8Array): void {
    this.#idle();
    if (bytes.length) this.#s.update(this.#ctx, bytes, BigInt(bytes.length));
  }

  async updateAsync(bytes: Uint8Array): Promise<void> {
    this.#idle();
    const nb = bytes.length >= ASYNC_MIN ? nonblocking(this.algorithm) : null;
    if (nb === null) return this.update(bytes);
    this.#busy = true;
    try {
      await nb.update(this.#ctx, bytes, BigInt(bytes.length));
    } finally {
      this.#busy = false;
      // Deno does not hold the buffers of a nonblocking call: using them after the await keeps
      // them from the garbage collector while the pool thread reads them.
      retain(bytes, this.#ctx);
    }
  }

  copy(): ShaState {
    this.#idle();
    return new Sha(this.algorithm, this.#s, new Uint8Array(this.#ctx.buffer.slice(0)));
  }

  final(): Uint8Array {
    this.#idle();
    const out = new Uint8Array(new ArrayBuffer(64));
    this.#s.final(out, this.#ctx);
    this.#done = true;
    return out.subarray(0, DIGEST_BYTES[this.algorithm]);
  }

  #idle(): void {
    // Programming errors: the state would be read or written while a pool thread hashes.
    if (this.#busy) {
      throw new Error(`${this.algorithm} state used while an updateAsync runs; await it first`);
    }
    if (this.#done) throw new Error(`${this.algorithm} state used after final()`);
  }
}

function retain(..._values: unknown[]): void {}
