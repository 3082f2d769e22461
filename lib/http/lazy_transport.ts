/**
 * A transport built on its first request: the transports a run may not need (fetch's, for
 * proxies; node's, for TLS without verification) are imported only when a request goes
 * through them, so starting a command does not load them.
 *
 * @example
 * ```ts
 * import { lazyTransport } from "./lazy_transport.ts";
 * const t = lazyTransport(async () => (await import("./fetch_transport.ts")).fetchTransport({}));
 * t.close(); // nothing was loaded
 * ```
 * @module
 */
import type { HttpRequest, HttpResponse, HttpTransport } from "./types.ts";

/** A transport that calls `make` when the first request is sent, and uses its result. */
export function lazyTransport(make: () => Promise<HttpTransport>): HttpTransport {
  let transport: Promise<HttpTransport> | undefined;
  return {
    async send(request: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
      return await (await (transport ??= make())).send(request, signal);
    },
    close(): void {
      transport?.then((t) => t.close(), () => {});
    },
  };
}
