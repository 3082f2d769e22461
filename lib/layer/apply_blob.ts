/**
 * One layer blob into a rootfs, in a single streaming pass: the compressed bytes are counted and
 * hashed (blob digest), decompressed (gzip/zstd sniffed from the bytes, whatever the media type
 * claims), hashed again (diff_id) and parsed as tar straight into a {@linkcode RootfsWriter}.
 * Memory stays bounded by the chunk size whatever the layer's size.
 * @module
 */
import { parseDigest } from "../digest/digest.ts";
import { createDigester } from "../digest/digester.ts";
import {
  AbortedError,
  CorruptCompressionError,
  DigestMismatchError,
  OciboxError,
  SizeMismatchError,
  throwIfAborted,
} from "../errors.ts";
import { EventLoopYield } from "../io/event_loop.ts";
import { type Compression, decompress, detectCompression } from "../archive/compression.ts";
import { inflatesOffThread, type InflateWorker } from "../archive/offthread_inflate.ts";
import type { LayerStats, RootfsWriter } from "./rootfs_writer.ts";
import { TarReader } from "../archive/tar/reader.ts";

/** What is known about the blob before reading it. */
export interface LayerBlobExpectation {
  digest: string;
  size: number;
  /** The config's rootfs.diff_ids entry for this layer, checked when given. */
  diffId?: string;
}

/** What applying a layer found. */
export interface AppliedLayer {
  diffId: string;
  compression: Compression;
  stats: LayerStats;
}

/** Options of {@linkcode applyLayerBlob}. */
export interface ApplyBlobOptions {
  signal?: AbortSignal;
  /** Inflate compressed layers on this worker (a second core) instead of the calling thread. */
  inflater?: InflateWorker;
}

/** What hashing the whole blob found, however far parsing got. */
interface Verdict {
  blobDigest: string;
  blobSize: number;
  diffId?: string;
}

/**
 * Applies `blob` (the raw layer blob) to `writer`, verifying the blob's size and digest and,
 * when given, its diff_id. On any error the rootfs is left partly written: callers unpack into
 * a temporary directory and discard it on failure. When the layer fails to decompress or parse,
 * the rest of the blob is still hashed, so a tampered blob is reported as a digest mismatch
 * rather than as the garbage it decodes to.
 */
export async function applyLayerBlob(
  blob: ReadableStream<Uint8Array>,
  expected: LayerBlobExpectation,
  writer: RootfsWriter,
  options: ApplyBlobOptions = {},
): Promise<AppliedLayer> {
  const what = `layer ${expected.digest}`;
  const blobAlg = parseDigest(expected.digest).algorithm;
  const diffAlg = expected.diffId ? parseDigest(expected.diffId).algorithm : "sha256";
  const tooLarge = (size: number) => new SizeMismatchError(what, expected.size, size);

  const raw = blob[Symbol.asyncIterator]();
  const first = await raw.next();
  const compression = detectCompression(first.done ? new Uint8Array(0) : first.value);
  const all: AsyncIterator<Uint8Array> = {
    next: (() => {
      let head: IteratorResult<Uint8Array> | undefined = first;
      return () => {
        const r = head;
        head = undefined;
        return r ? Promise.resolve(r) : raw.next();
      };
    })(),
    return: (v?: unknown) => raw.return?.(v) ?? Promise.resolve({ done: true, value: undefined }),
  };

  const layer = writer.beginLayer();
  const reader = new TarReader(layer);
  const job = { compression, blobAlg, diffAlg, tooLarge, ...expected };
  const { verdict, failure } = options.inflater && inflatesOffThread(compression)
    ? await viaWorker(options.inflater, all, reader, { ...job, compression }, options.signal)
    : await inThread(all, reader, job, options.signal);

  if (verdict.blobSize !== expected.size) throw tooLarge(verdict.blobSize);
  if (verdict.blobDigest !== expected.digest) {
    throw new DigestMismatchError(what, expected.digest, verdict.blobDigest);
  }
  if (failure !== undefined) {
    if (failure instanceof OciboxError && !failure.message.includes(expected.digest)) {
      failure.message = `${what}: ${failure.message}`;
    }
    throw failure;
  }
  if (expected.diffId && verdict.diffId !== expected.diffId) {
    throw new DigestMismatchError(
      `${what}: uncompressed content (diff_id)`,
      expected.diffId,
      verdict.diffId ?? "(none)",
    );
  }
  layer.finish();
  return { diffId: verdict.diffId!, compression, stats: layer.stats };
}

interface Job {
  compression: Compression;
  blobAlg: string;
  diffAlg: string;
  size: number;
  tooLarge: (size: number) => Error;
}

/** Errors that end the work at once, with no digest verdict to look for. */
function isFinal(e: unknown): boolean {
  return e instanceof AbortedError || e instanceof SizeMismatchError ||
    (e instanceof DOMException && e.name === "AbortError");
}

async function inThread(
  raw: AsyncIterator<Uint8Array>,
  reader: TarReader,
  job: Job,
  signal?: AbortSignal,
): Promise<{ verdict: Verdict; failure?: unknown }> {
  const blobHash = createDigester(job.blobAlg);
  const diffHash = createDigester(job.diffAlg);
  const take = (chunk: Uint8Array) => {
    if (blobHash.size + chunk.length > job.size) throw job.tooLarge(blobHash.size + chunk.length);
    blobHash.update(chunk);
  };
  // The rest of the raw blob, after the decompressor stopped reading (or failed).
  const drain = async () => {
    for (let r = await raw.next(); !r.done; r = await raw.next()) take(r.value);
  };
  async function* counted(): AsyncGenerator<Uint8Array> {
    for (let r = await raw.next(); !r.done; r = await raw.next()) {
      throwIfAborted(signal);
      take(r.value);
      yield r.value;
    }
  }
  let failure: unknown;
  try {
    const turns = new EventLoopYield();
    for await (const chunk of decompress(counted(), job.compression)) {
      // Per inflated chunk too, with the event loop let in now and then: a small blob can
      // inflate to seconds of work (60k files) whose awaits all resolve at once, and a
      // SIGTERM is only seen when its handler gets a turn.
      await turns.maybe();
      throwIfAborted(signal);
      diffHash.update(chunk);
      reader.push(chunk);
    }
    reader.end();
  } catch (e) {
    if (isFinal(e)) {
      await raw.return?.();
      throw e;
    }
    failure = e;
  }
  await drain();
  return {
    verdict: { blobDigest: blobHash.digest(), blobSize: blobHash.size, diffId: diffHash.digest() },
    failure,
  };
}

async function viaWorker(
  inflater: InflateWorker,
  raw: AsyncIterator<Uint8Array>,
  reader: TarReader,
  job: Job & { compression: "gzip" | "zstd" },
  signal?: AbortSignal,
): Promise<{ verdict: Verdict; failure?: unknown }> {
  const work = inflater.inflate(raw, {
    compression: job.compression,
    blobAlg: job.blobAlg,
    diffAlg: job.diffAlg,
    maxSize: job.size,
    tooLarge: job.tooLarge,
    signal,
  });
  let failure: unknown;
  try {
    for (let c = await work.next(); c !== undefined; c = await work.next()) {
      throwIfAborted(signal);
      reader.push(c);
    }
    reader.end();
  } catch (e) {
    if (isFinal(e)) throw e;
    failure = e;
  }
  const v = await work.verdict();
  if (v.error !== undefined && failure === undefined) {
    failure = new CorruptCompressionError(job.compression, v.error);
  }
  return { verdict: v, failure };
}
