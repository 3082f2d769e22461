/**
 * Byte ranges of the protocol: a blob GET's `Range` (RFC 9110 section 14), an upload chunk's
 * `Content-Range` (spec.md: `^[0-9]+-[0-9]+$`, inclusive), and the `Range: 0-N` upload status.
 *
 * @example
 * ```ts
 * import { parseRangeHeader, parseUploadContentRange } from "./range.ts";
 * parseRangeHeader("bytes=100-", 1000); // { kind: "range", start: 100, end: 999 }
 * parseUploadContentRange("0-1023"); // { start: 0, end: 1023 }
 * ```
 * @module
 */

/** What a `Range` request header asks of a representation `size` bytes long. */
export type RangeRequest =
  /** No usable range (absent, not bytes, several ranges): send the whole thing. */
  | { kind: "whole" }
  /** One satisfiable range, inclusive. */
  | { kind: "range"; start: number; end: number }
  /** A range past the end: 416 with `Content-Range: bytes *\/size`. */
  | { kind: "unsatisfiable" };

/**
 * Reads a `Range` header for a representation of `size` bytes. Only single byte ranges are
 * served; anything else (multiple ranges, other units, bad syntax) is ignored, as RFC 9110
 * allows, and the whole representation is sent.
 *
 * @example
 * ```ts
 * parseRangeHeader("bytes=0-9", 100); // { kind: "range", start: 0, end: 9 }
 * parseRangeHeader("bytes=-10", 100); // { kind: "range", start: 90, end: 99 }
 * parseRangeHeader("bytes=200-", 100); // { kind: "unsatisfiable" }
 * ```
 */
export function parseRangeHeader(header: string | null | undefined, size: number): RangeRequest {
  if (!header) return { kind: "whole" };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === "" && m[2] === "")) return { kind: "whole" };
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "range", start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || (m[2] !== "" && Number(m[2]) < start)) {
    return { kind: "whole" };
  }
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "range", start, end };
}

/**
 * The `Content-Range` of a 206 response.
 *
 * @example
 * ```ts
 * contentRange(0, 9, 100); // "bytes 0-9/100"
 * ```
 */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/**
 * Reads an upload chunk's `Content-Range`: the spec's `START-END` (inclusive), also accepted
 * with a `bytes ` or `bytes=` prefix and a `/TOTAL` suffix, as some clients send them.
 * Undefined when it is none of these or END < START.
 *
 * @example
 * ```ts
 * parseUploadContentRange("bytes 10-19/*"); // { start: 10, end: 19 }
 * parseUploadContentRange("10-5"); // undefined
 * ```
 */
export function parseUploadContentRange(
  header: string,
): { start: number; end: number } | undefined {
  const m = /^\s*(?:bytes[ =])?\s*(\d+)-(\d+)(?:\/(?:\d+|\*))?\s*$/i.exec(header);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  return { start, end };
}

/**
 * The `Range` header of an upload's status: `0-<last byte>`. Like distribution, an empty
 * upload reports `0-0` (clients read the offset from the first 202 after a write).
 *
 * @example
 * ```ts
 * uploadRange(1024); // "0-1023"
 * uploadRange(0); // "0-0"
 * ```
 */
export function uploadRange(size: number): string {
  return `0-${size > 0 ? size - 1 : 0}`;
}
