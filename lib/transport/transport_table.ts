/**
 * Every transport in one table: its name, the syntax of its locations, how a location parses
 * and prints, and how it opens as a source or destination. Adding a transport is adding a row;
 * parsing (transport_ref.ts), opening (open.ts) and help texts read it. Modules of a transport
 * are imported only when it is opened, so the table itself loads nothing.
 * @module
 */
import { UnsupportedError, UsageError } from "../errors.ts";
import type { RegistryOptions } from "./docker_registry.ts";
import type { ImageDestination, ImageSource } from "./types.ts";

/** A parsed image location. */
export type TransportRef =
  | { transport: "oci"; path: string; ref?: string }
  | { transport: "oci-archive"; path: string; ref?: string }
  | { transport: "docker-archive"; path: string; ref?: string; index?: number }
  | { transport: "dir"; path: string }
  | { transport: "docker"; ref: string }
  | { transport: "store"; name: string };

/** A transport's name. */
export type TransportName = TransportRef["transport"];

/** What opening a location may need besides the location itself. */
export interface OpenOptions {
  /** Credentials, auth file and TLS for `docker://` locations. */
  registry?: RegistryOptions;
}

/** One row of the table, for locations of type `R`. */
export interface TransportSpec<R extends TransportRef> {
  /** How its locations are written, for help texts: `oci:PATH[:TAG]`. */
  syntax: string;
  /**
   * The location from what follows `NAME:`; `need(what)` throws the usage error for a missing
   * part.
   */
  parse(details: string, need: (what: string) => never): R;
  /** The location as a string, for messages. */
  describe(ref: R): string;
  /** Loads its modules (to load two transports' side by side). */
  load(): Promise<unknown>;
  openSource(ref: R, name: string, options: OpenOptions): Promise<ImageSource>;
  openDestination(ref: R, name: string, options: OpenOptions): Promise<ImageDestination>;
}

/** Splits `path[:rest]` at the first colon, as containers/image does. */
function pathAndRef(details: string): [string, string | undefined] {
  const i = details.indexOf(":");
  return i < 0 ? [details, undefined] : [details.slice(0, i), details.slice(i + 1)];
}

/** `PATH[:TAG]` of an OCI layout or archive. */
function layoutLocation<T extends "oci" | "oci-archive">(transport: T) {
  return (details: string, need: (what: string) => never) => {
    const [path, ref] = pathAndRef(details);
    if (path === "") need("a path");
    return ref === undefined || ref === "" ? { transport, path } : { transport, path, ref };
  };
}

const withRef = (ref: { path: string; ref?: string }) =>
  `${ref.path}${ref.ref ? `:${ref.ref}` : ""}`;

