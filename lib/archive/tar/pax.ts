/**
 * PAX extended headers (POSIX.1-2001 `pax` format): parsing the "%d %s=%s\n" records of 'x' and
 * 'g' headers into {@linkcode PaxAttributes}, applying them to a {@linkcode TarEntry}, and encoding
 * records for the writer. Record lengths count bytes; values are bytes too (binary for xattrs).
 *
 * @example
 * ```ts
 * import { applyPax, encodePaxRecords, type PaxAttributes, parsePax } from "./pax.ts";
 * import { makeEntry } from "./entry.ts";
 * const data = encodePaxRecords([["path", new TextEncoder().encode("a/very/long/name")]]);
 * const attrs: PaxAttributes = {};
 * parsePax(data, 0, data.length, 0, attrs, false);
 * const entry = makeEntry({ name: "short", type: "file" });
 * applyPax(entry, attrs, null);
 * console.log(entry.name); // "a/very/long/name"
 * ```
 * @module
 */

import { TarFormatError } from "../../errors.ts";
import type { TarEntry } from "./entry.ts";
import { decodeTarString } from "./header.ts";
import { concatBytes } from "../../io/bytes.ts";

/**
 * What one or more PAX headers say about an entry. `undefined`: not mentioned; `null`: the record
 * was present with an empty value, which POSIX defines as "remove": the header's own field applies
 * even over a global value.
 */
export interface PaxAttributes {
  /** `path`: the entry's name. */
  path?: string | null;
  /** `linkpath`: a link's target. */
  linkpath?: string | null;
  /** `size`: data bytes following the header. */
  size?: number | null;
  /** `uid`. */
  uid?: number | null;
  /** `gid`. */
  gid?: number | null;
  /** `uname`. */
  uname?: string | null;
  /** `gname`. */
  gname?: string | null;
  /** Whole seconds of `mtime` (floored, so may be negative); `mtimeNsec` is set with it. */
  mtime?: number | null;
  /** The fraction of `mtime` in nanoseconds, 0..999999999. */
  mtimeNsec?: number;
  /** From `SCHILY.xattr.*` and `LIBARCHIVE.xattr.*`; values are copies, safe to keep. */
  xattrs?: Map<string, Uint8Array>;
}

const SCHILY_XATTR = "SCHILY.xattr.";
const LIBARCHIVE_XATTR = "LIBARCHIVE.xattr.";
const GNU_SPARSE = "GNU.sparse.";

/**
 * Parses the records in `buf[start, end)` into `into`, later records overriding earlier ones.
 * `at` is the archive offset of the PAX header, for errors. With `global`, empty values delete the
 * attribute from `into` instead of recording a removal. Trailing NUL padding is accepted.
 * Throws {@linkcode TarFormatError} for malformed records, bad numbers and GNU sparse records.
 */
export function parsePax(
  buf: Uint8Array,
  start: number,
  end: number,
  at: number,
  into: PaxAttributes,
  global: boolean,
): void {
  let p = start;
  while (p < end && buf[p] !== 0) {
    let len = 0;
    let i = p;
    while (i < end && buf[i] >= 0x30 && buf[i] <= 0x39 && i - p < 16) {
      len = len * 10 + (buf[i] - 0x30);
      i++;
    }
    // The shortest meaningful record is "5 k=\n": anything below would loop or overlap.
    if (i === p || buf[i] !== 0x20 || len < 5 || len > end - p) {
      throw new TarFormatError("invalid PAX record length", at);
    }
    const recEnd = p + len;
    if (buf[recEnd - 1] !== 0x0a) throw new TarFormatError("PAX record not ended by newline", at);
    const keyStart = i + 1;
    let eq = keyStart;
    while (eq < recEnd - 1 && buf[eq] !== 0x3d) eq++;
    if (eq === keyStart || eq >= recEnd - 1) {
      throw new TarFormatError("PAX record without keyword=value", at);
    }
    applyRecord(decodeTarString(buf, keyStart, eq), buf, eq + 1, recEnd - 1, at, into, global);
    p = recEnd;
  }
}

