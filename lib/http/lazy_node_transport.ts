/**
 * The node:https transport, loaded on first use: importing node:http/https/tls costs tens of
 * milliseconds at start-up, and most runs never need them.
 * @module
 */
import type { NodeTransportOptions } from "./node_transport.ts";
import type { HttpRequest, HttpResponse, HttpTransport } from "./types.ts";

/** A transport that imports and builds the node one when the first request is sent. */
export function lazyNodeTransport(
  options: () => NodeTransportOptions | Promise<NodeTransportOptions>,
): HttpTransport {
  let transport: Promise<HttpTransport> | undefined;
  const get = () =>
    transport ??= (async () => {
      const { nodeTransport } = await import("./node_transport.ts");
      return nodeTransport(await options());
    })();
  return {
    async send(request: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
      return await (await get()).send(request, signal);
    },
    close(): void {
      transport?.then((t) => t.close(), () => {});
    },
  };
}
