/**
 * Encoding of tar entries: a ustar header, preceded by a PAX 'x' header when a field does not fit
 * ustar (long or non-ASCII names, large ids, sizes and times, sub-second mtimes, xattrs). Output
 * is a pure function of the entry, so equal entries give equal bytes.
 *
 * Names that are not valid UTF-8 (U+DC80..U+DCFF escapes from the reader) go into PAX records as
 * their raw bytes, as GNU tar writes them, without `hdrcharset=BINARY` (which GNU tar 1.34 warns
 * about); GNU tar, Python and Go all read those bytes back unchanged.
 *
 * @example
 * ```ts
 * import { encodeEntryHeader, END_OF_ARCHIVE, paddingFor } from "./writer.ts";
 * import { makeEntry } from "./entry.ts";
 * const body = new TextEncoder().encode("hello\n");
 * const tar = [
 *   encodeEntryHeader(makeEntry({ name: "hello.txt", type: "file", size: body.length })),
 *   body,
 *   paddingFor(body.length),
 *   END_OF_ARCHIVE,
 * ];
 * ```
 * @module
 */

import { TarFormatError } from "../../errors.ts";
import type { TarEntry } from "./entry.ts";
import {
  BLOCK_SIZE,
  encodeTarString,
  encodeUstarHeader,
  maxOctal,
  TYPE_FLAG_OF,
  TypeFlag,
} from "./header.ts";
import { encodePaxRecords, formatPaxTime } from "./pax.ts";

/** Two zero blocks: the end-of-archive marker. Do not modify; it is shared. */
export const END_OF_ARCHIVE: Uint8Array = new Uint8Array(2 * BLOCK_SIZE);

/** The GNU tar and Go default record size that archives are often padded to. */
export const RECORD_SIZE = 10240;

/**
 * The end-of-archive marker for an archive of `written` bytes so far, padded so that the archive
 * ends on a multiple of `recordSize` (512: no padding; {@linkcode RECORD_SIZE}: like GNU tar).
 *
 * @example
 * ```ts
 * import { endOfArchive, RECORD_SIZE } from "./writer.ts";
 * endOfArchive(1536, RECORD_SIZE).length; // 8704: the archive ends at 10240
 * ```
 */
export function endOfArchive(written: number, recordSize: number = BLOCK_SIZE): Uint8Array {
  if (recordSize <= 0 || recordSize % BLOCK_SIZE !== 0) {
    throw new RangeError(`record size ${recordSize} is not a positive multiple of 512`);
  }
  const end = written + 2 * BLOCK_SIZE;
  return new Uint8Array(2 * BLOCK_SIZE + (recordSize - (end % recordSize)) % recordSize);
}

/**
 * Zero bytes that pad `size` bytes of entry data to a whole block (a fresh buffer, possibly
 * empty).
 */
export function paddingFor(size: number): Uint8Array {
  return new Uint8Array((BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE);
}

const MAX_ID = maxOctal(8);
const MAX_SIZE = maxOctal(12);
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

function isAscii(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] >= 0x80) return false;
  return true;
}

/** A stand-in for readers that ignore PAX: non-ASCII bytes become '?', cut to `max` bytes. */
function asciiFallback(b: Uint8Array, max: number): Uint8Array {
  const out = b.slice(0, max);
  for (let i = 0; i < out.length; i++) if (out[i] >= 0x80) out[i] = 0x3f;
  return out;
}

/** Splits an ASCII path into ustar prefix (<=155) and name (<=100, non-empty) at a "/". */
function splitUstar(b: Uint8Array): [Uint8Array, Uint8Array] | null {
  const n = b.length;
  for (let i = Math.max(1, n - 101); i <= Math.min(155, n - 2); i++) {
    if (b[i] === 0x2f) return [b.subarray(0, i), b.subarray(i + 1)];
  }
  return null;
}

function checkInt(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TarFormatError(`${what} ${value} is not a non-negative integer`);
  }
}

/**
 * Encodes the header block(s) for `entry`: a ustar header, preceded by a PAX header and its
 * records when needed. The caller writes `entry.size` data bytes and {@linkcode paddingFor} after
 * it. Directory names get a trailing "/". Throws {@linkcode TarFormatError} for values no tar
 * format holds (negative ids, data on a non-file, device numbers over 2097151).
 *
 * @example
 * ```ts
 * import { encodeEntryHeader } from "./writer.ts";
 * import { makeEntry } from "./entry.ts";
 * const header = encodeEntryHeader(makeEntry({ name: "x".repeat(300), type: "file" }));
 * header.length; // 1536: PAX header, its records, the ustar header
 * ```
 */
