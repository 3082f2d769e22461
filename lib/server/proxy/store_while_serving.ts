/**
 * One upstream body, two readers: the store (which verifies and keeps it) and the client
 * (which gets it as it arrives). Unlike `ReadableStream.tee()`, which reads as fast as the
 * faster side and queues without bound for the slower one, the pace here is the slower side's
 * with a bounded queue for the client, so a 5 GB blob passes in bounded memory.
 *
 * - The store drives: each chunk it asks for is also queued for the client; while the client's
 *   queue is full the store waits.
 * - A client that goes away (cancels) or asks for nothing for `clientIdleMs` is dropped; the
 *   store carries on alone, so the blob is still cached.
 * - The client never gets the whole blob unless the store took it: the last chunk is held back
 *   until the store's promise resolves (digest and size verified, renamed into place). When
 *   the store rejects (wrong bytes, a short body, a full disk), the client's stream errors
 *   instead, so a client never sees a complete but wrong blob, and a pull that completed can
 *   be served from the store at once.
 *
 * @example
 * ```ts
 * import { storeWhileServing } from "./store_while_serving.ts";
 * const source = new Blob(["hello"]).stream();
 * const { client, stored } = storeWhileServing(source, async (s) => (await new Response(s).text()).length);
 * console.log(await new Response(client).text(), await stored); // "hello" 5
 * ```
 * @module
 */

import { NetworkError } from "../../errors.ts";

/** Tuning of {@linkcode storeWhileServing}. */
export interface StoreWhileServingOptions {
  /** Bytes queued for the client before the store waits for it (default 4 MiB). */
  clientBufferBytes?: number;
  /**
   * A client whose queue stays full this long (ms) is dropped with an error and the store
   * goes on without it (default 60 s): a stalled client must not hold the upstream forever.
   */
  clientIdleMs?: number;
}

/** The two sides of {@linkcode storeWhileServing}. */
export interface StoreWhileServing<T> {
  /** What to send the client; ends only after `stored` resolved, errors if it rejected. */
  readonly client: ReadableStream<Uint8Array>;
  /** The store's result. */
  readonly stored: Promise<T>;
}

const DEFAULT_CLIENT_BUFFER = 4 << 20;
const DEFAULT_CLIENT_IDLE_MS = 60_000;
const READ_AHEAD_CHUNKS = 4;

/**
 * Feeds `source` to `store` and, at the same time, to the returned client stream (see the
 * module's notes for pacing, dropped clients and the held-back last chunk).
 *
 * The store sees its own view object of each chunk, so a store that hands chunks back to the
 * slab pool (releaseChunk) cannot recycle bytes the client has not been sent yet.
 */
export function storeWhileServing<T>(
  source: ReadableStream<Uint8Array>,
  store: (stream: ReadableStream<Uint8Array>) => Promise<T>,
  options: StoreWhileServingOptions = {},
): StoreWhileServing<T> {
  const bufferBytes = options.clientBufferBytes ?? DEFAULT_CLIENT_BUFFER;
  const idleMs = options.clientIdleMs ?? DEFAULT_CLIENT_IDLE_MS;
  let clientController!: ReadableStreamDefaultController<Uint8Array>;
  /** The client is gone (cancelled, dropped, or already ended). */
  let detached = false;
  let wake: (() => void) | undefined;
  let held: Uint8Array | undefined;

  const wakeUp = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const client = new ReadableStream<Uint8Array>({
    start(controller) {
      clientController = controller;
    },
    pull() {
      wakeUp();
    },
    cancel() {
      detached = true;
      held = undefined;
      wakeUp();
    },
  }, { highWaterMark: bufferBytes, size: (chunk) => chunk.byteLength });

  const dropClient = (reason: unknown) => {
    if (detached) return;
    detached = true;
    held = undefined;
    try {
      clientController.error(reason);
    } catch { /* already closed */ }
    wakeUp();
  };

  /** Waits until the client wants more (or is gone); drops it after `idleMs`. */
  const clientReady = async (): Promise<void> => {
    while (!detached && (clientController.desiredSize ?? 0) <= 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(() => {
          dropClient(
            new NetworkError(
              "timeout",
              "client",
              `the client read nothing for ${idleMs / 1000} s; the blob is stored without it`,
            ),
          );
          resolve();
        }, idleMs);
      });
      clearTimeout(timer);
    }
  };

  const reader = source.getReader();
  const forStore = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      const previous = held;
      held = detached ? undefined : value;
      if (previous && !detached) {
        try {
          clientController.enqueue(previous);
        } catch {
          detached = true;
        }
        await clientReady();
      }
      controller.enqueue(value.subarray(0));
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
    // A few chunks read ahead, so the upstream's next bytes arrive while the store writes.
  }, { highWaterMark: READ_AHEAD_CHUNKS });

  const stored = store(forStore);
  stored.then(
    () => {
      if (detached) return;
      detached = true;
      try {
        if (held) clientController.enqueue(held);
        clientController.close();
      } catch { /* the client went away meanwhile */ }
      held = undefined;
    },
    (e) => {
      dropClient(e);
      // A store that gave up without cancelling its input must not leave the upstream open.
      reader.cancel(e).catch(() => {});
    },
  );
  return { client, stored };
}
