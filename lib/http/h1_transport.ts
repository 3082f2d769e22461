/**
 * The registry client's default {@linkcode HttpTransport}: HTTP/1.1 written directly on
 * Deno's TCP and TLS connections, with keep-alive connections pooled per origin.
 *
 * Why not fetch: fetch hands a body over in 64 KiB pieces through several stream layers,
 * which cost more than the transfer itself on a local registry (a 44 MB pull: 166 ms with
 * fetch, 91 ms reading 1 MiB at a time here), it cannot send a streamed body with a
 * Content-Length, and it inflates gzip answers on its own. Here a response body is read
 * straight into 1 MiB slabs and handed out as views of them, and request bodies go out as
 * given: bytes with their length, streams with the caller's Content-Length or chunked.
 *
 * Certificates are always verified (default roots plus `caCerts`); `--tls-verify=false` over
 * TLS needs node's stack ({@linkcode insecureTransport}).
 *
 * @example
 * ```ts
 * import { h1Transport } from "./h1_transport.ts";
 * const t = h1Transport();
 * const res = await t.send({ method: "GET", url: new URL("http://127.0.0.1:5000/v2/"),
 *   headers: new Headers() });
 * await res.body?.cancel();
 * t.close();
 * ```
 * @module
 */
import { AbortedError } from "../errors.ts";
import {
  type BodyFraming,
  bodyFraming,
  ChunkedDecoder,
  encodeRequestHead,
  parseResponseHead,
  type ResponseHead,
} from "./h1_message.ts";
import { concatBytes } from "../io/bytes.ts";
import { lendChunk, releaseChunk, sealSlab, takeSlab } from "../io/slab_pool.ts";
import { toNetworkError } from "./network_error.ts";
import type { HttpRequest, HttpResponse, HttpTransport } from "./types.ts";

/** TLS material for {@linkcode h1Transport}. */
export interface H1TransportOptions {
  /** PEM certificates trusted in addition to the default roots. */
  caCerts?: string[];
  /** PEM client certificate chain and key for mutual TLS. */
  clientCert?: { cert: string; key: string };
}

const MIN_READ_BYTES = 64 * 1024;
const MAX_IDLE_PER_ORIGIN = 8;
const enc = new TextEncoder();

/**
 * A connection closed before any byte of the answer arrived; `nothingSent` when not even the
 * request head could be written.
 */
class NoResponseError extends Error {
  override name = "NoResponseError";
  constructor(message: string, readonly nothingSent = false, options?: ErrorOptions) {
    super(message, options);
  }
}

// Requests that may be sent twice (RFC 9110 9.2.2): a stale kept-alive connection that took one
// and answered nothing is retried on a new one; others only when nothing at all went out.
const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

/** One connection and its read buffer. */
class H1Connection {
  readonly #conn: Deno.Conn;
  #slab: Uint8Array = new Uint8Array(0);
  #used = 0;
  #unread?: Uint8Array;
  #closed = false;

