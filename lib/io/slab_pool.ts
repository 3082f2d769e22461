/**
 * Recycled 1 MiB read buffers ("slabs") for network bodies. Fresh memory costs the kernel a
 * zero-filled page fault per 4 KiB: a 44 MB pull into new buffers took ~11k faults and ~25 ms
 * of system time, which a handful of reused slabs avoid.
 *
 * A reader carves views out of a slab and {@linkcode lendChunk}s each one it hands out; when it
 * moves to another slab it {@linkcode sealSlab}s the old one. A sealed slab whose every lent
 * view came back through {@linkcode releaseChunk} is reused. Releasing is the consumer's promise
 * that it keeps no reference to the bytes; consumers that never release leave their slabs to
 * the garbage collector, so the scheme is safe for every consumer that does not opt in. Only
 * the exact view object that was lent is accepted back, once.
 *
 * @example
 * ```ts
 * import { lendChunk, releaseChunk, sealSlab, takeSlab } from "./slab_pool.ts";
 * const slab = takeSlab();
 * const chunk = slab.subarray(0, 10);
 * lendChunk(chunk);
 * sealSlab(slab);
 * releaseChunk(chunk); // the slab is free again: takeSlab() may return it
 * ```
 * @module
 */

/** Bytes in a slab. */
export const SLAB_BYTES = 1 << 20;
const MAX_FREE_SLABS = 8;

interface SlabState {
  slab: Uint8Array;
  lent: number;
  sealed: boolean;
}

const states = new WeakMap<ArrayBufferLike, SlabState>();
const lent = new WeakSet<Uint8Array>();
const free: Uint8Array[] = [];

/** A slab to read into: a recycled one when there is one. */
export function takeSlab(): Uint8Array {
  const slab = free.pop() ?? new Uint8Array(SLAB_BYTES);
  states.set(slab.buffer, { slab, lent: 0, sealed: false });
  return slab;
}

/** The reader is done with `slab`: it is reused once its lent views have all come back. */
export function sealSlab(slab: Uint8Array): void {
  const st = states.get(slab.buffer);
  if (!st || st.slab !== slab) return;
  st.sealed = true;
  recycle(st);
}

/** Records that `chunk`, a view of a slab, is handed to a consumer. */
export function lendChunk(chunk: Uint8Array): void {
  const st = states.get(chunk.buffer);
  if (!st || lent.has(chunk)) return;
  lent.add(chunk);
  st.lent++;
}

/**
 * The consumer holds no reference to `chunk` any more. Anything that was not lent (a copy,
 * another view of the same bytes, a chunk from elsewhere) is ignored.
 */
export function releaseChunk(chunk: Uint8Array): void {
  if (!lent.delete(chunk)) return;
  const st = states.get(chunk.buffer);
  if (!st) return;
  st.lent--;
  recycle(st);
}

function recycle(st: SlabState): void {
  if (!st.sealed || st.lent > 0) return;
  states.delete(st.slab.buffer);
  if (free.length < MAX_FREE_SLABS) free.push(st.slab);
}
