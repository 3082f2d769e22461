/**
 * Gzip on every core, as pigz does it in spirit: the input is cut into blocks (1 MiB), each
 * block is compressed on its own by libdeflate on a pool thread, and the results are written in
 * order as a multi-member gzip file (RFC 1952 §2.2: "a gzip file consists of a series of
 * members"). Every gzip reader takes such a file: gzip(1), zlib's gunzip, Go's compress/gzip
 * (skopeo, umoci, containerd; multistream by default), Python's gzip and tarfile
 * (tests/gzip_members_test.ts checks the peers).
 *
 * Why blocks and not one stream: a deflate stream is sequential; independent members let two
 * cores work while the event loop reads the source, hashes and writes. Each member starts with
 * an empty window, which costs ~0.1% of size at 1 MiB blocks (measured on a /usr/lib tar), and
 * 18 bytes of header and trailer.
 *
 * Memory is bounded: per stream at most `threads + 1` blocks wait or compress, and all streams
 * of the process share one pool of `threads` compressors (so three layers converted at once
 * still keep two compressions running on two cores, not six).
 *
 * Level: {@linkcode DEFAULT_GZIP_LEVEL}; see its note.
 *
 * @example
 * ```ts
 * import { parallelGzip } from "./parallel_gzip.ts";
 * const gz = parallelGzip([new TextEncoder().encode("hello\n")]);
 * if (gz) for await (const chunk of gz) console.log(chunk.length);
 * ```
 * @module
 */
import { type GzipCompressor, openGzipCompressor } from "../../ffi/libdeflate.ts";
import { releaseChunk } from "../io/slab_pool.ts";

/**
 * libdeflate level 2, chosen against skopeo's default output (klauspost/pgzip at its default
 * level) on the same input. A 200 MB tar of /usr/lib and /usr/share: skopeo 76.1 MB; level 1
 * 77.4 MB (1.8% larger, ~165 MB/s a core), level 2 73.5 MB (3.4% smaller than skopeo, ~125 MB/s),
 * level 6 70.4 MB (~73 MB/s). Level 2 is the fastest level that is not larger than skopeo's
 * output on real files. (On the benchmark's synthetic debian-like layer, half random bytes,
 * every level is within 1.5% of skopeo's size.)
 */
export const DEFAULT_GZIP_LEVEL = 2;

/** Uncompressed bytes per gzip member. */
export const GZIP_BLOCK_SIZE = 1 << 20;

/** Options of {@linkcode parallelGzip}. */
export interface ParallelGzipOptions {
  /** libdeflate level 0-12 (default {@linkcode DEFAULT_GZIP_LEVEL}). */
  level?: number;
  /** Uncompressed bytes per member (default {@linkcode GZIP_BLOCK_SIZE}). */
  blockSize?: number;
}

/** A pool of compressors for one level; `threads` of them at most run at once. */
class Pool {
  readonly #idle: GzipCompressor[] = [];
  readonly #waiting: ((c: GzipCompressor) => void)[] = [];
  #made = 0;

  constructor(readonly level: number, readonly threads: number) {}

  /** Compresses `block` as one member; resolves to the member's bytes. */
  async gzip(block: Uint8Array): Promise<Uint8Array> {
    const c = await this.#acquire();
    try {
      const out = new Uint8Array(c.bound(block.length));
      return out.subarray(0, await c.compress(block, out));
    } finally {
      this.#release(c);
    }
  }

  #acquire(): Promise<GzipCompressor> {
    const c = this.#idle.pop();
    if (c) return Promise.resolve(c);
    if (this.#made < this.threads) {
      const made = openGzipCompressor(this.level);
      if (made === null) throw new Error("libdeflate went away");
      this.#made++;
      return Promise.resolve(made);
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(c: GzipCompressor): void {
    const next = this.#waiting.shift();
    if (next) next(c);
    else this.#idle.push(c);
  }
}

const pools = new Map<number, Pool>();

/** Compression threads: one per core the process may use. */
function threadCount(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

function poolFor(level: number): Pool | null {
  let pool = pools.get(level);
  if (pool === undefined) {
    // Probes libdeflate (and the level) once; the compressor becomes the pool's first.
    const probe = openGzipCompressor(level);
    if (probe === null) return null;
    probe.free();
    pool = new Pool(level, threadCount());
    pools.set(level, pool);
  }
  return pool;
}

/**
 * Gzips `source` as a multi-member gzip on every core, or returns null when libdeflate cannot
 * be used (then the caller compresses with node:zlib on one thread). An empty source gives one
 * member of nothing (a valid gzip file, as `gzip </dev/null` writes).
 *
 * @throws {RangeError} for a level libdeflate does not have.
 * @example
 * ```ts
 * const out = parallelGzip(ReadableStream.from([new Uint8Array(10)]), { level: 6 });
 * ```
 */
export function parallelGzip(
  source: AsyncIterable<Uint8Array>,
  options: ParallelGzipOptions = {},
): AsyncGenerator<Uint8Array> | null {
  const pool = poolFor(options.level ?? DEFAULT_GZIP_LEVEL);
  if (pool === null) return null;
  return members(source, pool, options.blockSize ?? GZIP_BLOCK_SIZE);
}

async function* members(
  source: AsyncIterable<Uint8Array>,
  pool: Pool,
  blockSize: number,
): AsyncGenerator<Uint8Array> {
  // Compressions in flight, in output order. libdeflate reads each block on a pool thread, so
  // a block is reused only once its member is out (fresh 1 MiB buffers cost page faults).
  const pending: { member: Promise<Uint8Array>; block: Uint8Array }[] = [];
  const spare: Uint8Array[] = [];
  const ahead = pool.threads + 1;
  let block: Uint8Array = new Uint8Array(blockSize);
  let fill = 0;
  let any = false;
  const submit = (bytes: Uint8Array) => {
    const member = pool.gzip(bytes);
    member.catch(() => {}); // surfaced when awaited in order; never an unhandled rejection
    pending.push({ member, block: bytes });
    any = true;
  };
  const next = async () => {
    const done = pending.shift()!;
    const member = await done.member;
    if (done.block.length === blockSize) spare.push(done.block);
    return member;
  };
  try {
    for await (const chunk of source) {
      let at = 0;
      while (at < chunk.length) {
        const take = Math.min(blockSize - fill, chunk.length - at);
        block.set(chunk.subarray(at, at + take), fill);
        fill += take;
        at += take;
        if (fill === blockSize) {
          submit(block);
          block = spare.pop() ?? new Uint8Array(blockSize);
          fill = 0;
        }
      }
      // Copied: a read slab can go back to its pool (see lib/io/slab_pool.ts).
      releaseChunk(chunk);
      while (pending.length >= ahead) yield await next();
    }
    if (fill > 0 || !any) submit(block.subarray(0, fill));
    while (pending.length) yield await next();
  } finally {
    // On an error or an early stop, let running compressions end before the caller cleans up
    // (their buffers are in C's hands until then).
    await Promise.allSettled(pending.map((p) => p.member));
  }
}
