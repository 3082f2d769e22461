/**
 * New layer blobs from a directory or a tar file, with the chosen compression, computing the
 * blob digest and the diff_id (digest of the uncompressed tar) while the bytes stream once.
 * User-supplied tars are parsed on the way, so a malformed one is refused here rather than
 * shipped in an image.
 * @module
 */
import { createDigester } from "../digest/digester.ts";
import { layerMediaTypeFor } from "../image/media_types.ts";
import { fileStream } from "../io/file_stream.ts";
import { storeBlob } from "../store/blob_dir.ts";
import type { StoredBlob } from "../store/blob_dir.ts";
import {
  compress,
  type Compression,
  decompress,
  detectCompression,
} from "../archive/compression.ts";
import { type DirTarOptions, tarDirectory } from "./dir_to_tar.ts";
import { TarReader } from "../archive/tar/reader.ts";

/** A layer blob stored in a blob directory (`<dir>/blobs/<alg>/<hex>`). */
export interface NewLayer {
  blob: Required<StoredBlob>;
  diffId: string;
}

/** How to make a layer. */
export interface CreateLayerOptions extends DirTarOptions {
  /** Compression of the blob (default gzip). A compressed tar file is kept as it is. */
  compression?: Compression;
  /** zlib/zstd level. */
  level?: number;
  /** Manifest format the layer is for (sets the media type). */
  format?: "oci" | "docker";
}

function mediaType(options: CreateLayerOptions, compression: Compression): string {
  const format = options.format ?? "oci";
  const type = layerMediaTypeFor(format, compression);
  if (!type) throw new Error(`no ${format} media type for ${compression} layers`);
  return type;
}

/** Hashes (and tar-parses) the uncompressed bytes flowing through. */
async function* diffIdTap(
  source: AsyncIterable<Uint8Array>,
  result: { diffId?: string },
): AsyncGenerator<Uint8Array> {
  const hash = createDigester("sha256");
  const check = new TarReader({ entry() {}, data() {}, entryEnd() {} });
  for await (const chunk of source) {
    hash.update(chunk);
    check.push(chunk);
    yield chunk;
  }
  check.end();
  result.diffId = hash.digest();
}

/** Tars `dir` (everything below it), compresses and stores it under `blobDir`. */
export async function layerFromDirectory(
  dir: string,
  blobDir: string,
  options: CreateLayerOptions = {},
): Promise<NewLayer> {
  const compression = options.compression ?? "gzip";
  const result: { diffId?: string } = {};
  const tar = diffIdTap(tarDirectory(dir, options), result);
  const blob = await storeBlob(
    blobDir,
    ReadableStream.from(compress(tar, compression, options.level)),
    {},
    options,
  );
  return {
    blob: { ...blob, mediaType: mediaType(options, compression) },
    diffId: result.diffId!,
  };
}

/**
 * A layer from a tar file: a gzip or zstd tar is stored as it is; an uncompressed one is
 * compressed as asked.
 */
export async function layerFromTarFile(
  path: string,
  blobDir: string,
  options: CreateLayerOptions = {},
): Promise<NewLayer> {
  const head = new Uint8Array(8);
  {
    using f = await Deno.open(path, { read: true });
    await f.read(head);
  }
  const found = detectCompression(head);
  const result: { diffId?: string } = {};
  if (found !== "none") {
    // Keep the user's compressed bytes; one pass for the diff_id, one to store.
    for await (const _ of diffIdTap(decompress(await fileStream(path), found), result)) {
      /* drain */
    }
    const blob = await storeBlob(blobDir, await fileStream(path), {}, options);
    return { blob: { ...blob, mediaType: mediaType(options, found) }, diffId: result.diffId! };
  }
  const compression = options.compression ?? "gzip";
  const tar = diffIdTap(await fileStream(path), result);
  const blob = await storeBlob(
    blobDir,
    ReadableStream.from(compress(tar, compression, options.level)),
    {},
    options,
  );
  return { blob: { ...blob, mediaType: mediaType(options, compression) }, diffId: result.diffId! };
}
