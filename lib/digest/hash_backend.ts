/**
 * The native hashing under digester.ts: OpenSSL's libcrypto through FFI (ffi/libcrypto.ts) when
 * it can be opened, else `node:crypto`. Importing `node:crypto` costs ~20 ms of start-up (most of
 * it Deno's Node compatibility layer), so it is loaded only when libcrypto is missing or FFI
 * is not permitted.
 *
 * The choice is made on the first hash, not when this module loads: opening libcrypto costs
 * 8-50 ms (a large library's relocations), and commands that import the digest code without
 * hashing much (`run IMAGE` of a stored image hashes a manifest and a config of a few KB) pay
 * it only when they hash. The fallback is then taken synchronously
 * (`process.getBuiltinModule`).
 *
 * `OCIBOX_HASH_BACKEND` chooses by hand, for tests and debugging: `node` forces `node:crypto`,
 * `libcrypto` requires libcrypto (the first hash fails without it); unset or empty picks.
 *
 * @example
 * ```ts
 * import { backend } from "./hash_backend.ts";
 * const h = backend.open("sha256");
 * h.update(new TextEncoder().encode("{}"));
 * console.log(backend.name, h.final().toHex()); // "libcrypto" "44136fa3…"
 * ```
 * @module
 */

import type { Hash } from "node:crypto";
import { libcryptoAvailable, openSha } from "../../ffi/libcrypto.ts";
import { UnsupportedError, UsageError } from "../errors.ts";
import type { HashAlgorithm } from "./digest.ts";

/** A running hash. */
export interface HashState {
  update(bytes: Uint8Array): void;
  /** An independent state continuing from this one's current point. */
  copy(): HashState;
  /** The raw digest; the state is finished. */
  final(): Uint8Array;
}

/** Where hashes are computed. */
export interface HashBackend {
  readonly name: "libcrypto" | "node";
  /** A fresh running hash. */
  open(algorithm: HashAlgorithm): HashState;
}

const ENV = "OCIBOX_HASH_BACKEND";

/**
 * The libcrypto backend, or null when libcrypto cannot be opened.
 *
 * @example
 * ```ts
 * const fast = libcryptoBackend(); // null without libcrypto or --allow-ffi
 * ```
 */
export function libcryptoBackend(): HashBackend | null {
  if (!libcryptoAvailable()) return null;
  return {
    name: "libcrypto",
    open(algorithm) {
      const state = openSha(algorithm);
      if (state === null) {
        throw new UnsupportedError(
          `the system's libcrypto cannot compute ${algorithm} (set ${ENV}=node to use node:crypto)`,
        );
      }
      return state;
    },
  };
}

/**
 * The `node:crypto` backend (imported on this call).
 *
 * @example
 * ```ts
 * const node = await nodeBackend();
 * node.open("sha512").final().length; // 64
 * ```
 */
export async function nodeBackend(): Promise<HashBackend> {
  return nodeBackendFrom((await import("node:crypto")).createHash);
}

function nodeBackendFrom(createHash: (algorithm: string) => Hash): HashBackend {
  const wrap = (h: Hash): HashState => ({
    update(bytes) {
      h.update(bytes);
    },
    copy: () => wrap(h.copy()),
    final: () => h.digest(),
  });
  return { name: "node", open: (algorithm) => wrap(createHash(algorithm)) };
}

function chosen(): string {
  // Asked first: reading an unpermitted variable would prompt on a terminal.
  const allowed = Deno.permissions.querySync({ name: "env", variable: ENV }).state === "granted";
  return (allowed ? Deno.env.get(ENV) : undefined) ?? "";
}

/** `node:crypto`'s backend without an `await`: Node's synchronous built-in module lookup. */
function nodeBackendSync(): HashBackend {
  const process = (globalThis as {
    process?: { getBuiltinModule?(id: string): unknown };
  }).process;
  const mod = process?.getBuiltinModule?.("node:crypto") as
    | typeof import("node:crypto")
    | undefined;
  if (!mod) throw new UnsupportedError("neither libcrypto nor node:crypto is available");
  return nodeBackendFrom(mod.createHash);
}

function pick(): HashBackend {
  const choice = chosen();
  if (choice === "node") return nodeBackendSync();
  if (choice !== "" && choice !== "libcrypto") {
    throw new UsageError(`${ENV}=${choice}: expected node or libcrypto`);
  }
  const fast = libcryptoBackend();
  if (fast) return fast;
  if (choice === "libcrypto") {
    throw new UnsupportedError(
      `${ENV}=libcrypto, but libcrypto.so.3 cannot be opened (not installed, or no --allow-ffi)`,
    );
  }
  return nodeBackendSync();
}

let picked: HashBackend | undefined;

/** Whether the backend has been chosen (and libcrypto, where it is used, opened). */
export function backendReady(): boolean {
  return picked !== undefined;
}

/** The backend this process uses, chosen on first use (its name included). */
export const backend: HashBackend = {
  get name() {
    return (picked ??= pick()).name;
  },
  open(algorithm) {
    return (picked ??= pick()).open(algorithm);
  },
};
