/**
 * Picks the transport for one registry host: ocibox's own HTTP/1.1 client in general; Deno's
 * fetch when a proxy is configured in the environment (fetch honours HTTP_PROXY, HTTPS_PROXY,
 * ALL_PROXY and NO_PROXY, the h1 client does not); node's stack for TLS without verification.
 *
 * @example
 * ```ts
 * import { defaultTransport } from "./default_transport.ts";
 * const t = defaultTransport({ certDir: "/etc/containers/certs.d/localhost:5000" });
 * t.close();
 * ```
 * @module
 */
import { readCertDir } from "./cert_dir.ts";
import { h1Transport } from "./h1_transport.ts";
import { lazyTransport } from "./lazy_transport.ts";
import type { HttpRequest, HttpTransport, TlsOptions } from "./types.ts";

// fetch's and node's transports are loaded when a request needs them (a proxy, https without
// verification): most commands never do, and their modules cost start-up.
const fetchTransport = (tls: TlsOptions) =>
  lazyTransport(async () => (await import("./fetch_transport.ts")).fetchTransport(tls));
const insecureTransport = (tls: TlsOptions) =>
  lazyTransport(async () => (await import("./insecure_transport.ts")).insecureTransport(tls));

const PROXY_VARS = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"];

/** Whether the environment names a proxy (upper or lower case, as curl and Go read them). */
export function proxyConfigured(env: (name: string) => string | undefined): boolean {
  return PROXY_VARS.some((v) => !!(env(v) || env(v.toLowerCase())));
}

/**
 * The transport for `tls` (a certificate directory, verification on or off). `env` defaults
 * to the process environment.
 */
export function defaultTransport(
  tls: TlsOptions,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): HttpTransport {
  if (proxyConfigured(env)) {
    return tls.verify === false ? insecureTransport(tls) : fetchTransport(tls);
  }
  if (tls.verify !== false) {
    const material = tls.certDir ? readCertDir(tls.certDir) : { caCerts: [] };
    return h1Transport(material);
  }
  // Plain http needs no verification to skip: only https goes to node's stack.
  const plain = h1Transport();
  const secure = insecureTransport(tls);
  return {
    send: (request: HttpRequest, signal?: AbortSignal) =>
      (request.url.protocol === "http:" ? plain : secure).send(request, signal),
    close(): void {
      plain.close();
      secure.close();
    },
  };
}
