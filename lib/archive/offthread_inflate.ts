/**
 * Layer decompression on a second core, as `tar -xzf` runs gzip in a second process: a worker
 * hashes the raw blob, inflates it and hashes the tar (diff_id); the calling thread parses it
 * and makes files, which is the longer job of the two (a node_modules-like layer is mostly
 * system calls), so the worker takes both hashes. Output crosses in 4 MiB batches and at most a few batches and raw chunks
 * are in flight, so memory stays bounded whatever the layer's size.
 * @module
 */
import { OciboxError } from "../errors.ts";
import type { Compression } from "./compression.ts";
import { spawnInflateWorker, takePrestarted } from "./inflate_spawn.ts";

/** Messages to the worker. */
export type InflateRequest =
  | { t: "start"; compression: "gzip" | "zstd"; blobAlg: string; diffAlg: string }
  | { t: "raw"; buf: Uint8Array }
  | { t: "end" }
  | { t: "outAck"; buf?: Uint8Array }
  | { t: "discard" }
  | { t: "ping" };

/** Messages from the worker. */
export type InflateReply =
  | { t: "out"; buf: Uint8Array }
  | { t: "rawAck" }
  | { t: "ready" }
  | { t: "done"; blobDigest: string; blobSize: number; diffId?: string }
  | { t: "error"; message: string; blobDigest: string; blobSize: number }
  | { t: "crashed"; message: string };

/** What hashing the whole blob found. */
export interface InflateVerdict {
  blobDigest: string;
  blobSize: number;
  /** Digest of the decompressed bytes; undefined when output was stopped or failed. */
  diffId?: string;
  /** The decompressor's error message, if it failed. */
  error?: string;
}

/** One layer's parameters. */
export interface InflateOptions {
  compression: "gzip" | "zstd";
  blobAlg: string;
  diffAlg: string;
  /** Reading more raw bytes than this fails at once (with `tooLarge`'s error). */
  maxSize: number;
  tooLarge: (size: number) => Error;
  signal?: AbortSignal;
}

const RAW_WINDOW = 4;

/** A worker that inflates one layer at a time; reuse it for all layers of an image. */
export class InflateWorker {
  #worker: Worker;
  #onReply: ((m: InflateReply) => void) | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = (e: MessageEvent<InflateReply>) => this.#onReply?.(e.data);
    worker.onerror = (e: ErrorEvent) => {
      // A worker that fails to load or dies must fail the layer, never leave it waiting.
      e.preventDefault();
      this.#onReply?.({ t: "crashed", message: e.message });
    };
  }

  /**
   * Starts a worker and waits until it runs, or returns undefined where it cannot (e.g. in a
   * bundle without the worker's module); callers then inflate on their own thread.
   */
  static async start(timeoutMs = 5000): Promise<InflateWorker | undefined> {
    const worker = takePrestarted() ?? spawnInflateWorker();
    if (worker === undefined) return undefined;
    const w = new InflateWorker(worker);
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      w.listen((m) => {
        clearTimeout(timer);
        resolve(m.t === "ready");
      });
      w.send({ t: "ping" });
    });
    w.listen(undefined);
    if (!ready) {
      w.terminate();
      return undefined;
    }
    return w;
  }

  /** Stops the worker. */
  terminate(): void {
    this.#worker.terminate();
  }

  /** Starts inflating `raw` (the whole blob, from its first chunk). */
  inflate(raw: AsyncIterator<Uint8Array>, options: InflateOptions): InflateJob {
    return new InflateJob(this, raw, options);
  }

  /** @internal */
  send(m: InflateRequest, transfer: Transferable[] = []): void {
    this.#worker.postMessage(m, transfer);
  }

  /** @internal */
  listen(fn: ((m: InflateReply) => void) | undefined): void {
    this.#onReply = fn;
  }
}

