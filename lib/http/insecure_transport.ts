/**
 * The transport for `--tls-verify=false`: node's HTTP stack with certificate verification off
 * (Deno's fetch cannot skip it). Plain `http://` URLs work too, which is what the flag also
 * allows.
 *
 * @example
 * ```ts
 * import { insecureTransport } from "./insecure_transport.ts";
 * const t = insecureTransport();
 * const res = await t.send({ method: "GET", url: new URL("https://127.0.0.1:5000/v2/"),
 *   headers: new Headers() });
 * await res.body?.cancel();
 * t.close();
 * ```
 * @module
 */
import { readCertDir } from "./cert_dir.ts";
import { lazyNodeTransport } from "./lazy_node_transport.ts";
import type { HttpTransport } from "./types.ts";

/**
 * A transport that accepts any server certificate. A client certificate from `certDir`
 * (`*.cert` + `*.key`) is still presented for mutual TLS.
 */
export function insecureTransport(options: { certDir?: string } = {}): HttpTransport {
  const material = options.certDir ? readCertDir(options.certDir) : undefined;
  return lazyNodeTransport(() => ({
    verify: false,
    cert: material?.clientCert?.cert,
    key: material?.clientCert?.key,
  }));
}
