/**
 * Image locations as users write them, `TRANSPORT:DETAILS`, in skopeo's syntax:
 * `oci:PATH[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF|:@N]`, `dir:PATH`,
 * `docker://REF`, and ocibox's local store, `store:NAME`. Pure parsing; opening is in open.ts.
 * @module
 */
import { UsageError } from "../errors.ts";

/** A parsed image location. */
export type TransportRef =
  | { transport: "oci"; path: string; ref?: string }
  | { transport: "oci-archive"; path: string; ref?: string }
  | { transport: "docker-archive"; path: string; ref?: string; index?: number }
  | { transport: "dir"; path: string }
  | { transport: "docker"; ref: string }
  | { transport: "store"; name: string };

/** Transport names, for help texts. */
export const TRANSPORTS = [
  "oci",
  "oci-archive",
  "docker-archive",
  "dir",
  "docker",
  "store",
] as const;

/**
 * Whether `s` starts with a transport name and a colon (`oci:…`, `docker://…`); a bare image
 * name (`busybox`, `localhost:5000/app`) does not.
 */
export function hasTransport(s: string): boolean {
  const colon = s.indexOf(":");
  return colon > 0 && (TRANSPORTS as readonly string[]).includes(s.slice(0, colon));
}

/** Splits `path[:rest]` at the first colon, as containers/image does. */
function pathAndRef(details: string): [string, string | undefined] {
  const i = details.indexOf(":");
  return i < 0 ? [details, undefined] : [details.slice(0, i), details.slice(i + 1)];
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
    throw new UsageError(
      `image location ${JSON.stringify(s)} has no transport; write e.g. oci:PATH[:TAG], ` +
        `oci-archive:FILE, docker-archive:FILE, dir:PATH or docker://REF`,
    );
  }
  const transport = s.slice(0, colon);
  const details = s.slice(colon + 1);
  const need = (what: string) => {
    throw new UsageError(`${JSON.stringify(s)}: ${transport}: needs ${what}`);
  };
  switch (transport) {
    case "oci":
    case "oci-archive": {
      const [path, ref] = pathAndRef(details);
      if (path === "") need("a path");
      return ref === undefined || ref === "" ? { transport, path } : { transport, path, ref };
    }
    case "docker-archive": {
      const [path, ref] = pathAndRef(details);
      if (path === "") need("a path");
      if (ref === undefined || ref === "") return { transport, path };
      if (ref.startsWith("@")) {
        const n = Number(ref.slice(1));
        if (!/^\d+$/.test(ref.slice(1)) || !Number.isSafeInteger(n)) {
          need("a number after @ (the image's position in the archive)");
        }
        return { transport, path, index: n };
      }
      return { transport, path, ref };
    }
    case "dir":
      if (details === "") need("a path");
      return { transport, path: details };
    case "docker":
      if (!details.startsWith("//") || details.length === 2) need("//REFERENCE");
      return { transport, ref: details.slice(2) };
    case "store":
      // The name is checked when the store is opened (short names need the registries config).
      if (details === "") need("an image name or id");
      return { transport, name: details };
  }
  throw new UsageError(
    `unknown transport ${JSON.stringify(transport)} in ${JSON.stringify(s)}; ` +
      `known: ${TRANSPORTS.join(", ")}`,
  );
}
