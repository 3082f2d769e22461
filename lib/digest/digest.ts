/**
 * Content digests (`<algorithm>:<encoded>`) as defined by the OCI Image Spec's descriptor.md:
 * the grammar, the registered algorithms' encodings, and small helpers to take digests apart.
 *
 * @example
 * ```ts
 * import { parseDigest } from "./digest.ts";
 * const d = parseDigest("sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b");
 * console.log(d.algorithm, d.encoded.length); // "sha256" 64
 * ```
 * @module
 */

import { InvalidDigestError, UnsupportedError } from "../errors.ts";

/** A digest string such as `sha256:<64 hex>`; check untrusted ones with `validateDigest`. */
export type Digest = string;

/** Algorithms ocibox can compute (through libcrypto, or `node:crypto`; see hash_backend.ts). */
export type HashAlgorithm = "sha256" | "sha512";

/** A digest split into its two grammar parts. */
export interface ParsedDigest {
  /** The algorithm portion, e.g. `sha256` or `multihash+base58`. */
  algorithm: string;
  /** The encoded portion, e.g. 64 lowercase hex characters for sha256. */
  encoded: string;
}

// descriptor.md EBNF: algorithm-component ::= [a-z0-9]+, algorithm-separator ::= [+._-],
// encoded ::= [a-zA-Z0-9=_-]+
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/**
 * Length of the lowercase-hex encoded part for each registered algorithm (descriptor.md
 * "Registered algorithms"). blake3 is registered but ocibox cannot compute it.
 */
export const REGISTERED_ALGORITHMS: Readonly<Record<string, number>> = Object.freeze({
  sha256: 64,
  sha512: 128,
  blake3: 64,
});

const LOWER_HEX = /^[a-f0-9]+$/;

/**
 * Parses and validates a digest: the spec grammar always, plus the exact encoding of a
 * registered algorithm. Unregistered algorithms pass when they match the grammar, as the spec
 * asks.
 *
 * @throws {InvalidDigestError} when the string is not a valid digest.
 * @example
 * ```ts
 * parseDigest("sha256:" + "a".repeat(64)); // { algorithm: "sha256", encoded: "aaaa…" }
 * isDigest("sha256:ABC"); // false: parseDigest would throw InvalidDigestError
 * ```
 */
export function parseDigest(s: string): ParsedDigest {
  if (typeof s !== "string") throw new InvalidDigestError(String(s), "not a string");
  if (!DIGEST_GRAMMAR.test(s)) {
    const reason = s.includes(":")
      ? "does not match <algorithm>:<encoded> (algorithm [a-z0-9]+ joined by [+._-], " +
        "encoded [a-zA-Z0-9=_-]+)"
      : "missing ':' between algorithm and encoded part";
    throw new InvalidDigestError(s, reason);
  }
  const colon = s.indexOf(":");
  const algorithm = s.slice(0, colon);
  const encoded = s.slice(colon + 1);
  const hexLength = REGISTERED_ALGORITHMS[algorithm];
  if (hexLength !== undefined) {
    if (!LOWER_HEX.test(encoded)) {
      throw new InvalidDigestError(s, `${algorithm} digests must be lowercase hex [a-f0-9]`);
    }
    if (encoded.length !== hexLength) {
      throw new InvalidDigestError(
        s,
        `${algorithm} digests have ${hexLength} hex characters, this one has ${encoded.length}`,
      );
    }
  }
  return { algorithm, encoded };
}

/**
 * True when `s` is a string that {@linkcode parseDigest} accepts.
 *
 * @example
 * ```ts
 * isDigest("sha256:" + "0".repeat(64)); // true
 * isDigest("sha256:0"); // false
 * ```
 */
export function isDigest(s: unknown): s is Digest {
  if (typeof s !== "string") return false;
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns `s` unchanged when it is a valid digest, so it can be used inline.
 *
 * @throws {InvalidDigestError} when it is not.
 * @example
 * ```ts
 * const d = validateDigest("sha512:" + "f".repeat(128));
 * ```
 */
export function validateDigest(s: string): Digest {
  parseDigest(s);
  return s;
}

/**
 * The encoded part of a digest (the hex for sha256/sha512), e.g. to name a blob file.
 *
 * @throws {InvalidDigestError} when `d` is not a valid digest.
 * @example
 * ```ts
 * digestHex("sha256:" + "ab".repeat(32)); // "abab…"
 * ```
 */
export function digestHex(d: Digest): string {
  return parseDigest(d).encoded;
}

/**
 * The algorithm part of a digest.
 *
 * @throws {InvalidDigestError} when `d` is not a valid digest.
 * @example
 * ```ts
 * digestAlgorithm("sha512:" + "0".repeat(128)); // "sha512"
 * ```
 */
export function digestAlgorithm(d: Digest): string {
  return parseDigest(d).algorithm;
}

/**
 * True for the algorithms ocibox can compute.
 *
 * @example
 * ```ts
 * isHashAlgorithm("sha256"); // true
 * isHashAlgorithm("blake3"); // false: registered, but not computable here
 * ```
 */
export function isHashAlgorithm(algorithm: string): algorithm is HashAlgorithm {
  return algorithm === "sha256" || algorithm === "sha512";
}

/**
 * Checks that ocibox can compute `algorithm` and narrows its type.
 *
 * @throws {UnsupportedError} for grammar-valid algorithms ocibox cannot hash (blake3, others).
 * @example
 * ```ts
 * const alg = hashAlgorithm(digestAlgorithm("sha256:" + "0".repeat(64))); // "sha256"
 * ```
 */
export function hashAlgorithm(algorithm: string): HashAlgorithm {
  if (isHashAlgorithm(algorithm)) return algorithm;
  const why = algorithm in REGISTERED_ALGORITHMS
    ? "registered by the spec but not implemented by ocibox"
    : "not a registered algorithm";
  throw new UnsupportedError(
    `cannot compute ${algorithm} digests: ${why} (supported: sha256, sha512)`,
  );
}

/**
 * Builds a digest string from its parts and validates it.
 *
 * @throws {InvalidDigestError} when the result is not a valid digest.
 * @example
 * ```ts
 * formatDigest("sha256", "0".repeat(64)); // "sha256:000…"
 * ```
 */
export function formatDigest(algorithm: string, encoded: string): Digest {
  return validateDigest(`${algorithm}:${encoded}`);
}