function applyRecord(
  key: string,
  buf: Uint8Array,
  vs: number,
  ve: number,
  at: number,
  into: PaxAttributes,
  global: boolean,
): void {
  const empty = vs === ve;
  switch (key) {
    case "path":
    case "linkpath":
    case "uname":
    case "gname":
      if (empty) setRemoved(into, key, global);
      else into[key] = decodeTarString(buf, vs, ve);
      return;
    case "size":
    case "uid":
    case "gid":
      if (empty) setRemoved(into, key, global);
      else into[key] = parseDecimal(buf, vs, ve, at, key);
      return;
    case "mtime":
      if (empty) {
        setRemoved(into, key, global);
        delete into.mtimeNsec;
      } else {
        parseTime(buf, vs, ve, at, into);
      }
      return;
  }
  if (key.startsWith(SCHILY_XATTR)) {
    // Empty is a legitimate xattr value (GNU tar writes it so), not a removal.
    (into.xattrs ??= new Map()).set(key.slice(SCHILY_XATTR.length), buf.slice(vs, ve));
  } else if (key.startsWith(LIBARCHIVE_XATTR)) {
    const name = percentDecode(key.slice(LIBARCHIVE_XATTR.length), at);
    (into.xattrs ??= new Map()).set(name, base64Decode(buf, vs, ve, at));
  } else if (key.startsWith(GNU_SPARSE)) {
    throw new TarFormatError("sparse files are not supported", at);
  }
  // Everything else (atime, ctime, comment, charset, hdrcharset, vendor records) has no place in
  // a TarEntry. hdrcharset=BINARY needs no action: every value is decoded with the byte fallback.
}

type Removable = "path" | "linkpath" | "uname" | "gname" | "size" | "uid" | "gid" | "mtime";

function setRemoved(into: PaxAttributes, key: Removable, global: boolean): void {
  if (global) delete into[key];
  else into[key] = null;
}

function parseDecimal(buf: Uint8Array, s: number, e: number, at: number, key: string): number {
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i];
    if (c < 0x30 || c > 0x39) throw new TarFormatError(`invalid PAX ${key} value`, at);
    v = v * 10 + (c - 0x30);
  }
  if (!Number.isSafeInteger(v)) throw new TarFormatError(`PAX ${key} value out of range`, at);
  return v;
}

/** "[-]seconds[.fraction]" into mtime + mtimeNsec, flooring so that nsec is never negative. */
function parseTime(buf: Uint8Array, s: number, e: number, at: number, into: PaxAttributes): void {
  const neg = buf[s] === 0x2d;
  let i = neg ? s + 1 : s;
  let dot = i;
  while (dot < e && buf[dot] !== 0x2e) dot++;
  if (dot === i) throw new TarFormatError("invalid PAX mtime value", at);
  const sec = parseDecimal(buf, i, dot, at, "mtime");
  let nsec = 0;
  if (dot < e) {
    if (dot + 1 === e) throw new TarFormatError("invalid PAX mtime value", at);
    let digits = 0;
    for (i = dot + 1; i < e; i++) {
      const c = buf[i];
      if (c < 0x30 || c > 0x39) throw new TarFormatError("invalid PAX mtime value", at);
      // Digits past nanoseconds are dropped, as Go and GNU tar do.
      if (digits < 9) nsec = nsec * 10 + (c - 0x30);
      digits++;
    }
    for (; digits < 9; digits++) nsec *= 10;
  }
  if (!neg) {
    into.mtime = sec;
    into.mtimeNsec = nsec;
  } else if (nsec === 0) {
    into.mtime = 0 - sec;
    into.mtimeNsec = 0;
  } else {
    into.mtime = -sec - 1;
    into.mtimeNsec = 1e9 - nsec;
  }
}

