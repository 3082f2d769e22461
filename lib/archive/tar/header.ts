/**
 * Decoding and encoding of single 512-byte tar header blocks: v7, ustar (POSIX.1-1988), GNU and
 * star layouts, octal and GNU base-256 numbers, both checksum variants, and the byte <-> string
 * mapping used for every name-like field.
 *
 * Names are bytes on the wire. They are decoded as UTF-8; bytes that are not part of a valid UTF-8
 * sequence become the lone surrogates U+DC80..U+DCFF (Python's "surrogateescape", PEP 383), so
 * `encodeTarString(decodeTarString(b))` gives back `b` exactly and no two byte strings decode to
 * the same name.
 *
 * @example
 * ```ts
 * import { decodeTarString, encodeTarString } from "./header.ts";
 * const raw = new Uint8Array([0x61, 0xff]); // "a" + an invalid UTF-8 byte
 * const name = decodeTarString(raw, 0, raw.length); // "a\udcff"
 * console.log(encodeTarString(name)); // Uint8Array [0x61, 0xff]
 * ```
 * @module
 */

import { TarFormatError } from "../../errors.ts";
import type { TarEntry, TarEntryType } from "./entry.ts";

/** Size of every tar block: headers, and the unit data is padded to. */
export const BLOCK_SIZE = 512;

/** Type flag bytes (header offset 156) that ocibox recognises. */
export const TypeFlag = {
  /** '0': regular file. */
  FILE: 0x30,
  /** NUL: regular file written by pre-POSIX tars. */
  OLD_FILE: 0x00,
  /** '1': hard link to an earlier member. */
  LINK: 0x31,
  /** '2': symbolic link. */
  SYMLINK: 0x32,
  /** '3': character device. */
  CHAR: 0x33,
  /** '4': block device. */
  BLOCK: 0x34,
  /** '5': directory. */
  DIR: 0x35,
  /** '6': FIFO. */
  FIFO: 0x36,
  /** '7': contiguous file, a regular file everywhere but on a few historic systems. */
  CONTIGUOUS: 0x37,
  /** 'x': PAX extended header for the next entry. */
  PAX_LOCAL: 0x78,
  /** 'g': PAX extended header for every following entry. */
  PAX_GLOBAL: 0x67,
  /** 'X': Solaris' name for a PAX extended header, read as 'x'. */
  SOLARIS_PAX: 0x58,
  /** 'L': GNU long name of the next entry. */
  GNU_LONG_NAME: 0x4c,
  /** 'K': GNU long link target of the next entry. */
  GNU_LONG_LINK: 0x4b,
  /** 'S': GNU sparse file (refused). */
  GNU_SPARSE: 0x53,
  /** 'V': GNU volume label (skipped). */
  GNU_VOLUME: 0x56,
  /** 'D': GNU incremental dump directory (refused). */
  GNU_DUMPDIR: 0x44,
  /** 'M': GNU multi-volume continuation (refused). */
  GNU_MULTIVOLUME: 0x4d,
  /** 'N': old GNU long-name list (refused). */
  GNU_NAMES: 0x4e,
} as const;

/** The type flag written for each entry type. */
export const TYPE_FLAG_OF: Readonly<Record<TarEntryType, number>> = {
  file: TypeFlag.FILE,
  hardlink: TypeFlag.LINK,
  symlink: TypeFlag.SYMLINK,
  char: TypeFlag.CHAR,
  block: TypeFlag.BLOCK,
  dir: TypeFlag.DIR,
  fifo: TypeFlag.FIFO,
};

/** Largest value an octal field of `width` bytes holds (width-1 digits and a terminator). */
export function maxOctal(width: number): number {
  return 8 ** (width - 1) - 1;
}

/** Byte offsets and widths of the header fields. */
const F = {
  name: 0,
  nameLen: 100,
  mode: 100,
  uid: 108,
  gid: 116,
  size: 124,
  mtime: 136,
  chksum: 148,
  typeflag: 156,
  linkname: 157,
  magic: 257,
  version: 263,
  uname: 265,
  gname: 297,
  ownerLen: 32,
  devmajor: 329,
  devminor: 337,
  prefix: 345,
  prefixLen: 155,
  starPrefixLen: 131,
  starTrailer: 508,
} as const;

