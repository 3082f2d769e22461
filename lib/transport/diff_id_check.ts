/**
 * Checking a layer's diff_id (the digest of its uncompressed tar) while the layer streams past,
 * for sources whose layers are named by some other digest (a docker save's compressed layer
 * files): the copy's own check covers the digest it was given, this one the config's diff_id.
 *
 * @example
 * ```ts
 * import { diffIdChecked } from "./diff_id_check.ts";
 * const layer = new Blob([new Uint8Array(1024)]).stream();
 * const diffId = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";
 * const checked = diffIdChecked(layer, "none", diffId, "layer.tar");
 * await new Response(checked).arrayBuffer(); // errors at the end if the content is not diffId's
 * ```
 * @module
 */
import { parseDigest } from "../digest/digest.ts";
import { createDigester } from "../digest/digester.ts";
import { DigestMismatchError } from "../errors.ts";
import { type Compression, decompress } from "../archive/compression.ts";

/**
 * `raw` passed on unchanged, its content decompressed (by `compression`) and hashed on the
 * side: the stream ends normally only when that hash is `diffId`, and errors with
 * {@linkcode DigestMismatchError} instead of ending otherwise, so a consumer that commits on a
 * normal end never commits a layer with the wrong diff_id. Decompression keeps pace with the
 * stream (a chunk or two behind), so memory stays bounded whatever the layer's size.
 */
export function diffIdChecked(
  raw: ReadableStream<Uint8Array>,
  compression: Compression,
  diffId: string,
  what: string,
): ReadableStream<Uint8Array> {
  const digester = createDigester(parseDigest(diffId).algorithm);
  const reader = raw.getReader();
  const mismatch = (actual: string) =>
    new DigestMismatchError(`${what}: uncompressed content (diff_id)`, diffId, actual);
  if (compression === "none") {
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) {
          const actual = digester.digest();
          if (actual !== diffId) controller.error(mismatch(actual));
          else controller.close();
          return;
        }
        digester.update(value);
        controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark: 0 });
  }
  const feed = new Feed();
  const hashed = (async () => {
    try {
      for await (const chunk of decompress(feed, compression)) digester.update(chunk);
      return digester.digest();
    } finally {
      feed.stop();
    }
  })();
  hashed.catch(() => {}); // awaited at the end; until then only the feed needs to know
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        feed.stop();
        throw e;
      }
      if (r.done) {
        feed.end();
        const actual = await hashed;
        if (actual !== diffId) controller.error(mismatch(actual));
        else controller.close();
        return;
      }
      // A copy: the consumer may recycle the chunk it was handed while zlib still reads it.
      await feed.push(r.value.slice());
      controller.enqueue(r.value);
    },
    cancel(reason) {
      feed.stop();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Chunks handed from a push side to a pull side (the decompressor), the pusher waiting while
 * a few are queued. Stopped (the puller ended or failed, or the stream was cancelled), it takes
 * no more and releases a waiting pusher.
 */
class Feed implements AsyncIterable<Uint8Array> {
  static readonly #MAX_QUEUED = 2;
  readonly #queue: Uint8Array[] = [];
  #ended = false;
  #stopped = false;
  #wakePuller: (() => void) | undefined;
  #wakePusher: (() => void) | undefined;

  async push(chunk: Uint8Array): Promise<void> {
    if (this.#stopped) return;
    this.#queue.push(chunk);
    this.#wake();
    while (this.#queue.length >= Feed.#MAX_QUEUED && !this.#stopped) {
      await new Promise<void>((resolve) => this.#wakePusher = resolve);
    }
  }

  end(): void {
    this.#ended = true;
    this.#wake();
  }

  stop(): void {
    this.#stopped = true;
    this.#queue.length = 0;
    this.#wake();
  }

  #wake(): void {
    const puller = this.#wakePuller;
    const pusher = this.#wakePusher;
    this.#wakePuller = this.#wakePusher = undefined;
    puller?.();
    pusher?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        for (;;) {
          const chunk = this.#queue.shift();
          if (chunk !== undefined) {
            this.#wake();
            return { value: chunk, done: false };
          }
          if (this.#ended || this.#stopped) return { value: undefined, done: true };
          await new Promise<void>((resolve) => this.#wakePuller = resolve);
        }
      },
      return: () => {
        this.stop();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
