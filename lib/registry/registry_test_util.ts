/**
 * Helpers for the registry tests: real HTTP(S) servers on 127.0.0.1 with a random port, and one
 * test PKI (CA, server certificate for 127.0.0.1/localhost, client certificate) per process.
 * @module
 */
import {
  type CertAuthority,
  type CertKeyPair,
  makeCa,
  makeCertDir,
  makeClientCert,
  makeServerCert,
} from "../../tests/support/certs.ts";
import { rejects, strictEqual } from "node:assert/strict";
import { NetworkError } from "../errors.ts";
import type { HttpRequest, HttpTransport } from "./http/types.ts";

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

/** The test PKI: files in `dir`, `certDir` trusting the CA with a client certificate. */
export interface TestPki {
  dir: string;
  ca: CertAuthority;
  server: CertKeyPair;
  client: CertKeyPair;
  /** A skopeo-style cert dir: ca.crt, client.cert, client.key. */
  certDir: string;
  /** A cert dir with only ca.crt. */
  caOnlyDir: string;
}

let pki: Promise<TestPki> | undefined;

/** Makes (once per process) the test PKI in a temporary directory. */
export function testPki(): Promise<TestPki> {
  pki ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "ocibox-pki-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* already gone */ }
    });
    const ca = await makeCa(`${dir}/ca`);
    const server = await makeServerCert(`${dir}/server`, ca);
    const client = await makeClientCert(`${dir}/client`, ca);
    const certDir = await makeCertDir(`${dir}/certs.d`, ca, client);
    const caOnlyDir = await makeCertDir(`${dir}/ca-only`, ca);
    return { dir, ca, server, client, certDir, caOnlyDir };
  })();
  return pki;
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

/**
 * openssl's test server on 127.0.0.1, answering over TLS with the test PKI's server certificate
 * and insisting on a client certificate issued by the test CA (`-www`: a page describing the
 * session). Resolves once it accepts connections.
 */
export async function startMutualTlsServer(
  pki: TestPki,
): Promise<{ url: URL; stop(): Promise<void> }> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const server = new Deno.Command("openssl", {
    args: [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-cert",
      pki.server.certPath,
      "-key",
      pki.server.keyPath,
      "-CAfile",
      pki.ca.certPath,
      "-Verify",
      "1",
      "-verify_return_error",
      "-www",
      "-quiet",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 50; i++) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url: new URL(`https://127.0.0.1:${port}/`),
    async stop() {
      server.kill();
      await server.status;
    },
  };
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

/**
 * The TLS contract of a transport against a server with the test PKI's certificate: `plain`
 * (default roots) refuses it as a TLS error whose message matches `unknownIssuer`; `trusting`
 * (the test CA added) reads it by IP and by name, and sends a sized stream to it.
 */
export async function assertTlsTrust(
  plain: HttpTransport,
  trusting: HttpTransport,
  unknownIssuer: RegExp,
): Promise<void> {
  const pki = await testPki();
  const srv = serve(() => new Response("secret"), {
    cert: pki.server.certPem,
    key: pki.server.keyPem,
  });
  try {
    await rejects(
      plain.send(getRequest(srv.url)),
      (e) => e instanceof NetworkError && e.kind === "tls" && unknownIssuer.test(e.message),
    );
    for (const host of ["127.0.0.1", "localhost"]) {
      const res = await trusting.send(getRequest(`https://${host}:${srv.port}/`));
      strictEqual(await bodyText(res.body), "secret");
    }
    const res = await trusting.send({
      method: "PUT",
      url: srv.url,
      headers: new Headers({ "content-length": "3" }),
      body: new Blob(["abc"]).stream(),
    });
    strictEqual(await bodyText(res.body), "secret");
  } finally {
    await srv.close();
  }
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

/** One request as {@linkcode rawRegistry} sees it. */
export interface RawRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: Headers;
  conn: Deno.Conn;
}

/**
 * A registry written on raw TCP, for answers Deno.serve will not give (control characters in
 * header values, a body that stops halfway): `GET /v2/` gets 200 and every other request goes
 * to `answer`, which writes what it likes and resolves to false to close the connection.
 */
export function rawRegistry(
  answer: (req: RawRequest) => Promise<boolean>,
): { host: string; port: number; close(): void } {
  const tcp = listenTcp(async (conn) => {
    for (;;) {
      const head = await readRequestHead(conn);
      if (!head) return;
      const [line, ...fields] = head.slice(0, head.indexOf("\r\n\r\n")).split("\r\n");
      const [method, path] = line.split(" ");
      const headers = new Headers();
      for (const f of fields) {
        const colon = f.indexOf(":");
        if (colon > 0) headers.append(f.slice(0, colon).trim(), f.slice(colon + 1).trim());
      }
      if (path === "/v2/") {
        await writeAll(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
        continue;
      }
      if (!await answer({ method, path, headers, conn })) return;
    }
  });
  return { host: `127.0.0.1:${tcp.port}`, port: tcp.port, close: tcp.close };
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
