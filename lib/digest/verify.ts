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
import { createDigester, type Digester, digestOf } from "./digester.ts";

/** The identity of a piece of content: its digest and its length in bytes. */
export interface DigestAndSize {
  /** `<algorithm>:<encoded>`. */
  digest: Digest;
  /** Length in bytes. */
  size: number;
}

/**
 * The one streaming check of content against what it should be: feed it the chunks as they
 * flow, and it fails as soon as more bytes came than `expected.size`, and at the end when the
 * size or the digest differ. The store, uploads, layer application and {@linkcode
 * verifyingStream} all use it. Parts of `expected` that are not given are only measured: the
 * result tells what the content is (the digest in `expected.digest`'s algorithm, else
 * `algorithm`, default sha256).
 *
 * @example
 * ```ts
 * import { ContentCheck } from "./verify.ts";
 * const check = new ContentCheck({ size: 2 }, "config");
 * check.update(new TextEncoder().encode("{}"));
 * check.finish(); // { digest: "sha256:4413…", size: 2 }
 * ```
 */
export class ContentCheck {
  readonly #digester: Digester;
  readonly #expected: Partial<DigestAndSize>;
  readonly #what: string;

  /**
   * @throws {InvalidDigestError} when `expected.digest` is not a valid digest.
   * @throws {UnsupportedError} when ocibox cannot compute its algorithm.
   */
  constructor(expected: Partial<DigestAndSize>, what: string, algorithm = "sha256") {
    this.#expected = expected;
    this.#what = what;
    this.#digester = createDigester(
      expected.digest ? parseDigest(expected.digest).algorithm : algorithm,
    );
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#digester.size;
  }

  /**
   * Takes the next piece.
   *
   * @throws {SizeMismatchError} when the content grows past the expected size.
   */
  update(chunk: Uint8Array): void {
    const expected = this.#expected.size;
    if (expected !== undefined && this.#digester.size + chunk.length > expected) {
      throw new SizeMismatchError(this.#what, expected, this.#digester.size + chunk.length);
    }
    this.#digester.update(chunk);
  }

  /**
   * The content's digest and size once all of it was fed.
   *
   * @throws {SizeMismatchError} when it is shorter than expected.
   * @throws {DigestMismatchError} when the digest differs.
   */
  finish(): DigestAndSize {
    const { size, digest } = this.#expected;
    if (size !== undefined && this.#digester.size !== size) {
      throw new SizeMismatchError(this.#what, size, this.#digester.size);
    }
    const actual = this.#digester.digest();
    if (digest !== undefined && actual !== digest) {
      throw new DigestMismatchError(this.#what, digest, actual);
    }
    return { digest: actual, size: this.#digester.size };
  }
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
  const check = new ContentCheck(expected, what);
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      check.update(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      check.finish();
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