/** One layer going through an {@linkcode InflateWorker}. */
export class InflateJob {
  #w: InflateWorker;
  #queue: Uint8Array[] = [];
  #wake: (() => void) | undefined;
  #rawInFlight = 0;
  #rawWake: (() => void) | undefined;
  #verdict: InflateVerdict | undefined;
  #pumpError: unknown;
  #pump: Promise<void>;
  #stopped = false;
  // The batch handed out last; it goes back to the worker for reuse on the next call.
  #lent: Uint8Array | undefined;
  // Every batch was handed out: the worker's diff_id covers output the caller all saw.
  #drained = false;

  constructor(w: InflateWorker, raw: AsyncIterator<Uint8Array>, options: InflateOptions) {
    this.#w = w;
    w.listen((m) => this.#reply(m));
    w.send({
      t: "start",
      compression: options.compression,
      blobAlg: options.blobAlg,
      diffAlg: options.diffAlg,
    });
    this.#pump = this.#pumpRaw(raw, options).catch((e) => {
      this.#pumpError = e;
      this.#wakeUp();
    });
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #reply(m: InflateReply): void {
    switch (m.t) {
      case "out":
        if (this.#stopped) this.#w.send({ t: "outAck" });
        else this.#queue.push(m.buf);
        break;
      case "rawAck": {
        this.#rawInFlight--;
        const wake = this.#rawWake;
        this.#rawWake = undefined;
        wake?.();
        return;
      }
      case "done":
        this.#verdict = { blobDigest: m.blobDigest, blobSize: m.blobSize, diffId: m.diffId };
        break;
      case "error":
        this.#verdict = { blobDigest: m.blobDigest, blobSize: m.blobSize, error: m.message };
        break;
      case "crashed":
        this.#pumpError ??= new OciboxError("WORKER_FAILED", `inflate worker: ${m.message}`);
        break;
    }
    this.#wakeUp();
  }

  async #pumpRaw(raw: AsyncIterator<Uint8Array>, options: InflateOptions): Promise<void> {
    let size = 0;
    for (let r = await raw.next(); !r.done; r = await raw.next()) {
      options.signal?.throwIfAborted();
      size += r.value.length;
      if (size > options.maxSize) {
        await raw.return?.();
        throw options.tooLarge(size);
      }
      while (this.#rawInFlight >= RAW_WINDOW) {
        await new Promise<void>((resolve) => (this.#rawWake = resolve));
      }
      // A buffer of our own to transfer (the source may share or reuse its memory).
      const v = r.value;
      const buf = v.byteOffset === 0 && v.byteLength === v.buffer.byteLength &&
          v.buffer instanceof ArrayBuffer
        ? v
        : new Uint8Array(v);
      this.#rawInFlight++;
      this.#w.send({ t: "raw", buf }, [buf.buffer as ArrayBuffer]);
    }
    this.#w.send({ t: "end" });
  }

  /**
   * The next decompressed batch, or undefined at the end; valid until the next call. Throws
   * what reading the source threw.
   */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.#pumpError !== undefined) throw this.#pumpError;
      this.#release();
      const batch = this.#queue.shift();
      if (batch !== undefined) {
        this.#lent = batch;
        return batch;
      }
      if (this.#verdict !== undefined) {
        this.#drained = true;
        return undefined;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #release(): void {
    const buf = this.#lent;
    if (buf === undefined) return;
    this.#lent = undefined;
    this.#w.send({ t: "outAck", buf }, [buf.buffer as ArrayBuffer]);
  }

  /** Stops output (the rest of the blob is still read and hashed), e.g. after a parse error. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#release();
    if (this.#verdict === undefined) this.#w.send({ t: "discard" });
    for (const _ of this.#queue.splice(0)) this.#w.send({ t: "outAck" });
  }

  /** Waits until the whole blob is hashed and returns the verdict. */
  async verdict(): Promise<InflateVerdict> {
    this.stop();
    await this.#pump;
    while (this.#verdict === undefined && this.#pumpError === undefined) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    this.#w.listen(undefined);
    if (this.#pumpError !== undefined) throw this.#pumpError;
    const v = this.#verdict!;
    return this.#drained && v.error === undefined ? v : { ...v, diffId: undefined };
  }
}

/** Whether a compression is worth sending to a worker. */
export function inflatesOffThread(c: Compression): c is "gzip" | "zstd" {
  return c !== "none";
}
