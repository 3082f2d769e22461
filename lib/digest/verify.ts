/**
 * Verification of content against an expected `{digest, size}`, for whole byte arrays and for
 * streams. Size is checked before the digest (descriptor.md "Verification").
 *
 * @example
 * ```ts
 * import { verifyingStream } from "./verify.ts";
 * const expected = {
 *   digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
 *   size: 2,
 * };
 * const body = new Blob(["{}"]).stream().pipeThrough(verifyingStream(expected, "config"));
 * console.log(await new Response(body).text()); // "{}"
 * ```
 * @module
 */

import { DigestMismatchError, SizeMismatchError } from "../errors.ts";
import { type Digest, parseDigest } from "./digest.ts";
import { createDigester, digestOf } from "./digester.ts";

/** The identity of a piece of content: its digest and its length in bytes. */
export interface DigestAndSize {
  /** `<algorithm>:<encoded>`. */
  digest: Digest;
  /** Length in bytes. */
  size: number;
}

/**
 * Checks `bytes` against `expected`: size first, then digest (with the expected digest's
 * algorithm).
 *
 * @param what names the content in error messages, e.g. `blob sha256:ab…` or `manifest`.
 * @throws {SizeMismatchError} when the length differs.
 * @throws {DigestMismatchError} when the digest differs.
 * @throws {InvalidDigestError} when `expected.digest` is not a valid digest.
 * @throws {UnsupportedError} when ocibox cannot compute the expected digest's algorithm.
 * @example
 * ```ts
 * verifyBytes(new TextEncoder().encode("{}"), {
 *   digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
 *   size: 2,
 * }, "empty config");
 * ```
 */
export function verifyBytes(bytes: Uint8Array, expected: DigestAndSize, what: string): void {
  const { algorithm } = parseDigest(expected.digest);
  if (bytes.length !== expected.size) {
    throw new SizeMismatchError(what, expected.size, bytes.length);
  }
  const actual = digestOf(bytes, algorithm);
  if (actual !== expected.digest) throw new DigestMismatchError(what, expected.digest, actual);
}

/**
 * A pass-through stream that verifies what flows through it. It errors as soon as more than
 * `expected.size` bytes arrive, and checks the final size and the digest before it closes, so a
 * reader sees either verified content ending normally or an error — never an unverified end.
 *
 * @throws {InvalidDigestError} at creation when `expected.digest` is not a valid digest.
 * @throws {UnsupportedError} at creation when ocibox cannot compute its algorithm.
 * @example
 * ```ts
 * const descriptor = {
 *   digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
 *   size: 2,
 * };
 * const body = new Response("{}").body!;
 * const checked = body.pipeThrough(verifyingStream(descriptor, `blob ${descriptor.digest}`));
 * await new Response(checked).text(); // "{}", or an error if the content were different
 * ```
 */
export function verifyingStream(
  expected: DigestAndSize,
  what: string,
): TransformStream<Uint8Array, Uint8Array> {
  const { algorithm } = parseDigest(expected.digest);
  const digester = createDigester(algorithm);
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (digester.size + chunk.length > expected.size) {
        throw new SizeMismatchError(what, expected.size, digester.size + chunk.length);
      }
      digester.update(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      if (digester.size !== expected.size) {
        throw new SizeMismatchError(what, expected.size, digester.size);
      }
      const actual = digester.digest();
      if (actual !== expected.digest) {
        throw new DigestMismatchError(what, expected.digest, actual);
      }
    },
  });
}

/** A pass-through stream that measures what flows through it. */
export interface CountingDigestStream {
  /** Put this in the pipe; chunks pass through unchanged. */
  readonly stream: TransformStream<Uint8Array, Uint8Array>;
  /** Bytes seen so far (for progress reporting). */
  readonly size: number;
  /** Digest and size of everything that passed, once the stream has ended; else undefined. */
  readonly result: DigestAndSize | undefined;
}

/**
 * A pass-through stream that computes the digest and size of its content, for when they are
 * not known in advance (e.g. while compressing a new layer).
 *
 * @param algorithm `sha256` (default) or `sha512`.
 * @throws {UnsupportedError} for algorithms ocibox cannot compute.
 * @example
 * ```ts
 * const counter = countingDigestStream();
 * const source = new Blob(["layer bytes"]).stream();
 * await source.pipeThrough(counter.stream).pipeTo(new WritableStream());
 * console.log(counter.result); // { digest: "sha256:…", size: 11 }
 * ```
 */
export function countingDigestStream(algorithm: string = "sha256"): CountingDigestStream {
  const digester = createDigester(algorithm);
  let result: DigestAndSize | undefined;
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      digester.update(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      result = { digest: digester.digest(), size: digester.size };
    },
  });
  return {
    stream,
    get size(): number {
      return digester.size;
    },
    get result(): DigestAndSize | undefined {
      return result;
    },
  };
}