/** Index of the first NUL in `buf[start, start+max)`, or `start+max`. */
export function cstringEnd(buf: Uint8Array, start: number, max: number): number {
  const limit = start + max;
  let i = start;
  while (i < limit && buf[i] !== 0) i++;
  return i;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/**
 * Decodes `buf[start, end)` as UTF-8; bytes that are not valid UTF-8 become U+DC80..U+DCFF.
 *
 * @example
 * ```ts
 * import { decodeTarString } from "./header.ts";
 * decodeTarString(new TextEncoder().encode("héllo"), 0, 6); // "héllo"
 * ```
 */
export function decodeTarString(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n === 0) return "";
  if (n <= 1024) {
    // Short ASCII strings dominate real archives; building them from a reused array of char codes
    // is faster than a TextDecoder call or a subarray per string.
    scratch.length = n;
    for (let i = 0; i < n; i++) {
      const c = buf[start + i];
      if (c >= 0x80) return decodeUtf8(buf, start, end);
      scratch[i] = c;
    }
    return String.fromCharCode.apply(null, scratch);
  }
  return decodeUtf8(buf, start, end);
}

const scratch: number[] = [];

function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  try {
    return utf8.decode(buf.subarray(start, end));
  } catch {
    return decodeEscaped(buf, start, end);
  }
}

/** The slow path of decodeTarString: validates each sequence and escapes the bytes that fail. */
function decodeEscaped(buf: Uint8Array, start: number, end: number): string {
  const units: number[] = [];
  let i = start;
  while (i < end) {
    const b = buf[i];
    if (b < 0x80) {
      units.push(b);
      i++;
      continue;
    }
    let need = 0;
    let cp = 0;
    let min = 0;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      cp = b & 0x1f;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      cp = b & 0x0f;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      cp = b & 0x07;
      min = 0x10000;
    }
    let ok = need > 0 && i + need < end;
    for (let k = 1; ok && k <= need; k++) {
      const c = buf[i + k];
      if ((c & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    if (ok && cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff)) {
      if (cp >= 0x10000) {
        cp -= 0x10000;
        units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      } else {
        units.push(cp);
      }
      i += need + 1;
    } else {
      units.push(0xdc00 + b);
      i++;
    }
  }
  let s = "";
  for (let k = 0; k < units.length; k += 8192) {
    s += String.fromCharCode.apply(null, units.slice(k, k + 8192));
  }
  return s;
}

/**
 * Encodes a name for a tar header or PAX record: UTF-8, except that U+DC80..U+DCFF (bytes that
 * {@linkcode decodeTarString} could not decode) turn back into the original bytes.
 *
 * @example
 * ```ts
 * import { encodeTarString } from "./header.ts";
 * encodeTarString("caf\udce9"); // Uint8Array [0x63, 0x61, 0x66, 0xe9]
 * ```
 */
export function encodeTarString(s: string): Uint8Array {
  const n = s.length;
  let i = 0;
  while (i < n && s.charCodeAt(i) < 0x80) i++;
  if (i === n) {
    const out = new Uint8Array(n);
    for (let k = 0; k < n; k++) out[k] = s.charCodeAt(k);
    return out;
  }
  if (s.isWellFormed()) return utf8Encoder.encode(s);
  const bytes: number[] = [];
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c >= 0xdc80 && c <= 0xdcff) {
      bytes.push(c - 0xdc00);
    } else if (c >= 0xd800 && c <= 0xdbff && k + 1 < n) {
      const d = s.charCodeAt(k + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes.push(...utf8Encoder.encode(s.slice(k, k + 2)));
        k++;
      } else {
        bytes.push(0xef, 0xbf, 0xbd);
      }
    } else {
      // Other lone surrogates have no byte form; U+FFFD is what TextEncoder would write too.
      bytes.push(...utf8Encoder.encode(String.fromCharCode(c)));
    }
  }
  return new Uint8Array(bytes);
}

