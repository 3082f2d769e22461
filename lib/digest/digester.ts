/**
 * Incremental hashing of byte chunks into OCI digests, through OpenSSL's libcrypto (or
 * `node:crypto` where libcrypto cannot be opened; see hash_backend.ts, which also documents
 * `OCIBOX_HASH_BACKEND`). WebCrypto cannot hash incrementally.
 *
 * `updateAsync` hashes on Deno's blocking thread pool, freeing this thread for other work. It
 * gains nothing where this thread would only wait: each call costs 20-60 µs of hand-off, and on
 * 2 cores a pool hash beside a pool write (Deno's async file write) measured slower than
 * hashing here while the write runs.
 *
 * @example
 * ```ts
 * import { createDigester } from "./digester.ts";
 * const d = createDigester();
 * d.update(new TextEncoder().encode("{}"));
 * await d.updateAsync(new Uint8Array(1 << 20)); // on a pool thread
 * console.log(d.digest(), d.size); // "sha256:…" 1048578
 * ```
 * @module
 */

import { type Digest, hashAlgorithm } from "./digest.ts";
import { backend, type HashBackend } from "./hash_backend.ts";

/** Hashes chunks as they arrive and counts their bytes. */
export interface Digester {
  /** The algorithm this digester computes, e.g. `sha256`. */
  readonly algorithm: string;
  /**
   * Adds bytes to the hash.
   * @throws {Error} while an `updateAsync` is pending (a programming error: await it first).
   */
  update(bytes: Uint8Array): void;
  /**
   * Adds bytes to the hash on a pool thread. Do not modify or transfer `bytes` until the
   * promise resolves. Calls queue behind each other in order; `update` and `digest` throw until
   * the last one has resolved.
   */
  updateAsync(bytes: Uint8Array): Promise<void>;
  /**
   * The digest of everything given so far, as `<algorithm>:<hex>`. Calling it does not end the
   * digester: more `update` calls may follow.
   * @throws {Error} while an `updateAsync` is pending.
   */
  digest(): Digest;
  /** Number of bytes given so far (including those of pending `updateAsync` calls). */
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
  // The last queued updateAsync, until it settles; a failed one leaves the state unusable.
  let queue: Promise<void> | undefined;
  let failed: unknown;
  const idle = (call: string) => {
    if (failed !== undefined) throw new Error(`${alg} digester: an updateAsync failed`);
    if (queue) {
      throw new Error(`${alg} digester: ${call} while an updateAsync is pending; await it first`);
    }
  };
  return {
    algorithm: alg,
    update(bytes: Uint8Array): void {
      idle("update");
      if (bytes.length === 0) return;
      state.update(bytes);
      size += bytes.length;
      cached = undefined;
    },
    updateAsync(bytes: Uint8Array): Promise<void> {
      if (failed !== undefined) return Promise.reject(failed);
      if (bytes.length === 0) return queue ?? Promise.resolve();
      size += bytes.length;
      cached = undefined;
      const run = () => state.updateAsync(bytes);
      const tail: Promise<void> = (queue ? queue.then(run) : run()).then(
        () => {
          if (queue === tail) queue = undefined;
        },
        (e) => {
          failed ??= e;
          if (queue === tail) queue = undefined;
          throw e;
        },
      );
      queue = tail;
      return tail;
    },
    digest(): Digest {
      idle("digest");
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
  const state = backend.open(alg);
  state.update(bytes);
  return `${alg}:${state.final().toHex()}`;
}
