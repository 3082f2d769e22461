/**
 * SHA-256 and SHA-512 through OpenSSL's libcrypto (`libcrypto.so.3`, else `libcrypto.so`),
 * opened with Deno.dlopen on first use. It hashes as fast as `node:crypto` (the same OpenSSL
 * assembly) but opens in ~2 ms, where importing `node:crypto` costs ~20 ms of every start.
 * (Hashing on Deno's blocking pool through a `nonblocking` symbol was tried and measured no
 * faster on 2 cores, where the other core is busy with the peer and the network.)
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
  /** Adds `bytes` to the hash. */
  update(bytes: Uint8Array): void;
  /** An independent state that continues from this one's current point. */
  copy(): ShaState;
  /** The digest (32 or 64 bytes); the state cannot be used afterwards. */
  final(): Uint8Array;
}

const LIBRARIES = ["libcrypto.so.3", "libcrypto.so"];
/** Above sizeof(SHA512_CTX) = 216; a fresh ArrayBuffer is aligned for the struct's u64s. */
const CTX_BYTES = 256;
const DIGEST_BYTES: Record<ShaAlgorithm, number> = { sha256: 32, sha512: 64 };

function syncDefs(prefix: "SHA256" | "SHA512") {
  return {
    init: { name: `${prefix}_Init`, parameters: ["buffer"], result: "i32" },
    update: { name: `${prefix}_Update`, parameters: ["buffer", "buffer", "usize"], result: "i32" },
    final: { name: `${prefix}_Final`, parameters: ["buffer", "buffer"], result: "i32" },
  } as const satisfies Deno.ForeignLibraryInterface;
}

type SyncSymbols = Deno.DynamicLibrary<ReturnType<typeof syncDefs>>["symbols"];

// Deno.dlopen prepares a call stub per symbol (~0.3 ms each), so symbols are bound in small
// groups as they are first needed: most runs only ever use sha256's three.
const PREFIX = { sha256: "SHA256", sha512: "SHA512" } as const;
const syncSymbols = new Map<ShaAlgorithm, SyncSymbols | null>();
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
    // A programming error: libcrypto's final() leaves the struct unusable.
    if (this.#done) throw new Error(`${this.algorithm} state used after final()`);
  }
}
