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
  DigestMismatchError,
  OciboxError,
  SizeMismatchError,
  throwIfAborted,
} from "../errors.ts";
import { type Compression, decompress, detectCompression } from "./compression.ts";
import type { LayerStats, RootfsWriter } from "./rootfs_writer.ts";
import { TarReader } from "./tar/reader.ts";

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
  options: { signal?: AbortSignal } = {},
): Promise<AppliedLayer> {
  const what = `layer ${expected.digest}`;
  const blobHash = createDigester(parseDigest(expected.digest).algorithm);
  const diffHash = createDigester(
    expected.diffId ? parseDigest(expected.diffId).algorithm : "sha256",
  );
  const signal = options.signal;
  const take = (chunk: Uint8Array) => {
    if (blobHash.size + chunk.length > expected.size) {
      throw new SizeMismatchError(what, expected.size, blobHash.size + chunk.length);
    }
    blobHash.update(chunk);
  };
  const checkBlob = () => {
    if (blobHash.size !== expected.size) {
      throw new SizeMismatchError(what, expected.size, blobHash.size);
    }
    const actual = blobHash.digest();
    if (actual !== expected.digest) throw new DigestMismatchError(what, expected.digest, actual);
  };

  const raw = blob[Symbol.asyncIterator]();
  // The rest of the raw blob, after the decompressor stopped reading (or failed).
  const drain = async () => {
    for (let r = await raw.next(); !r.done; r = await raw.next()) take(r.value);
  };
  const first = await raw.next();
  const compression = detectCompression(first.done ? new Uint8Array(0) : first.value);
  async function* counted(): AsyncGenerator<Uint8Array> {
    for (let r = first; !r.done; r = await raw.next()) {
      throwIfAborted(signal);
      take(r.value);
      yield r.value;
    }
  }

  const layer = writer.beginLayer();
  const reader = new TarReader(layer);
  try {
    for await (const chunk of decompress(counted(), compression)) {
      diffHash.update(chunk);
      reader.push(chunk);
    }
    reader.end();
    await drain();
  } catch (e) {
    if (e instanceof AbortedError || e instanceof SizeMismatchError) {
      await raw.return?.();
      throw e;
    }
    // Garbage in a tampered blob shows up as a tar or zlib error: prefer the digest verdict.
    try {
      await drain();
      checkBlob();
    } catch (verdict) {
      if (verdict instanceof DigestMismatchError || verdict instanceof SizeMismatchError) {
        throw verdict;
      }
    }
    if (e instanceof OciboxError && !e.message.includes(expected.digest)) {
      e.message = `${what}: ${e.message}`;
    }
    throw e;
  }
  checkBlob();
  const diffId = diffHash.digest();
  if (expected.diffId && diffId !== expected.diffId) {
    throw new DigestMismatchError(
      `${what}: uncompressed content (diff_id)`,
      expected.diffId,
      diffId,
    );
  }
  layer.finish();
  return { diffId, compression, stats: layer.stats };
}