export function encodeEntryHeader(entry: TarEntry): Uint8Array {
  const { type } = entry;
  checkInt(entry.size, "size");
  checkInt(entry.uid, "uid");
  checkInt(entry.gid, "gid");
  checkInt(entry.devmajor, "devmajor");
  checkInt(entry.devminor, "devminor");
  if (!Number.isSafeInteger(entry.mtime)) throw new TarFormatError(`mtime ${entry.mtime} invalid`);
  const nsec = entry.mtimeNsec;
  if (!Number.isInteger(nsec) || nsec < 0 || nsec > 999_999_999) {
    throw new TarFormatError(`mtimeNsec ${nsec} is not in 0..999999999`);
  }
  if (type !== "file" && entry.size !== 0) {
    throw new TarFormatError(`${type} entry ${JSON.stringify(entry.name)} cannot carry data`);
  }
  if (entry.devmajor > MAX_ID || entry.devminor > MAX_ID) {
    throw new TarFormatError(`device ${entry.devmajor}:${entry.devminor} too large for tar`);
  }

  const records: [string, Uint8Array][] = [];
  const text = (key: string, s: string, fits: (b: Uint8Array) => boolean, max: number) => {
    const b = encodeTarString(s);
    if (isAscii(b) && fits(b)) return b;
    records.push([key, b]);
    return asciiFallback(b, max);
  };

  const name = type === "dir" && !entry.name.endsWith("/") ? entry.name + "/" : entry.name;
  const nameBytes = encodeTarString(name);
  let hName: Uint8Array = nameBytes;
  let hPrefix: Uint8Array = EMPTY;
  if (!isAscii(nameBytes) || nameBytes.length > 100) {
    const split = isAscii(nameBytes) ? splitUstar(nameBytes) : null;
    if (split) [hPrefix, hName] = split;
    else hName = text("path", name, () => false, 100);
  }
  const linkname = text("linkpath", entry.linkname, (b) => b.length <= 100, 100);
  const uname = text("uname", entry.uname, (b) => b.length <= 32, 32);
  const gname = text("gname", entry.gname, (b) => b.length <= 32, 32);
  const num = (key: string, v: number, max: number) => {
    if (v <= max) return v;
    records.push([key, encoder.encode(String(v))]);
    return 0;
  };
  const size = num("size", entry.size, MAX_SIZE);
  const uid = num("uid", entry.uid, MAX_ID);
  const gid = num("gid", entry.gid, MAX_ID);
  const mtimeFits = entry.mtime >= 0 && entry.mtime <= MAX_SIZE;
  if (!mtimeFits || nsec !== 0) {
    records.push(["mtime", encoder.encode(formatPaxTime(entry.mtime, nsec))]);
  }
  const mtime = mtimeFits ? entry.mtime : 0;
  const xattrNames = [...entry.xattrs.keys()].sort();
  for (const k of xattrNames) records.push([`SCHILY.xattr.${k}`, entry.xattrs.get(k)!]);

  const fields = {
    name: hName,
    prefix: hPrefix,
    typeflag: TYPE_FLAG_OF[type],
    mode: entry.mode & 0o7777,
    uid,
    gid,
    size,
    mtime,
    linkname,
    uname,
    gname,
    devmajor: entry.devmajor,
    devminor: entry.devminor,
  };
  if (records.length === 0) {
    const out = new Uint8Array(BLOCK_SIZE);
    encodeUstarHeader(out, 0, fields);
    return out;
  }
  const pax = encodePaxRecords(records);
  const paxBlocks = Math.ceil(pax.length / BLOCK_SIZE) * BLOCK_SIZE;
  const out = new Uint8Array(BLOCK_SIZE + paxBlocks + BLOCK_SIZE);
  encodeUstarHeader(out, 0, {
    name: paxHeaderName(nameBytes),
    prefix: EMPTY,
    typeflag: TypeFlag.PAX_LOCAL,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: pax.length,
    mtime,
    linkname: EMPTY,
    uname: EMPTY,
    gname: EMPTY,
    devmajor: 0,
    devminor: 0,
  });
  out.set(pax, BLOCK_SIZE);
  encodeUstarHeader(out, BLOCK_SIZE + paxBlocks, fields);
  return out;
}

/** "PaxHeaders.0/<basename>" as Go writes it, ASCII and cut to the 100-byte name field. */
function paxHeaderName(path: Uint8Array): Uint8Array {
  let end = path.length;
  while (end > 0 && path[end - 1] === 0x2f) end--;
  let start = end;
  while (start > 0 && path[start - 1] !== 0x2f) start--;
  const prefix = encoder.encode("PaxHeaders.0/");
  const out = new Uint8Array(Math.min(100, prefix.length + end - start));
  out.set(prefix, 0);
  out.set(asciiFallback(path.subarray(start, end), out.length - prefix.length), prefix.length);
  return out;
}
