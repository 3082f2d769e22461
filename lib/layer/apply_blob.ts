/**
 * One layer blob into a rootfs, in a single streaming pass: the compressed bytes are counted and
 * hashed (blob digest), decompressed (gzip/zstd sniffed from the bytes, whatever the media type
 * claims), hashed again (diff_id) and parsed as tar straight into a {@linkcode RootfsWriter}.
 * Memory stays bounded by the chunk size whatever the layer's size.
 * @module
 */
import { parseDigest } from "../digest/digest.ts";
import { createDigester } from "../digest/digester.ts";
import { DigestMismatchError, SizeMismatchError, throwIfAborted } from "../errors.ts";
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
 * a temporary directory and discard it on failure.
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

  const raw = blob[Symbol.asyncIterator]();
  const first = await raw.next();
  const head = first.done ? new Uint8Array(0) : first.value;
  const compression = detectCompression(head);

  async function* counted(): AsyncGenerator<Uint8Array> {
    let chunk: IteratorResult<Uint8Array> = first;
    while (!chunk.done) {
      throwIfAborted(signal);
      if (blobHash.size + chunk.value.length > expected.size) {
        throw new SizeMismatchError(what, expected.size, blobHash.size + chunk.value.length);
      }
      blobHash.update(chunk.value);
      yield chunk.value;
      chunk = await raw.next();
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
    // The decompressor may stop at the end of its data; the digest covers every byte.
    for (let r = await raw.next(); !r.done; r = await raw.next()) {
      if (blobHash.size + r.value.length > expected.size) {
        throw new SizeMismatchError(what, expected.size, blobHash.size + r.value.length);
      }
      blobHash.update(r.value);
    }
  } catch (e) {
    await raw.return?.();
    throw e;
  }
  if (blobHash.size !== expected.size) {
    throw new SizeMismatchError(what, expected.size, blobHash.size);
  }
  const blobDigest = blobHash.digest();
  if (blobDigest !== expected.digest) {
    throw new DigestMismatchError(what, expected.digest, blobDigest);
  }
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
