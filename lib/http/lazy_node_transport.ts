/**
 * The node:https transport, loaded on first use: importing node:http/https/tls costs tens of
 * milliseconds at start-up, and most runs never need them.
 * @module
 */
import { lazyTransport } from "./lazy_transport.ts";
import type { NodeTransportOptions } from "./node_transport.ts";
import type { HttpTransport } from "./types.ts";

/** A transport that imports and builds the node one when the first request is sent. */
export function lazyNodeTransport(
  options: () => NodeTransportOptions | Promise<NodeTransportOptions>,
): HttpTransport {
  return lazyTransport(async () => {
    const { nodeTransport } = await import("./node_transport.ts");
    return nodeTransport(await options());
  });
}