function percentDecode(s: string, at: number): string {
  if (!s.includes("%")) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x25) {
      if (c >= 0x80) throw new TarFormatError("invalid LIBARCHIVE.xattr name", at);
      bytes.push(c);
      continue;
    }
    const v = parseInt(s.slice(i + 1, i + 3), 16);
    if (!/^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      throw new TarFormatError("invalid LIBARCHIVE.xattr name", at);
    }
    bytes.push(v);
    i += 2;
  }
  const u = new Uint8Array(bytes);
  return decodeTarString(u, 0, u.length);
}

function base64Decode(buf: Uint8Array, s: number, e: number, at: number): Uint8Array {
  let bin: string;
  try {
    bin = atob(String.fromCharCode.apply(null, buf.subarray(s, e) as unknown as number[]));
  } catch {
    throw new TarFormatError("invalid base64 in LIBARCHIVE.xattr value", at);
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Applies PAX attributes to an entry decoded from its ustar header: a local attribute wins over a
 * global one; a local removal (`null`) restores the header's own field.
 */
export function applyPax(
  entry: TarEntry,
  local: PaxAttributes | null,
  global: PaxAttributes | null,
): void {
  const pick = <K extends Removable>(k: K): PaxAttributes[K] => {
    const v = local?.[k];
    return v === undefined ? global?.[k] : v;
  };
  const path = pick("path");
  if (path != null) entry.name = path;
  const linkpath = pick("linkpath");
  if (linkpath != null) entry.linkname = linkpath;
  const size = pick("size");
  if (size != null) entry.size = size;
  const uid = pick("uid");
  if (uid != null) entry.uid = uid;
  const gid = pick("gid");
  if (gid != null) entry.gid = gid;
  const uname = pick("uname");
  if (uname != null) entry.uname = uname;
  const gname = pick("gname");
  if (gname != null) entry.gname = gname;
  const mtimeFrom = local?.mtime !== undefined ? local : global;
  if (mtimeFrom?.mtime != null) {
    entry.mtime = mtimeFrom.mtime;
    entry.mtimeNsec = mtimeFrom.mtimeNsec ?? 0;
  }
  if (global?.xattrs) { for (const [k, v] of global.xattrs) entry.xattrs.set(k, v); }
  if (local?.xattrs) { for (const [k, v] of local.xattrs) entry.xattrs.set(k, v); }
}

/**
 * Formats a PAX time value: "sec" or "sec.fraction" with trailing zeros trimmed; negative times
 * with a fraction are written as the signed decimal they are (-2 s + 0.5 s is "-1.5").
 *
 * @example
 * ```ts
 * import { formatPaxTime } from "./pax.ts";
 * formatPaxTime(1700000000, 500000000); // "1700000000.5"
 * formatPaxTime(-2, 500000000); // "-1.5"
 * ```
 */
export function formatPaxTime(sec: number, nsec: number): string {
  if (nsec === 0) return String(sec);
  let sign = "";
  let whole = sec;
  let frac = nsec;
  if (sec < 0) {
    sign = "-";
    whole = -(sec + 1);
    frac = 1e9 - nsec;
  }
  return `${sign}${whole}.${String(frac).padStart(9, "0").replace(/0+$/, "")}`;
}

const encoder = new TextEncoder();

/**
 * Encodes PAX records ("%d %s=%s\n", the length counting its own digits) in the given order.
 *
 * @example
 * ```ts
 * import { encodePaxRecords } from "./pax.ts";
 * new TextDecoder().decode(encodePaxRecords([["uid", new TextEncoder().encode("3000000")]]));
 * // "15 uid=3000000\n"
 * ```
 */
export function encodePaxRecords(
  records: ReadonlyArray<readonly [string, Uint8Array]>,
): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [key, value] of records) {
    const k = encoder.encode(key);
    const base = k.length + value.length + 3; // space, '=', newline
    let len = base + String(base).length;
    if (String(len).length !== String(base).length) len = base + String(len).length;
    const rec = new Uint8Array(len);
    const head = encoder.encode(`${len} `);
    rec.set(head, 0);
    rec.set(k, head.length);
    rec[head.length + k.length] = 0x3d;
    rec.set(value, head.length + k.length + 1);
    rec[len - 1] = 0x0a;
    parts.push(rec);
  }
  return concatBytes(parts);
}
