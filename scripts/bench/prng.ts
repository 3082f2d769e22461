/**
 * A small seeded pseudo-random generator (sfc32) and content makers for benchmark fixtures:
 * incompressible bytes, English-like text and "binary-ish" bytes that compress about as well
 * as ELF code. The same seed always gives the same bytes, so fixtures are reproducible.
 *
 * @example
 * ```ts
 * import { Rng } from "./prng.ts";
 * const rng = new Rng(42);
 * const n = rng.int(10); // 0..9
 * const text = rng.text(100); // 100 bytes of words and newlines
 * ```
 * @module
 */

const WORDS = (
  "the of and to in is that for it as with was on be by this are or at from an not which " +
  "have but all they one had their were been has more when there can its into only other " +
  "file system package debian version license copyright free software foundation gnu " +
  "public warranty merchantability fitness purpose distributed hope useful without even " +
  "implied details received copy program library kernel module config install remove " +
  "upgrade depends recommends suggests conflicts replaces provides description maintainer " +
  "source binary architecture priority optional required important standard section utils " +
  "admin libs devel python perl shell return value error warning option default path user " +
  "group mode owner directory link target buffer stream read write open close mount"
).split(" ");

/** A seeded generator of 32-bit values (sfc32) with helpers for fixture content. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** Seeds the generator; equal seeds give equal sequences. */
  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.next();
  }

  /** The next unsigned 32-bit value. */
  next(): number {
    const a = this.#a, b = this.#b, c = this.#c, d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    const r = (c << 21) | (c >>> 11);
    this.#c = (r + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A log-uniform integer in [lo, hi]: many small values, a few large ones. */
  logRange(lo: number, hi: number): number {
    const l = Math.log(Math.max(1, lo)), h = Math.log(hi);
    return Math.min(hi, Math.max(lo, Math.round(Math.exp(l + (h - l) * (this.next() / 2 ** 32)))));
  }

  /** A derived generator, so a sub-task's output does not depend on how much others drew. */
  fork(salt: number): Rng {
    return new Rng((this.next() ^ Math.imul(salt, 0x85ebca6b)) >>> 0);
  }

  /** Fills `out` with incompressible bytes. */
  fill(out: Uint8Array): Uint8Array {
    const words = out.length >>> 2;
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < words; i++) view.setUint32(i * 4, this.next(), true);
    for (let i = words * 4; i < out.length; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** `n` incompressible bytes. */
  bytes(n: number): Uint8Array {
    return this.fill(new Uint8Array(n));
  }

  /** `n` bytes of word-salad text in lines of up to 80 characters (compresses ~3:1). */
  text(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let i = 0, col = 0;
    while (i < n) {
      const w = this.pick(WORDS);
      if (col + w.length + 1 > 78) {
        out[i++] = 0x0a;
        col = 0;
        continue;
      }
      for (let k = 0; k < w.length && i < n; k++) out[i++] = w.charCodeAt(k);
      if (i < n) out[i++] = this.chance(0.08) ? 0x2e : 0x20;
      col += w.length + 1;
    }
    return out;
  }

  /**
   * `n` bytes shaped like compiled code: 256-byte blocks that are repeats from a shared 8 KiB
   * pool, low-entropy bytes, random bytes or zeros (gzip gets them to roughly 50-60%).
   */
  binaryish(n: number, pool: Uint8Array): Uint8Array {
    const out = new Uint8Array(n);
    const block = 256;
    for (let off = 0; off < n; off += block) {
      const len = Math.min(block, n - off);
      const kind = this.int(10);
      if (kind < 4) {
        const from = this.int(pool.length - block) & ~7;
        out.set(pool.subarray(from, from + len), off);
      } else if (kind < 7) {
        for (let i = 0; i < len; i += 4) {
          const v = this.next();
          out[off + i] = v & 0x3f;
          if (i + 1 < len) out[off + i + 1] = (v >>> 8) & 0x0f;
          if (i + 2 < len) out[off + i + 2] = (v >>> 16) & 0x3f;
          if (i + 3 < len) out[off + i + 3] = (v >>> 24) & 0x03;
        }
      } else if (kind < 9) {
        this.fill(out.subarray(off, off + len));
      } // else zeros
    }
    return out;
  }

  /** A random lowercase name of `min`..`max` letters built from syllables. */
  name(min = 3, max = 10): string {
    const syll = ["ba", "ce", "di", "fo", "gu", "ka", "le", "mi", "no", "pu", "ra", "se", "ti"];
    const want = this.range(min, max);
    let s = "";
    while (s.length < want) s += this.pick(syll);
    return s.slice(0, want);
  }
}
