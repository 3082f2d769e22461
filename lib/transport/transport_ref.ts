/**
 * Image locations as users write them, `TRANSPORT:DETAILS`, in skopeo's syntax:
 * `oci:PATH[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF|:@N]`, `dir:PATH`,
 * `docker://REF`, and ocibox's local store, `store:NAME`. Pure parsing, by the rows of
 * transport_table.ts; opening is in open.ts.
 * @module
 */
import { UsageError } from "../errors.ts";
import {
  findTransport,
  TRANSPORT_TABLE,
  transportOf,
  type TransportRef,
  TRANSPORTS,
  unknownTransport,
} from "./transport_table.ts";

export { type TransportRef, TRANSPORTS } from "./transport_table.ts";

/**
 * Whether `s` starts with a transport name and a colon (`oci:…`, `docker://…`); a bare image
 * name (`busybox`, `localhost:5000/app`) does not.
 */
export function hasTransport(s: string): boolean {
  const colon = s.indexOf(":");
  return colon > 0 && findTransport(s.slice(0, colon)) !== undefined;
}

/**
 * Parses an image location.
 *
 * @example
 * ```ts
 * import { parseTransportRef } from "./transport_ref.ts";
 * parseTransportRef("oci:/tmp/layout:v1"); // { transport: "oci", path: "/tmp/layout", ref: "v1" }
 * parseTransportRef("docker-archive:img.tar:@1"); // { ..., index: 1 }
 * ```
 */
export function parseTransportRef(s: string): TransportRef {
  const colon = s.indexOf(":");
  if (colon <= 0) {
    const examples = TRANSPORTS.map((t) => TRANSPORT_TABLE[t].syntax).join(", ");
    throw new UsageError(
      `image location ${JSON.stringify(s)} has no transport; write e.g. ${examples}`,
    );
  }
  const transport = s.slice(0, colon);
  const spec = findTransport(transport) ?? unknownTransport(s, transport);
  return spec.parse(s.slice(colon + 1), (what) => {
    throw new UsageError(`${JSON.stringify(s)}: ${transport}: needs ${what}`);
  });
}

/** The location string of a parsed reference, for messages. */
export function describe(ref: TransportRef): string {
  return transportOf(ref).describe(ref);
}
