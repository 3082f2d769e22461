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