/**
 * Decodes a numeric header field: octal (leading spaces or NULs allowed, ended by a space, a NUL or
 * the field's end) or GNU base-256 (first byte 0x80 positive, 0xff negative, two's complement).
 * An empty field is 0. `at` is the header's offset in the archive, for the error message.
 *
 * @example
 * ```ts
 * import { decodeNumeric } from "./header.ts";
 * decodeNumeric(new TextEncoder().encode("0000644\0"), 0, 8, 0, "mode"); // 420
 * ```
 */
export function decodeNumeric(
  buf: Uint8Array,
  off: number,
  len: number,
  at: number,
  field: string,
): number {
  const end = off + len;
  const b0 = buf[off];
  if (b0 & 0x80) {
    const inv = b0 & 0x40 ? 0xff : 0;
    let v = (b0 ^ inv) & 0x7f;
    for (let i = off + 1; i < end; i++) {
      v = v * 256 + (buf[i] ^ inv);
      if (v > Number.MAX_SAFE_INTEGER) {
        throw new TarFormatError(`${field} field out of range`, at);
      }
    }
    return inv ? -v - 1 : v;
  }
  let i = off;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) i++;
  let v = 0;
  while (i < end) {
    const c = buf[i];
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
    i++;
  }
  // What follows the digits up to the first NUL may only be spaces; after a NUL anything goes.
  while (i < end) {
    const c = buf[i];
    if (c === 0) break;
    if (c !== 0x20) throw new TarFormatError(`invalid number in ${field} field`, at);
    i++;
  }
  return v;
}

/** Sum of a block's 512 bytes; a word at a time when aligned, which is most of the parse time. */
function sumBlock(block: Uint8Array, off: number): number {
  const start = block.byteOffset + off;
  if ((start & 3) !== 0) {
    let total = 0;
    for (let i = off, end = off + BLOCK_SIZE; i < end; i++) total += block[i];
    return total;
  }
  const words = new Uint32Array(block.buffer, start, BLOCK_SIZE / 4);
  // Two 16-bit lanes of byte-pair sums: 128 words * 2 * 255 cannot overflow a lane.
  let acc = 0;
  for (let i = 0; i < BLOCK_SIZE / 4; i++) {
    const w = words[i];
    acc += (w & 0x00ff00ff) + ((w >>> 8) & 0x00ff00ff);
  }
  return (acc & 0xffff) + (acc >>> 16);
}

/**
 * Checks a header block's checksum. Returns false for an all-zero block (end-of-archive marker),
 * true for a valid header, and throws {@linkcode TarFormatError} otherwise. Accepts the unsigned
 * sum (POSIX) and the signed one some historic tars wrote.
 */
export function checkHeaderBlock(block: Uint8Array, off: number, at: number): boolean {
  const total = sumBlock(block, off);
  if (total === 0) return false;
  const c = off + F.chksum;
  let field = 0;
  for (let i = c; i < c + 8; i++) field += block[i];
  const unsigned = total - field + 8 * 0x20;
  let stored: number;
  try {
    stored = decodeNumeric(block, c, 8, at, "checksum");
  } catch {
    throw new TarFormatError("invalid header checksum field", at);
  }
  if (stored === unsigned) return true;
  let signed = 8 * 0x20;
  for (let i = off, end = off + BLOCK_SIZE; i < end; i++) {
    if (i >= c && i < c + 8) continue;
    const b = block[i];
    signed += b >= 0x80 ? b - 0x100 : b;
  }
  if (stored === signed) return true;
  throw new TarFormatError(
    `header checksum mismatch: stored ${stored}, computed ${unsigned}`,
    at,
  );
}

/** The size field of a header block, rejecting negative sizes. */
export function decodeSizeField(block: Uint8Array, off: number, at: number): number {
  const size = decodeNumeric(block, off + F.size, 12, at, "size");
  if (size < 0) throw new TarFormatError(`negative size ${size}`, at);
  return size;
}

/** Header layouts, told apart by the magic and (for star) the trailer. */
const Layout = { V7: 0, USTAR: 1, GNU: 2, STAR: 3 } as const;
type Layout = typeof Layout[keyof typeof Layout];

