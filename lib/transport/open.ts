/**
 * Opens an image location string as a source or destination, through the transport's row of
 * transport_table.ts. Each transport's module is imported only when used, so commands pay only
 * for the transports they touch.
 * @module
 */
import { describe, parseTransportRef, type TransportRef } from "./transport_ref.ts";
import { type OpenOptions, transportOf } from "./transport_table.ts";
import type { ImageDestination, ImageSource } from "./types.ts";

export { describe } from "./transport_ref.ts";
export type { OpenOptions } from "./transport_table.ts";

/**
 * Starts loading the modules `ref`'s transport needs, so that a command touching two
 * transports loads them side by side (module loading waits on file reads). Failures are left
 * to the open that follows.
 */
export function preloadTransport(ref: TransportRef): void {
  transportOf(ref).load().catch(() => {});
}

/** Opens `location` (e.g. `oci:/tmp/layout:v1`) for reading. */
export async function openSource(
  location: string | TransportRef,
  options: OpenOptions = {},
): Promise<ImageSource> {
  const ref = typeof location === "string" ? parseTransportRef(location) : location;
  const name = typeof location === "string" ? location : describe(ref);
  return await transportOf(ref).openSource(ref, name, options);
}

/** Opens `location` for writing; nothing is visible there until the destination commits. */
export async function openDestination(
  location: string | TransportRef,
  options: OpenOptions = {},
): Promise<ImageDestination> {
  const ref = typeof location === "string" ? parseTransportRef(location) : location;
  const name = typeof location === "string" ? location : describe(ref);
  return await transportOf(ref).openDestination(ref, name, options);
}