/** The transports, in the order help texts list them. */
export const TRANSPORT_TABLE: {
  readonly [K in TransportName]: TransportSpec<Extract<TransportRef, { transport: K }>>;
} = {
  "oci": {
    syntax: "oci:PATH[:TAG]",
    parse: layoutLocation("oci"),
    describe: (r) => `oci:${withRef(r)}`,
    load: () => Promise.all([import("./oci_layout.ts"), import("./layout_files.ts")]),
    async openSource(r, name) {
      const [{ OciLayoutSource }, { DirFiles }] = await Promise.all([
        import("./oci_layout.ts"),
        import("./layout_files.ts"),
      ]);
      return await OciLayoutSource.open(name, new DirFiles(r.path), r.ref);
    },
    async openDestination(r, name) {
      const { OciLayoutDestination } = await import("./oci_layout.ts");
      return await OciLayoutDestination.open(name, r.path, r.ref);
    },
  },
  "oci-archive": {
    syntax: "oci-archive:FILE[:TAG]",
    parse: layoutLocation("oci-archive"),
    describe: (r) => `oci-archive:${withRef(r)}`,
    load: () => import("./oci_archive.ts"),
    async openSource(r, name) {
      const { openOciArchiveSource } = await import("./oci_archive.ts");
      return await openOciArchiveSource(name, r.path, r.ref);
    },
    async openDestination(r, name) {
      const { openOciArchiveDestination } = await import("./oci_archive.ts");
      return await openOciArchiveDestination(name, r.path, r.ref);
    },
  },
  "docker-archive": {
    syntax: "docker-archive:FILE[:REF|:@N]",
    parse(details, need) {
      const transport = "docker-archive";
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
    },
    describe: (r) =>
      `docker-archive:${r.path}${
        r.ref ? `:${r.ref}` : r.index !== undefined ? `:@${r.index}` : ""
      }`,
    load: () => import("./docker_archive.ts"),
    async openSource(r, name) {
      const { openDockerArchiveSource } = await import("./docker_archive.ts");
      return await openDockerArchiveSource(name, r.path, { ref: r.ref, index: r.index });
    },
    async openDestination(r, name) {
      if (r.index !== undefined) {
        throw new UnsupportedError(`${name}: @N selects an image to read; name a tag to write`);
      }
      const { openDockerArchiveDestination } = await import("./docker_archive.ts");
      return await openDockerArchiveDestination(name, r.path, r.ref);
    },
  },
  "dir": {
    syntax: "dir:PATH",
    parse(details, need) {
      if (details === "") need("a path");
      return { transport: "dir", path: details };
    },
    describe: (r) => `dir:${r.path}`,
    load: () => import("./dir.ts"),
    async openSource(r, name) {
      const { openDirSource } = await import("./dir.ts");
      return await openDirSource(name, r.path);
    },
    async openDestination(r, name) {
      const { openDirDestination } = await import("./dir.ts");
      return await openDirDestination(name, r.path);
    },
  },
  "docker": {
    syntax: "docker://REGISTRY/REPO[:TAG|@DIGEST]",
    parse(details, need) {
      if (!details.startsWith("//") || details.length === 2) need("//REFERENCE");
      return { transport: "docker", ref: details.slice(2) };
    },
    describe: (r) => `docker://${r.ref}`,
    load: () => import("./docker_registry.ts"),
    async openSource(r, name, options) {
      const { openRegistrySource } = await import("./docker_registry.ts");
      return await openRegistrySource(name, r.ref, options.registry);
    },
    async openDestination(r, name, options) {
      const { openRegistryDestination } = await import("./docker_registry.ts");
      return await openRegistryDestination(name, r.ref, options.registry);
    },
  },
  "store": {
    syntax: "store:NAME",
    parse(details, need) {
      // The name is checked when the store is opened (short names need the registries config).
      if (details === "") need("an image name or id");
      return { transport: "store", name: details };
    },
    describe: (r) => `store:${r.name}`,
    load: () => import("./store.ts"),
    async openSource(r, name) {
      const [{ openStoreSource }, { storeRoot }] = await Promise.all([
        import("./store.ts"),
        import("../store/store_root.ts"),
      ]);
      return await openStoreSource(name, storeRoot(), r.name);
    },
    async openDestination(r, name) {
      const [{ openStoreDestination }, { storeRoot }] = await Promise.all([
        import("./store.ts"),
        import("../store/store_root.ts"),
      ]);
      return await openStoreDestination(name, storeRoot(), r.name);
    },
  },
};

/** Transport names, in the table's order. */
export const TRANSPORTS = Object.keys(TRANSPORT_TABLE) as readonly TransportName[];

/** The row of `ref`'s transport, typed for it. */
export function transportOf<R extends TransportRef>(ref: R): TransportSpec<R> {
  return TRANSPORT_TABLE[ref.transport] as unknown as TransportSpec<R>;
}

/** The row named `name`, or undefined when there is no such transport. */
export function findTransport(name: string): TransportSpec<TransportRef> | undefined {
  return Object.hasOwn(TRANSPORT_TABLE, name)
    ? TRANSPORT_TABLE[name as TransportName] as unknown as TransportSpec<TransportRef>
    : undefined;
}

/** Throws the usage error for a location without a known transport. */
export function unknownTransport(s: string, transport: string): never {
  throw new UsageError(
    `unknown transport ${JSON.stringify(transport)} in ${JSON.stringify(s)}; ` +
      `known: ${TRANSPORTS.join(", ")}`,
  );
}
