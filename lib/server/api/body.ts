/**
 * Request bodies as the server takes them: streamed through with an idle timeout (a client
 * that stops sending is dropped, not waited on for ever), held to a declared length (a chunk's
 * `Content-Range`), or read whole up to a limit (manifests).
 *
 * @example
 * ```ts
 * import { guardedBody, readCapped } from "./body.ts";
 * const body = guardedBody(new Blob(["abc"]).stream(), { idleMs: 1000, length: 3 });
 * await readCapped(body, 10); // Uint8Array [97, 98, 99]
 * ```
 * @module
 */

import { OciboxError, SizeMismatchError } from "../../errors.ts";

/** A request body sent nothing for longer than the idle timeout, or came too slowly. */
export class BodyTimeoutError extends OciboxError {
  constructor(readonly idleMs: number, message?: string) {
    super("BODY_TIMEOUT", message ?? `request body: nothing received for ${idleMs} ms`);
  }
}

/** A request body is longer than the server takes (a manifest over the size limit). */
export class BodyTooLargeError extends OciboxError {
  constructor(readonly what: string, readonly limit: number) {
    super("BODY_TOO_LARGE", `${what} is larger than ${limit} bytes`);
  }
}

/** Options of {@linkcode guardedBody}. */
export interface GuardOptions {
  /** Fail with BodyTimeoutError when no bytes come for this long (ms); 0 = never. */
  idleMs: number;
  /** The exact length the body must have (SizeMismatchError otherwise). */
  length?: number;
  /**
   * Fail with BodyTimeoutError when, over any `idleMs` of waiting for the client, fewer than
   * this many bytes per second came (a body trickling in to hold the request open). Only the
   * time spent waiting for the client counts, not the consumer's. 0 or absent = no minimum.
   */
  minBytesPerSecond?: number;
  /** Fails the stream when it fires (the client went away, the server stops). */
  signal?: AbortSignal;
  /** What the body is, for messages. */
  what?: string;
}

/**
 * `body`, passed through chunk by chunk, failing on an idle gap, a length other than
 * `length`, or `signal`.
 *
 * @example
 * ```ts
 * const s = guardedBody(new Blob(["abcd"]).stream(), { idleMs: 0, length: 3 });
 * // reading s fails with SizeMismatchError (4 bytes, not 3)
 * ```
 */
export function guardedBody(
  body: ReadableStream<Uint8Array>,
  options: GuardOptions,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const what = options.what ?? "request body";
  let seen = 0;
  const minRate = options.minBytesPerSecond ?? 0;
  // The current rate window: time spent waiting for the client, and the bytes it brought.
  let windowWaitMs = 0;
  let windowBytes = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const clear = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (onAbort) options.signal?.removeEventListener("abort", onAbort);
    onAbort = undefined;
  };
  return new ReadableStream<Uint8Array>({
    pull: (controller) =>
      new Promise<void>((resolve, reject) => {
        let settled = false;
        const fail = (e: unknown) => {
          if (settled) return;
          settled = true;
          clear();
          reader.cancel(e).catch(() => {});
          reject(e);
        };
        if (options.signal?.aborted) return fail(options.signal.reason);
        if (options.idleMs > 0) {
          timer = setTimeout(() => fail(new BodyTimeoutError(options.idleMs)), options.idleMs);
        }
        if (options.signal) {
          onAbort = () => fail(options.signal!.reason);
          options.signal.addEventListener("abort", onAbort, { once: true });
        }
        const asked = performance.now();
        reader.read().then(({ done, value }) => {
          if (settled) return;
          settled = true;
          clear();
          if (minRate > 0 && options.idleMs > 0 && !done) {
            windowWaitMs += performance.now() - asked;
            windowBytes += value.length;
            if (windowWaitMs >= options.idleMs) {
              const rate = windowBytes / (windowWaitMs / 1000);
              if (rate < minRate) {
                reader.cancel().catch(() => {});
                reject(
                  new BodyTimeoutError(
                    options.idleMs,
                    `${what}: ${Math.round(rate)} bytes/s over ${
                      Math.round(windowWaitMs)
                    } ms, under the minimum of ${minRate}`,
                  ),
                );
                return;
              }
              windowWaitMs = 0;
              windowBytes = 0;
            }
          }
          if (done) {
            if (options.length !== undefined && seen !== options.length) {
              reject(new SizeMismatchError(what, options.length, seen));
              return;
            }
            controller.close();
            return resolve();
          }
          seen += value.length;
          if (options.length !== undefined && seen > options.length) {
            reader.cancel().catch(() => {});
            reject(new SizeMismatchError(what, options.length, seen));
            return;
          }
          controller.enqueue(value);
          resolve();
        }, fail);
      }),
    cancel: (reason) => {
      clear();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * The whole of `body`, refused with BodyTooLargeError past `limit` bytes (without reading
 * further).
 *
 * @example
 * ```ts
 * await readCapped(new Blob(["{}"]).stream(), 4 << 20); // Uint8Array [123, 125]
 * ```
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
  what = "manifest",
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLargeError(what, limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * A request's Content-Length, or undefined when absent; NaN when malformed.
 *
 * @example
 * ```ts
 * contentLength(new Headers({ "content-length": "12" })); // 12
 * ```
 */
export function contentLength(headers: Headers): number | undefined {
  const v = headers.get("content-length");
  if (v === null) return undefined;
  return /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
}
