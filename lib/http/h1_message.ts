/**
 * HTTP/1.1 message framing for the registry client's own transport (RFC 9112), as pure
 * functions over bytes: the request head, the response head, how a response body ends, and a
 * chunked-body decoder that hands out views of its input (no copies).
 *
 * @example
 * ```ts
 * import { ChunkedDecoder, parseResponseHead } from "./h1_message.ts";
 * const enc = new TextEncoder();
 * const head = parseResponseHead(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"));
 * head?.status; // 200, head.length is where the body starts
 * const d = new ChunkedDecoder();
 * const out = d.push(enc.encode("2\r\nhi\r\n0\r\n\r\n"));
 * out.data.length; // 1 piece ("hi"), out.done true
 * ```
 * @module
 */

import { quote } from "../report/safe_text.ts";

/** A response head that breaks the grammar (the connection cannot be trusted after it). */
export class HttpFramingError extends Error {
  override name = "HttpFramingError";
}

/** The longest response head or trailer section accepted. */
export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 4096;

/** A parsed response head. */
export interface ResponseHead {
  status: number;
  headers: Headers;
  /** Bytes of the head including the blank line: the body starts there. */
  length: number;
  /** `Connection: close`, or an HTTP/1.0 answer without keep-alive. */
  close: boolean;
}

/** How a response body is delimited. */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" };

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/** Index of the first `\r\n\r\n` in `bytes`, or -1. */
function findBlankLine(bytes: Uint8Array): number {
  // indexOf is native; a byte loop runs interpreted in a short-lived process.
  for (let i = bytes.indexOf(13); i >= 0 && i + 3 < bytes.length; i = bytes.indexOf(13, i + 1)) {
    if (bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

/**
 * Builds a request head. `path` is the request target (path and query); header names go out
 * as Headers keeps them (lower case, which HTTP/1.1 treats alike).
 */
export function encodeRequestHead(
  method: string,
  path: string,
  host: string,
  headers: Headers,
): Uint8Array {
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [name, value] of headers) {
    if (name === "host") continue;
    head += `${name}: ${value}\r\n`;
  }
  return new TextEncoder().encode(head + "\r\n");
}

/**
 * Parses the head at the start of `bytes`: null while it is incomplete.
 *
 * @throws {HttpFramingError} for a malformed head or one longer than {@linkcode MAX_HEAD_BYTES}.
 */
export function parseResponseHead(bytes: Uint8Array): ResponseHead | null {
  const end = findBlankLine(bytes.subarray(0, MAX_HEAD_BYTES + 4));
  if (end < 0) {
    if (bytes.length > MAX_HEAD_BYTES) {
      throw new HttpFramingError(`response head longer than ${MAX_HEAD_BYTES} bytes`);
    }
    return null;
  }
  const lines = latin1(bytes.subarray(0, end)).split("\r\n");
  const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]);
  if (!m) {
    throw new HttpFramingError(`not an HTTP/1.x status line: ${quote(lines[0])}`);
  }
  const headers = new Headers();
  let last = "";
  for (const line of lines.slice(1)) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      // obs-fold (RFC 9112 5.2): a continuation of the previous field value.
      if (!last) throw new HttpFramingError("header continuation before any header");
      const prev = headers.get(last) ?? "";
      headers.set(last, `${prev} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpFramingError(`malformed header line ${quote(line)}`);
    last = line.slice(0, colon).trim();
    try {
      headers.append(last, line.slice(colon + 1).trim());
    } catch {
      // A name or value Headers refuses (bad bytes) is not one the client reads.
      last = "";
    }
  }
  const tokens = (headers.get("connection") ?? "").toLowerCase().split(",").map((t) => t.trim());
  const close = tokens.includes("close") || (m[1] === "0" && !tokens.includes("keep-alive"));
  return { status: Number(m[2]), headers, length: end + 4, close };
}

/**
 * How the body of a response to `method` with `head` ends (RFC 9112 section 6.3).
 *
 * @throws {HttpFramingError} for an invalid or conflicting Content-Length.
 */
export function bodyFraming(method: string, head: ResponseHead): BodyFraming {
  const { status, headers } = head;
  if (method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    return { kind: "none" };
  }
  const te = headers.get("transfer-encoding");
  if (te) {
    const codings = te.toLowerCase().split(",").map((t) => t.trim());
    if (codings[codings.length - 1] === "chunked") return { kind: "chunked" };
    return { kind: "close" };
  }
  const cl = headers.get("content-length");
  if (cl !== null) {
    // Repeated fields arrive joined by ", "; they must agree.
    const values = new Set(cl.split(",").map((v) => v.trim()));
    const [only] = values;
    if (values.size !== 1 || !/^\d{1,15}$/.test(only)) {
      throw new HttpFramingError(`invalid Content-Length ${quote(cl)}`);
    }
    return { kind: "length", length: Number(only) };
  }
  return { kind: "close" };
}

/** What one {@linkcode ChunkedDecoder.push} produced. */
export interface ChunkedOutput {
  /** Body bytes, as views of the pushed input. */
  data: Uint8Array[];
  /** The last chunk and the trailers have been read. */
  done: boolean;
  /** Input after the end of the body (only when done). */
  rest: Uint8Array;
}

type ChunkState = "size" | "data" | "data-end" | "trailer" | "done";

/**
 * Decodes a `Transfer-Encoding: chunked` body fed in arbitrary pieces. Chunk extensions and
 * trailers are read and dropped.
 */
export class ChunkedDecoder {
  #state: ChunkState = "size";
  #line = "";
  #remaining = 0;
  #trailerBytes = 0;

  /** Whether the whole body has been decoded. */
  get done(): boolean {
    return this.#state === "done";
  }

  /**
   * Feeds the next input bytes.
   *
   * @throws {HttpFramingError} for a malformed chunk size or missing CRLF.
   */
  push(input: Uint8Array): ChunkedOutput {
    const data: Uint8Array[] = [];
    let i = 0;
    while (i < input.length && this.#state !== "done") {
      if (this.#state === "data") {
        const n = Math.min(this.#remaining, input.length - i);
        data.push(input.subarray(i, i + n));
        i += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = "data-end";
        continue;
      }
      // Line-oriented states: collect up to LF.
      const lf = input.indexOf(10, i);
      const stop = lf < 0 ? input.length : lf;
      if (this.#state === "trailer") this.#trailerBytes += stop - i;
      this.#line += latin1(input.subarray(i, stop));
      i = lf < 0 ? input.length : lf + 1;
      if (this.#line.length > MAX_CHUNK_LINE || this.#trailerBytes > MAX_HEAD_BYTES) {
        throw new HttpFramingError("chunked body: line too long");
      }
      if (lf < 0) break;
      const line = this.#line.endsWith("\r") ? this.#line.slice(0, -1) : this.#line;
      this.#line = "";
      this.#onLine(line);
    }
    return {
      data,
      done: this.#state === "done",
      rest: this.#state === "done" ? input.subarray(i) : input.subarray(input.length),
    };
  }

  #onLine(line: string): void {
    switch (this.#state) {
      case "size": {
        const m = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
        if (!m) throw new HttpFramingError(`chunked body: bad chunk size ${quote(line)}`);
        this.#remaining = parseInt(m[1], 16);
        this.#state = this.#remaining === 0 ? "trailer" : "data";
        return;
      }
      case "data-end":
        if (line !== "") throw new HttpFramingError("chunked body: chunk not followed by CRLF");
        this.#state = "size";
        return;
      case "trailer":
        if (line === "") this.#state = "done";
        return;
    }
  }
}
