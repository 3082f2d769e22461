/**
 * Incremental hashing of byte chunks into OCI digests, through OpenSSL's libcrypto (or
 * `node:crypto` where libcrypto cannot be opened; see hash_backend.ts, which also documents
 * `OCIBOX_HASH_BACKEND`). WebCrypto cannot hash incrementally.
 *
 * @example
 * ```ts
 * import { createDigester } from "./digester.ts";
 * const d = createDigester();
 * d.update(new TextEncoder().encode("{}"));
 * console.log(d.digest(), d.size); // "sha256:44136fa3…" 2
 * ```
 * @module
 */

import { type Digest, hashAlgorithm } from "./digest.ts";
import { backend, backendReady, type HashBackend } from "./hash_backend.ts";
import { sha256Small } from "./sha256_small.ts";

/**
 * One-shot sha256 inputs up to this size are hashed in TypeScript while the native backend is
 * not open yet: a command that only verifies a manifest and a config (`run IMAGE` of a stored
 * image) then never pays for opening libcrypto.
 */
const SMALL_ONE_SHOT = 64 * 1024;

/** Hashes chunks as they arrive and counts their bytes. */
export interface Digester {
  /** The algorithm this digester computes, e.g. `sha256`. */
  readonly algorithm: string;
  /** Adds bytes to the hash. */
  update(bytes: Uint8Array): void;
  /**
   * The digest of everything given so far, as `<algorithm>:<hex>`. Calling it does not end the
   * digester: more `update` calls may follow.
   */
  digest(): Digest;
  /** Number of bytes given so far. */
  readonly size: number;
}

/**
 * Creates a {@linkcode Digester}.
 *
 * @param algorithm `sha256` (default) or `sha512`.
 * @throws {UnsupportedError} for algorithms ocibox cannot compute (e.g. blake3).
 * @example
 * ```ts
 * const d = createDigester("sha512");
 * d.update(new Uint8Array([1, 2, 3]));
 * d.digest(); // "sha512:…"
 * ```
 */
export function createDigester(algorithm: string = "sha256"): Digester {
  return createDigesterOn(backend, algorithm);
}

/**
 * A {@linkcode Digester} on a given backend (tests compare the backends through it).
 *
 * @throws {UnsupportedError} for algorithms ocibox cannot compute.
 * @example
 * ```ts
 * import { nodeBackend } from "./hash_backend.ts";
 * const d = createDigesterOn(await nodeBackend(), "sha256");
 * ```
 */
export function createDigesterOn(on: HashBackend, algorithm: string = "sha256"): Digester {
  const alg = hashAlgorithm(algorithm);
  const state = on.open(alg);
  let size = 0;
  let cached: Digest | undefined;
  return {
    algorithm: alg,
    update(bytes: Uint8Array): void {
      if (bytes.length === 0) return;
      state.update(bytes);
      size += bytes.length;
      cached = undefined;
    },
    digest(): Digest {
      // A copy keeps the running hash usable, so a digest can be taken mid-stream.
      cached ??= `${alg}:${state.copy().final().toHex()}`;
      return cached;
    },
    get size(): number {
      return size;
    },
  };
}

/**
 * The digest of a whole byte array.
 *
 * @throws {UnsupportedError} for algorithms ocibox cannot compute.
 * @example
 * ```ts
 * digestOf(new TextEncoder().encode("{}"));
 * // "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
 * ```
 */
export function digestOf(bytes: Uint8Array, algorithm: string = "sha256"): Digest {
  const alg = hashAlgorithm(algorithm);
  if (alg === "sha256" && bytes.length <= SMALL_ONE_SHOT && !backendReady()) {
    return `${alg}:${sha256Small(bytes).toHex()}`;
  }
  const state = backend.open(alg);
  state.update(bytes);
  return `${alg}:${state.final().toHex()}`;
}
