/**
 * Helpers for the HTTP unit tests (and the registry's, which build on them): real HTTP(S)
 * servers on 127.0.0.1 with a random port and raw TCP servers that misbehave below HTTP. Nothing
 * here needs a peer tool: the test PKI (made with openssl) and the TLS checks built on it live
 * with the peer tests (support/test_pki.ts).
 * @module
 */
import { rejects } from "node:assert/strict";
import { NetworkError } from "../errors.ts";
import type { HttpRequest, HttpTransport } from "./types.ts";

/** A running test server. */
export interface TestServer {
  /** `http(s)://127.0.0.1:PORT/` */
  url: URL;
  /** `127.0.0.1:PORT` */
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `handler` on 127.0.0.1 (TLS when `tls` is given). */
export function serve(
  handler: (
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ) => Response | Promise<Response>,
  tls?: { cert: string; key: string },
): TestServer {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    ...(tls ?? {}),
  }, handler);
  const port = server.addr.port;
  return {
    url: new URL(`${tls ? "https" : "http"}://127.0.0.1:${port}/`),
    host: `127.0.0.1:${port}`,
    port,
    close: () => server.shutdown(),
  };
}

/** A raw TCP listener on 127.0.0.1 for servers that misbehave below HTTP. */
export function listenTcp(
  onConnection: (conn: Deno.Conn, index: number) => Promise<void>,
): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let index = 0;
  (async () => {
    try {
      for await (const conn of listener) {
        onConnection(conn, index++).catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch { /* already closed */ }
        });
      }
    } catch { /* listener closed */ }
  })();
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

/** Reads one HTTP/1.1 request head (and discards it) from `conn`. */
export async function readRequestHead(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(16384);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

/** Writes a whole string to `conn`. */
export async function writeAll(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** A GET request for a transport. */
export function getRequest(url: string | URL, headers: HeadersInit = {}): HttpRequest {
  return { method: "GET", url: new URL(url), headers: new Headers(headers) };
}

/** A response body as text ("" for none). */
export async function bodyText(body: ReadableStream<Uint8Array> | null): Promise<string> {
  return body ? await new Response(body).text() : "";
}

/** Asserts that `t` reports a refused connection as a NetworkError of kind "connect". */
export async function assertRefusedIsTyped(t: HttpTransport): Promise<void> {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  await rejects(
    t.send(getRequest(`http://127.0.0.1:${port}/`)),
    (e) => e instanceof NetworkError && e.kind === "connect" && /refused/i.test(e.message),
  );
}

/** How one request body arrived: its length and framing headers. */
export interface BodyFraming {
  length: number;
  te: string | null;
  cl: string | null;
}

/** A server answering 201 to everything, recording how each request body was framed. */
export function framingRecorder(): { server: TestServer; got: BodyFraming[] } {
  const got: BodyFraming[] = [];
  const server = serve(async (req) => {
    const b = new Uint8Array(await req.arrayBuffer());
    got.push({
      length: b.length,
      te: req.headers.get("transfer-encoding"),
      cl: req.headers.get("content-length"),
    });
    return new Response(null, { status: 201 });
  });
  return { server, got };
}

/**
 * A server for the transports' basic contract: `/moved` answers 307 to another host, any other
 * path streams four pieces of `piece` bytes (filled with A, B, C, D) with header `x-a: 1`.
 * `onRequest` sees each request and the client's port (one port = one connection).
 */
export function pieceServer(
  piece: number,
  onRequest: (req: Request, clientPort: number) => void = () => {},
): TestServer {
  return serve((req, info) => {
    onRequest(req, info.remoteAddr.port);
    if (new URL(req.url).pathname === "/moved") {
      return new Response(null, { status: 307, headers: { location: "https://elsewhere/x" } });
    }
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(piece).fill(65 + i));
        c.close();
      },
    });
    return new Response(body, { headers: { "x-a": "1" } });
  });
}

/**
 * Sends nothing more until the client closes the connection, or `ms` passed (so that a client
 * that would wait for ever fails its test instead of hanging it).
 */
export async function stall(conn: Deno.Conn, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const buf = new Uint8Array(1024);
  await Promise.race([
    (async () => {
      try {
        while (await conn.read(buf) !== null) { /* the client sends nothing we need */ }
      } catch { /* closed */ }
    })(),
    new Promise((r) => timer = setTimeout(r, ms)),
  ]);
  clearTimeout(timer);
}
