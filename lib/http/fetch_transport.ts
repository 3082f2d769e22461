/**
 * The default {@linkcode HttpTransport}: Deno's fetch with its own HTTP client (CA certificates
 * and client certificate from a certificate directory), redirects left to the caller, bodies
 * streamed both ways.
 *
 * Two things fetch does on its own are undone here: it asks for gzip/br and silently inflates
 * the answer (a blob would then no longer match its digest), so requests say
 * `Accept-Encoding: identity` unless the caller chose; and it never sends Content-Length with a
 * streamed body, so such requests go through node's stack instead (same trust material).
 *
 * @example
 * ```ts
 * import { fetchTransport } from "./fetch_transport.ts";
 * const t = fetchTransport({ certDir: "/etc/containers/certs.d/localhost:5000" });
 * const res = await t.send({ method: "GET", url: new URL("https://localhost:5000/v2/"),
 *   headers: new Headers() });
 * await res.body?.cancel();
 * t.close();
 * ```
 * @module
 */
import { AbortedError, UnsupportedError } from "../errors.ts";
import { type CertDirMaterial, readCertDir } from "./cert_dir.ts";
import { toNetworkError } from "./network_error.ts";
import { lazyNodeTransport } from "./lazy_node_transport.ts";
import type { HttpRequest, HttpResponse, HttpTransport, TlsOptions } from "./types.ts";

// Re-types errors raised while the body streams (a connection cut mid-blob).
function mapBodyErrors(
  body: ReadableStream<Uint8Array>,
  url: URL,
  signal: AbortSignal | undefined,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (e) {
        controller.error(signal?.aborted ? new AbortedError() : toNetworkError(e, url));
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Makes a fetch-based transport. `tls.certDir` adds its `*.crt` CAs to the default roots and
 * presents its client certificate. Certificates are always verified: for `verify: false` use
 * {@linkcode insecureTransport}.
 *
 * @throws {UnsupportedError} when `tls.verify` is false.
 */
export function fetchTransport(tls: TlsOptions = {}): HttpTransport {
  if (tls.verify === false) {
    throw new UnsupportedError(
      "fetch cannot skip certificate verification; use insecureTransport for --tls-verify=false",
    );
  }
  const material: CertDirMaterial = tls.certDir ? readCertDir(tls.certDir) : { caCerts: [] };
  const client = Deno.createHttpClient({
    caCerts: material.caCerts,
    ...(material.clientCert ?? {}),
  });
  // Node's `ca` replaces its roots, so the defaults go in with the directory's CAs.
  const sized = lazyNodeTransport(async () => ({
    verify: true,
    ca: material.caCerts.length
      ? [...(await import("node:tls")).rootCertificates, ...material.caCerts]
      : undefined,
    cert: material.clientCert?.cert,
    key: material.clientCert?.key,
  }));

  async function send(request: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
    if (request.body instanceof ReadableStream && request.headers.has("content-length")) {
      return sized.send(request, signal);
    }
    if (signal?.aborted) throw new AbortedError();
    const headers = new Headers(request.headers);
    if (!headers.has("accept-encoding")) headers.set("accept-encoding", "identity");
    let res: Response;
    try {
      res = await fetch(request.url, {
        method: request.method,
        headers,
        body: request.body,
        redirect: "manual",
        client,
        signal,
        // Streams go out as they are read, not buffered first.
        ...(request.body instanceof ReadableStream ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (e) {
      throw signal?.aborted ? new AbortedError() : toNetworkError(e, request.url);
    }
    return {
      status: res.status,
      headers: res.headers,
      body: res.body ? mapBodyErrors(res.body, request.url, signal) : null,
      url: request.url,
    };
  }

  return {
    send,
    close() {
      client.close();
      sized.close();
    },
  };
}
