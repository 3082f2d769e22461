/**
 * Layer compression: detection by magic bytes and streaming (de)compression with node:zlib
 * (gzip and zstd are native there; multi-member gzip streams are handled). Gzip output is
 * written on every core by parallel_gzip.ts (libdeflate, multi-member) when libdeflate can be
 * opened, else by node:zlib on one thread.
 * @module
 */
import { parallelGzip } from "./parallel_gzip.ts";
import type { Gunzip, Gzip, ZstdCompress, ZstdDecompress } from "node:zlib";
import { CorruptCompressionError, OciboxError, UnsupportedError } from "../errors.ts";

/** Compression of a layer blob. */
export type Compression = "none" | "gzip" | "zstd";

/** Every compression, for flag validation. */
export const COMPRESSIONS: readonly Compression[] = ["none", "gzip", "zstd"];

/**
 * Detects the compression from a blob's first bytes (at least 4 are needed for zstd).
 *
 * @example
 * ```ts
 * import { detectCompression } from "./compression.ts";
 * detectCompression(new Uint8Array([0x1f, 0x8b, 8, 0])); // "gzip"
 * ```
 */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (
    head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f &&
    head[3] === 0xfd
  ) return "zstd";
  return "none";
}

const CHUNK = 256 * 1024;

type Zlib = typeof import("node:zlib");
type Transform = Gunzip | Gzip | ZstdCompress | ZstdDecompress;

function decompressor(c: Compression): (z: Zlib) => Transform {
  if (c === "gzip") return (z) => z.createGunzip({ chunkSize: CHUNK });
  if (c === "zstd") return (z) => z.createZstdDecompress({ chunkSize: CHUNK });
  throw new UnsupportedError(`no decompressor for ${c}`);
}

function compressor(c: Compression, level?: number): (z: Zlib) => Transform {
  if (c === "gzip") {
    return (z) =>
      z.createGzip({ chunkSize: CHUNK, level: level ?? z.constants.Z_DEFAULT_COMPRESSION });
  }
  if (c === "zstd") {
    return (z) => {
      const params = level === undefined ? {} : { [z.constants.ZSTD_c_compressionLevel]: level };
      return z.createZstdCompress({ chunkSize: CHUNK, params });
    };
  }
  throw new UnsupportedError(`no compressor for ${c}`);
}

/**
 * Runs `source` through a zlib transform. node:zlib and node:stream load here, on first use:
 * importing Node's stream layer costs ~15 ms of start-up that most commands never need.
 */
async function* through(
  source: AsyncIterable<Uint8Array>,
  make: (z: Zlib) => Transform,
  format: Compression,
): AsyncGenerator<Uint8Array> {
  const [zlib, { Readable }] = await Promise.all([import("node:zlib"), import("node:stream")]);
  const transform = make(zlib);
  const input = Readable.from(source, { objectMode: false });
  input.on("error", (e) => transform.destroy(e));
  input.pipe(transform);
  try {
    for await (const chunk of transform) yield chunk as Uint8Array;
  } catch (e) {
    // zlib's own errors are untyped ("unexpected end of file"); say what was being read.
    if (e instanceof OciboxError || !(e instanceof Error) || !("errno" in e && "code" in e)) {
      throw e;
    }
    throw new CorruptCompressionError(format, e.message, { cause: e });
  } finally {
    input.destroy();
    transform.destroy();
  }
}

/** Decompresses `source` (a no-op for "none"). */
export function decompress(
  source: AsyncIterable<Uint8Array>,
  c: Compression,
): AsyncIterable<Uint8Array> {
  return c === "none" ? source : through(source, decompressor(c), c);
}

/**
 * Compresses `source` (a no-op for "none"); `level` is the gzip (1-9, libdeflate's or zlib's)
 * or zstd level. Gzip's default is parallel_gzip.ts's DEFAULT_GZIP_LEVEL with libdeflate, else
 * zlib's 6 (about the same output size).
 */
export function compress(
  source: AsyncIterable<Uint8Array>,
  c: Compression,
  level?: number,
): AsyncIterable<Uint8Array> {
  if (c === "none") return source;
  if (c === "gzip") {
    const parallel = parallelGzip(source, level === undefined ? {} : { level });
    if (parallel) return parallel;
  }
  return through(source, compressor(c, level), c);
}

/**
 * Decompresses `source` by what its first bytes say, whatever a media type claimed: images in
 * the wild label plain tars as gzip (skopeo's docker-archive reader does).
 */
export async function* decompressSniffed(
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  async function* all(): AsyncGenerator<Uint8Array> {
    yield first.value;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  yield* decompress(all(), detectCompression(first.value));
}
