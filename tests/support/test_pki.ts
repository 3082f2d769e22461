/**
 * The test PKI for the TLS tests (CA, server certificate for 127.0.0.1/localhost, client
 * certificate; made once per process with openssl through ./certs.ts), openssl's `s_server`
 * insisting on a client certificate, and the TLS contract every HTTP transport must keep.
 *
 * @example
 * ```ts
 * import { testPki } from "./test_pki.ts";
 * const pki = await testPki();
 * const tls = { cert: pki.server.certPem, key: pki.server.keyPem };
 * Deno.serve({ ...tls, port: 0 }, () => new Response("hi"));
 * ```
 * @module
 */
import { rejects, strictEqual } from "node:assert/strict";
import { NetworkError } from "../../lib/errors.ts";
import type { HttpTransport } from "../../lib/http/types.ts";
import { bodyText, getRequest, serve } from "../../lib/http/http_test_util.ts";
import {
  type CertAuthority,
  type CertKeyPair,
  makeCa,
  makeCertDir,
  makeClientCert,
  makeServerCert,
} from "./certs.ts";

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
