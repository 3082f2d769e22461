/**
 * A content-addressed blob directory, `<dir>/blobs/<alg>/<encoded>`, as in OCI image layouts:
 * blobs stream in through a temporary file in `<dir>` and appear under their digest only once
 * complete and verified.
 * @module
 */
import { parseDigest } from "../digest/digest.ts";
import { ContentCheck } from "../digest/verify.ts";
import { throwIfAborted } from "../errors.ts";
import { AtomicFile, syncDir } from "../io/atomic_file.ts";
import { releaseChunk } from "../io/slab_pool.ts";

const WRITE_BATCH = 1 << 20;
/** Pieces this large are written as they are; smaller ones are gathered into a batch. */
const DIRECT_BYTES = 128 * 1024;

/** A blob's digest, size and (when known) media type. */
export interface StoredBlob {
  digest: string;
  size: number;
  mediaType?: string;
}

/** Where a blob lives inside a layout: `blobs/<alg>/<encoded>`. */
export function blobPath(digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  return `blobs/${algorithm}/${encoded}`;
}

/** Options of {@linkcode storeBlob}. */
export interface StoreBlobOptions {
  signal?: AbortSignal;
  /**
   * Collects the blob directories whose fsync is left to the caller, who must sync them
   * ({@linkcode syncBlobDirs}) before publishing anything that names the blobs. Without it each
   * blob's directory is synced as the blob lands, one fsync per blob in sequence.
   */
  deferDirSync?: Set<string>;
}

/**
 * Streams a blob into `<dir>/blobs/<alg>/<hex>` through a temporary file in `dir`, verifying it
 * against `info` when a digest is given. An existing blob is kept (content-addressed).
 */
export async function storeBlob(
  dir: string,
  stream: ReadableStream<Uint8Array>,
  info: Partial<StoredBlob>,
  options: StoreBlobOptions = {},
): Promise<StoredBlob> {
  const check = new ContentCheck(info, `blob ${info.digest ?? "(new)"}`);
  const file = await AtomicFile.create(`${dir}/blob`, { tempDir: dir });
  // Small pieces (fetch gives 64 KiB, some servers less) are written and hashed in batches of
  // about 1 MiB, one hash call per batch; large ones go as they are, without a copy. Each is
  // hashed while its write runs, and handed back to the slab pool once both are done.
  // The hash stays on this thread on purpose: the write already runs on Deno's blocking pool,
  // and hashing on the pool too measured no faster, up to 30% slower, on 2 cores.
  const batch = new Uint8Array(WRITE_BATCH);
  let fill = 0;
  const flush = async (bytes: Uint8Array) => {
    const written = file.write(bytes);
    check.update(bytes);
    await written;
  };
  try {
    for await (const chunk of stream) {
      throwIfAborted(options.signal);
      if (fill + chunk.length > WRITE_BATCH || chunk.length >= DIRECT_BYTES) {
        if (fill) await flush(batch.subarray(0, fill));
        fill = 0;
      }
      if (chunk.length >= DIRECT_BYTES) {
        await flush(chunk);
      } else {
        batch.set(chunk, fill);
        fill += chunk.length;
      }
      releaseChunk(chunk);
    }
    if (fill) await flush(batch.subarray(0, fill));
    const { digest, size } = check.finish();
    const { algorithm } = parseDigest(digest);
    await Deno.mkdir(`${dir}/blobs/${algorithm}`, { recursive: true });
    const defer = options.deferDirSync;
    await file.commit(`${dir}/${blobPath(digest)}`, { syncDir: defer === undefined });
    defer?.add(`${dir}/blobs/${algorithm}`);
    return { digest, size, mediaType: info.mediaType };
  } catch (e) {
    await file.abort();
    throw e;
  }
}

/**
 * fsyncs the directories {@linkcode storeBlob} left unsynced (once each), so the blobs' names
 * survive a crash; call it before writing what refers to them.
 *
 * @example
 * ```ts
 * const dirs = new Set<string>();
 * await storeBlob("/tmp/layout", ReadableStream.from([new Uint8Array(1)]), {}, { deferDirSync: dirs });
 * syncBlobDirs(dirs);
 * ```
 */
export function syncBlobDirs(dirs: Set<string>): void {
  for (const d of dirs) syncDir(d);
  dirs.clear();
}