  constructor(conn: Deno.Conn, readonly origin: string) {
    this.#conn = conn;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The next bytes from the peer, or null at end of stream. Each read fills a fresh part of
   * a slab (lib/io/slab_pool.ts), so earlier views stay valid for whoever holds them.
   */
  async read(): Promise<Uint8Array | null> {
    const pending = this.#unread;
    if (pending) {
      this.#unread = undefined;
      return pending;
    }
    if (this.#slab.length - this.#used < MIN_READ_BYTES) {
      sealSlab(this.#slab);
      this.#slab = takeSlab();
      this.#used = 0;
    }
    const view = this.#slab.subarray(this.#used);
    const n = await this.#conn.read(view);
    if (n === null) return null;
    this.#used += n;
    return view.subarray(0, n);
  }

  /** Puts bytes back to be returned by the next {@linkcode read}. */
  unread(bytes: Uint8Array): void {
    if (bytes.length) this.#unread = bytes;
  }

  /** Whether bytes were read past the current message. */
  get hasUnread(): boolean {
    return this.#unread !== undefined;
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    sealSlab(this.#slab);
    try {
      this.#conn.close();
    } catch { /* already closed by the peer or by an abort */ }
  }
}

function originOf(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

async function dial(url: URL, options: H1TransportOptions): Promise<H1Connection> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const tls = url.protocol === "https:";
  const port = url.port ? Number(url.port) : tls ? 443 : 80;
  if (!tls) {
    const conn = await Deno.connect({ hostname, port });
    // Heads and small bodies are separate writes; Nagle would hold the second back.
    conn.setNoDelay(true);
    return new H1Connection(conn, originOf(url));
  }
  const conn = await Deno.connectTls({
    hostname,
    port,
    caCerts: options.caCerts?.length ? options.caCerts : undefined,
    ...(options.clientCert ?? {}),
    alpnProtocols: ["http/1.1"],
  });
  try {
    // Handshake now, so a certificate problem is reported as one, not as a failed write.
    await conn.handshake();
  } catch (e) {
    conn.close();
    throw e;
  }
  return new H1Connection(conn, originOf(url));
}

async function readHead(conn: H1Connection): Promise<ResponseHead> {
  let buf: Uint8Array = new Uint8Array(0);
  let received = 0;
  for (;;) {
    const head = buf.length ? parseResponseHead(buf) : null;
    if (head) {
      const rest = buf.subarray(head.length);
      // Interim answers (100 Continue, 103 Early Hints) precede the real one.
      if (head.status >= 100 && head.status < 200 && head.status !== 101) {
        buf = rest;
        continue;
      }
      conn.unread(rest);
      return head;
    }
    const chunk = await conn.read();
    if (chunk === null) {
      if (received === 0) throw new NoResponseError("the server closed the connection unanswered");
      throw new Error("connection closed in the middle of the response head");
    }
    received += chunk.length;
    buf = buf.length ? concatBytes([buf, chunk]) : chunk;
  }
}

/** The request body's own source failed or lied about its length: nothing to wait for. */
class BodySourceError extends Error {
  override name = "BodySourceError";
}

/** Frames and sends a request body; resolves once all of it is written. */
async function writeBody(
  conn: H1Connection,
  body: HttpRequest["body"],
  chunked: boolean,
  declared: number | undefined,
  stop: { requested: boolean },
): Promise<void> {
  if (body === undefined) return;
  if (body instanceof Uint8Array) return await conn.write(body);
  const reader = body.getReader();
  let sent = 0;
  const next = async () => {
    try {
      return await reader.read();
    } catch (e) {
      throw new BodySourceError("reading the request body failed", { cause: e });
    }
  };
  try {
    for (;;) {
      if (stop.requested) return;
      const { done, value } = await next();
      if (done) break;
      if (!value.length) continue;
      sent += value.length;
      if (declared !== undefined && sent > declared) {
        throw new BodySourceError(`request body longer than its Content-Length ${declared}`);
      }
      if (chunked) {
        // One write per chunk: size line, data and CRLF together.
        const line = enc.encode(`${value.length.toString(16)}\r\n`);
        const framed = new Uint8Array(line.length + value.length + 2);
        framed.set(line);
        framed.set(value, line.length);
        framed.set([13, 10], line.length + value.length);
        await conn.write(framed);
      } else {
        await conn.write(value);
      }
      // Sent: this transport was the last to hold the piece.
      releaseChunk(value);
    }
    if (declared !== undefined && sent !== declared) {
      throw new BodySourceError(`request body ended after ${sent} of its ${declared} bytes`);
    }
    if (chunked) await conn.write(enc.encode("0\r\n\r\n"));
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    reader.releaseLock();
  }
}

/**
 * Makes the transport. Connections are kept per origin while idle and reused for requests
 * whose body can be sent again (a reused connection the server has meanwhile closed is
 * replaced once, transparently).
 */
export function h1Transport(options: H1TransportOptions = {}): HttpTransport {
  const idle = new Map<string, H1Connection[]>();
  let closed = false;

  function take(url: URL): H1Connection | undefined {
    const list = idle.get(originOf(url));
    return list?.pop();
  }

  function release(conn: H1Connection, reusable: boolean): void {
    if (!reusable || closed || conn.closed || conn.hasUnread) return conn.close();
    const list = idle.get(conn.origin) ?? [];
    if (list.length >= MAX_IDLE_PER_ORIGIN) return conn.close();
    list.push(conn);
    idle.set(conn.origin, list);
  }

  /** Sends `request` on `conn`; `settled` runs once the exchange is over (body included). */
  async function exchange(
    conn: H1Connection,
    request: HttpRequest,
    signal: AbortSignal | undefined,
    settled: () => void,
  ): Promise<HttpResponse> {
    const { method, url, body } = request;
    const headers = new Headers(request.headers);
    let chunked = false;
    let declared: number | undefined;
    if (body instanceof Uint8Array) {
      headers.set("content-length", String(body.length));
      headers.delete("transfer-encoding");
      declared = body.length;
    } else if (body) {
      const cl = headers.get("content-length");
      if (cl !== null) declared = Number(cl);
      else {
        headers.set("transfer-encoding", "chunked");
        chunked = true;
      }
    } else if (method === "POST" || method === "PUT" || method === "PATCH") {
      if (!headers.has("content-length")) headers.set("content-length", "0");
    }
    const head = encodeRequestHead(method, url.pathname + url.search, url.host, headers);
    // A small body rides in the head's write.
    const inline = body instanceof Uint8Array && body.length <= MIN_READ_BYTES;
    try {
      await conn.write(inline ? concatBytes([head, body]) : head);
    } catch (e) {
      throw new NoResponseError("the request could not be sent", true, { cause: e });
    }
    const stop = { requested: false };
    const writing = inline
      ? Promise.resolve(undefined)
      : writeBody(conn, body, chunked, declared, stop).then(() => undefined, (e: unknown) => e);
    let written = false;
    // The answer may come before the body is sent (a refusal); read it while writing.
    const answered = readHead(conn).then(
      (h) => ({ ok: true as const, head: h }),
      (e: unknown) => ({ ok: false as const, error: e }),
    );
    const first = await Promise.race([
      answered,
      writing.then((e) => ({ written: true as const, error: e })),
    ]);
    let result;
    if ("written" in first) {
      written = first.error === undefined;
      if (first.error instanceof BodySourceError) {
        // The server is still waiting for the rest; an answer will not come.
        conn.close();
        const cause = first.error.cause;
        throw cause instanceof Error ? cause : first.error;
      }
      result = await answered;
      if (!result.ok) {
        // A write that failed on a connection that never answered is still "no response".
        throw result.error instanceof NoResponseError || first.error === undefined
          ? result.error
          : first.error;
      }
    } else {
      result = first;
      if (!result.ok) {
        conn.close();
        const writeError = await writing;
        throw result.error instanceof NoResponseError && writeError ? writeError : result.error;
      }
      // Answered before the body went out: stop sending; the connection cannot be reused.
      stop.requested = true;
      writing.then(() => {});
    }
    const framing = bodyFraming(method, result.head);
    const reusable = written && !result.head.close;
    const end = (ok: boolean) => {
      release(conn, ok && reusable);
      settled();
    };
    let resBody = null;
    if (framing.kind === "none") end(true);
    else resBody = bodyStream(conn, framing, url, signal, end);
    return { status: result.head.status, headers: result.head.headers, body: resBody, url };
  }

  async function send(request: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
    if (signal?.aborted) throw new AbortedError();
    const replayable = !(request.body instanceof ReadableStream);
    for (let attempt = 0;; attempt++) {
      const reused = replayable && attempt === 0 ? take(request.url) : undefined;
      let conn: H1Connection | undefined;
      const onAbort = () => conn?.close();
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        conn = reused ?? await dial(request.url, options);
        if (signal?.aborted) throw new AbortedError();
        return await exchange(
          conn,
          request,
          signal,
          () => signal?.removeEventListener("abort", onAbort),
        );
      } catch (e) {
        signal?.removeEventListener("abort", onAbort);
        conn?.close();
        if (signal?.aborted) throw new AbortedError();
        // A kept-alive connection the server closed meanwhile: try once on a new one.
        if (
          reused && e instanceof NoResponseError &&
          (e.nothingSent || IDEMPOTENT.has(request.method))
        ) continue;
        throw toNetworkError(e instanceof NoResponseError && e.cause ? e.cause : e, request.url);
      }
    }
  }

  return {
    send,
    close(): void {
      closed = true;
      for (const list of idle.values()) for (const c of list) c.close();
      idle.clear();
    },
  };
}

/** `chunk`, recorded as lent: a consumer may hand it back with releaseChunk for reuse. */
function lent(chunk: Uint8Array): Uint8Array {
  lendChunk(chunk);
  return chunk;
}

/**
 * The response body: bytes until the framing says the message ends. Its chunks are views of
 * pooled slabs: a consumer done with one may give it back with `releaseChunk`.
 */
function bodyStream(
  conn: H1Connection,
  framing: Exclude<BodyFraming, { kind: "none" }>,
  url: URL,
  signal: AbortSignal | undefined,
  done: (reusable: boolean) => void,
): ReadableStream<Uint8Array> {
  let remaining = framing.kind === "length" ? framing.length : Infinity;
  const decoder = framing.kind === "chunked" ? new ChunkedDecoder() : undefined;
  let finished = false;
  const finish = (reusable: boolean) => {
    if (finished) return;
    finished = true;
    done(reusable);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (remaining === 0) {
        finish(true);
        controller.close();
      }
    },
    async pull(controller) {
      try {
        for (;;) {
          const bytes = await conn.read();
          if (bytes === null) {
            if (framing.kind === "close") {
              finish(false);
              controller.close();
              return;
            }
            throw new Error(
              framing.kind === "length"
                ? `connection closed with ${remaining} of ${framing.length} body bytes unread`
                : "connection closed in the middle of a chunked body",
            );
          }
          if (decoder) {
            const out = decoder.push(bytes);
            for (const piece of out.data) controller.enqueue(lent(piece));
            if (out.done) {
              conn.unread(out.rest);
              finish(true);
              controller.close();
              return;
            }
            if (out.data.length) return;
            continue;
          }
          if (bytes.length >= remaining) {
            conn.unread(bytes.subarray(remaining));
            controller.enqueue(lent(bytes.subarray(0, remaining)));
            remaining = 0;
            finish(true);
            controller.close();
            return;
          }
          remaining -= bytes.length;
          controller.enqueue(lent(bytes));
          return;
        }
      } catch (e) {
        finish(false);
        conn.close();
        controller.error(signal?.aborted ? new AbortedError() : toNetworkError(e, url));
      }
    },
    cancel() {
      // Cancelling after the last byte arrived (unread bytes still queued) leaves the
      // connection, already handed back, alone.
      if (finished) return;
      finish(false);
      conn.close();
    },
  });
}