function layoutOf(b: Uint8Array, off: number): Layout {
  const m = off + F.magic;
  if (
    b[m] !== 0x75 || b[m + 1] !== 0x73 || b[m + 2] !== 0x74 || b[m + 3] !== 0x61 ||
    b[m + 4] !== 0x72
  ) return Layout.V7;
  if (b[m + 5] === 0x20 && b[m + 6] === 0x20 && b[m + 7] === 0) return Layout.GNU;
  if (b[m + 5] !== 0) return Layout.V7;
  const t = off + F.starTrailer;
  if (b[t] === 0x74 && b[t + 1] === 0x61 && b[t + 2] === 0x72 && b[t + 3] === 0) {
    return Layout.STAR;
  }
  return Layout.USTAR;
}

function stringField(b: Uint8Array, start: number, max: number): string {
  return decodeTarString(b, start, cstringEnd(b, start, max));
}

/** The last value decoded from an owner-name field, reused while the bytes repeat. */
interface OwnerCache {
  bytes: Uint8Array;
  length: number;
  value: string;
}

const unameCache: OwnerCache = { bytes: new Uint8Array(F.ownerLen), length: 0, value: "" };
const gnameCache: OwnerCache = { bytes: new Uint8Array(F.ownerLen), length: 0, value: "" };

/** Owner names repeat across nearly every entry of a layer ("root"): skip re-decoding them. */
function ownerField(b: Uint8Array, start: number, cache: OwnerCache): string {
  const end = cstringEnd(b, start, F.ownerLen);
  const n = end - start;
  if (n === cache.length) {
    let i = 0;
    while (i < n && b[start + i] === cache.bytes[i]) i++;
    if (i === n) return cache.value;
  }
  const value = decodeTarString(b, start, end);
  cache.bytes.set(b.subarray(start, end));
  cache.length = n;
  cache.value = value;
  return value;
}

/**
 * Decodes a checked entry header (types '0'..'7') into a {@linkcode TarEntry}. Fields the layout
 * lacks are left empty (v7 has no owner names, device numbers or prefix; GNU has no prefix).
 * `size` is 0 for hardlinks and directories: GNU tar ignores their size field, because writers
 * put the target's or directory's size there without any data following.
 */
export function decodeEntryHeader(
  block: Uint8Array,
  off: number,
  at: number,
  type: TarEntryType,
): TarEntry {
  const layout = layoutOf(block, off);
  let name = stringField(block, off + F.name, F.nameLen);
  let uname = "";
  let gname = "";
  let devmajor = 0;
  let devminor = 0;
  if (layout !== Layout.V7) {
    uname = ownerField(block, off + F.uname, unameCache);
    gname = ownerField(block, off + F.gname, gnameCache);
    if (type === "char" || type === "block") {
      devmajor = decodeNumeric(block, off + F.devmajor, 8, at, "devmajor");
      devminor = decodeNumeric(block, off + F.devminor, 8, at, "devminor");
    }
    if (layout === Layout.USTAR || layout === Layout.STAR) {
      const max = layout === Layout.USTAR ? F.prefixLen : F.starPrefixLen;
      const p = off + F.prefix;
      const pe = cstringEnd(block, p, max);
      if (pe > p) name = decodeTarString(block, p, pe) + "/" + name;
    }
  }
  return {
    name,
    type,
    mode: decodeNumeric(block, off + F.mode, 8, at, "mode") & 0o7777,
    uid: decodeNumeric(block, off + F.uid, 8, at, "uid"),
    gid: decodeNumeric(block, off + F.gid, 8, at, "gid"),
    uname,
    gname,
    size: type === "hardlink" || type === "dir" ? 0 : decodeSizeField(block, off, at),
    mtime: decodeNumeric(block, off + F.mtime, 12, at, "mtime"),
    mtimeNsec: 0,
    linkname: stringField(block, off + F.linkname, 100),
    devmajor,
    devminor,
    xattrs: new Map(),
  };
}

/** Raw field values for {@linkcode encodeUstarHeader}; strings already as bytes that fit. */
export interface UstarFields {
  /** Up to 100 bytes. */
  name: Uint8Array;
  /** Up to 155 bytes, joined to `name` with a "/" by readers. */
  prefix: Uint8Array;
  /** A {@linkcode TypeFlag} byte. */
  typeflag: number;
  /** Up to 0o7777777. */
  mode: number;
  /** Up to 0o7777777. */
  uid: number;
  /** Up to 0o7777777. */
  gid: number;
  /** Up to 0o77777777777. */
  size: number;
  /** Seconds since the epoch, 0..0o77777777777. */
  mtime: number;
  /** Up to 100 bytes. */
  linkname: Uint8Array;
  /** Up to 32 bytes. */
  uname: Uint8Array;
  /** Up to 32 bytes. */
  gname: Uint8Array;
  /** Up to 0o7777777. */
  devmajor: number;
  /** Up to 0o7777777. */
  devminor: number;
}

function putBytes(out: Uint8Array, off: number, bytes: Uint8Array, max: number, what: string) {
  if (bytes.length > max) throw new TarFormatError(`${what} longer than ${max} bytes`);
  out.set(bytes, off);
}

function putOctal(out: Uint8Array, off: number, width: number, value: number, what: string) {
  if (!Number.isSafeInteger(value) || value < 0 || value > maxOctal(width)) {
    throw new TarFormatError(`${what} ${value} does not fit a ${width}-byte octal field`);
  }
  // Zero-padded digits then a NUL, as GNU tar and Go write them.
  let v = value;
  for (let i = off + width - 2; i >= off; i--) {
    out[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  out[off + width - 1] = 0;
}

/**
 * Writes a ustar ("ustar\0" "00") header block into `out` at `off` (which must be zero-filled),
 * including its checksum. Throws {@linkcode TarFormatError} when a value does not fit its field;
 * deciding what goes to a PAX header instead is the writer's job.
 *
 * @example
 * ```ts
 * import { encodeUstarHeader, TypeFlag } from "./header.ts";
 * const block = new Uint8Array(512);
 * const none = new Uint8Array(0);
 * encodeUstarHeader(block, 0, {
 *   name: new TextEncoder().encode("hello.txt"), prefix: none, typeflag: TypeFlag.FILE,
 *   mode: 0o644, uid: 0, gid: 0, size: 5, mtime: 0, linkname: none, uname: none, gname: none,
 *   devmajor: 0, devminor: 0,
 * });
 * ```
 */
export function encodeUstarHeader(out: Uint8Array, off: number, h: UstarFields): void {
  putBytes(out, off + F.name, h.name, F.nameLen, "name");
  putOctal(out, off + F.mode, 8, h.mode, "mode");
  putOctal(out, off + F.uid, 8, h.uid, "uid");
  putOctal(out, off + F.gid, 8, h.gid, "gid");
  putOctal(out, off + F.size, 12, h.size, "size");
  putOctal(out, off + F.mtime, 12, h.mtime, "mtime");
  out[off + F.typeflag] = h.typeflag;
  putBytes(out, off + F.linkname, h.linkname, 100, "linkname");
  out.set([0x75, 0x73, 0x74, 0x61, 0x72, 0, 0x30, 0x30], off + F.magic); // "ustar\0" "00"
  putBytes(out, off + F.uname, h.uname, F.ownerLen, "uname");
  putBytes(out, off + F.gname, h.gname, F.ownerLen, "gname");
  putOctal(out, off + F.devmajor, 8, h.devmajor, "devmajor");
  putOctal(out, off + F.devminor, 8, h.devminor, "devminor");
  putBytes(out, off + F.prefix, h.prefix, F.prefixLen, "prefix");
  out.fill(0x20, off + F.chksum, off + F.chksum + 8);
  let sum = 0;
  for (let i = off, end = off + BLOCK_SIZE; i < end; i++) sum += out[i];
  // Six digits, NUL, space: the historic layout every reader accepts.
  putOctal(out, off + F.chksum, 7, sum, "checksum");
  out[off + F.chksum + 7] = 0x20;
}
