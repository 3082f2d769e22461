/**
 * Opens an image location string as a source or destination. Each transport's module is
 * imported only when used, so commands pay only for the transports they touch.
 * @module
 */
import { UnsupportedError } from "../errors.ts";
import { parseTransportRef, type TransportRef } from "./transport_ref.ts";
import type { ImageDestination, ImageSource } from "./types.ts";
import type { RegistryOptions } from "./docker_registry.ts";

/** What opening a location may need besides the location itself. */
export interface OpenOptions {
  /** Credentials, auth file and TLS for `docker://` locations. */
  registry?: RegistryOptions;
}

const MODULES: Record<TransportRef["transport"], () => Promise<unknown>> = {
  "oci": () => Promise.all([import("./oci_layout.ts"), import("./layout_files.ts")]),
  "oci-archive": () => import("./oci_archive.ts"),
  "docker-archive": () => import("./docker_archive.ts"),
  "dir": () => import("./dir.ts"),
  "docker": () => import("./docker_registry.ts"),
  "store": () => import("./store.ts"),
};

/**
 * Starts loading the modules `ref`'s transport needs, so that a command touching two
 * transports loads them side by side (module loading waits on file reads). Failures are left
 * to the open that follows.
 */
export function preloadTransport(ref: TransportRef): void {
  MODULES[ref.transport]().catch(() => {});
}

/** Opens `location` (e.g. `oci:/tmp/layout:v1`) for reading. */
export async function openSource(
  location: string | TransportRef,
  options: OpenOptions = {},
): Promise<ImageSource> {
  const ref = typeof location === "string" ? parseTransportRef(location) : location;
  const name = typeof location === "string" ? location : describe(ref);
  switch (ref.transport) {
    case "oci": {
      const { OciLayoutSource } = await import("./oci_layout.ts");
      const { DirFiles } = await import("./layout_files.ts");
      return await OciLayoutSource.open(name, new DirFiles(ref.path), ref.ref);
    }
    case "oci-archive": {
      const { openOciArchiveSource } = await import("./oci_archive.ts");
      return await openOciArchiveSource(name, ref.path, ref.ref);
    }
    case "docker-archive": {
      const { openDockerArchiveSource } = await import("./docker_archive.ts");
      return await openDockerArchiveSource(name, ref.path, { ref: ref.ref, index: ref.index });
    }
    case "dir": {
      const { openDirSource } = await import("./dir.ts");
      return await openDirSource(name, ref.path);
    }
    case "docker": {
      const { openRegistrySource } = await import("./docker_registry.ts");
      return await openRegistrySource(name, ref.ref, options.registry);
    }
    case "store": {
      const { openStoreSource } = await import("./store.ts");
      const { storeRoot } = await import("../store/store_root.ts");
      return await openStoreSource(name, storeRoot(), ref.name);
    }
  }
}

/** Opens `location` for writing; nothing is visible there until the destination commits. */
export async function openDestination(
  location: string | TransportRef,
  options: OpenOptions = {},
): Promise<ImageDestination> {
  const ref = typeof location === "string" ? parseTransportRef(location) : location;
  const name = typeof location === "string" ? location : describe(ref);
  switch (ref.transport) {
    case "oci": {
      const { OciLayoutDestination } = await import("./oci_layout.ts");
      return await OciLayoutDestination.open(name, ref.path, ref.ref);
    }
    case "oci-archive": {
      const { openOciArchiveDestination } = await import("./oci_archive.ts");
      return await openOciArchiveDestination(name, ref.path, ref.ref);
    }
    case "docker-archive": {
      if (ref.index !== undefined) {
        throw new UnsupportedError(`${name}: @N selects an image to read; name a tag to write`);
      }
      const { openDockerArchiveDestination } = await import("./docker_archive.ts");
      return await openDockerArchiveDestination(name, ref.path, ref.ref);
    }
    case "dir": {
      const { openDirDestination } = await import("./dir.ts");
      return await openDirDestination(name, ref.path);
    }
    case "docker": {
      const { openRegistryDestination } = await import("./docker_registry.ts");
      return await openRegistryDestination(name, ref.ref, options.registry);
    }
    case "store": {
      const { openStoreDestination } = await import("./store.ts");
      const { storeRoot } = await import("../store/store_root.ts");
      return await openStoreDestination(name, storeRoot(), ref.name);
    }
  }
}

/** The location string of a parsed reference, for messages. */
export function describe(ref: TransportRef): string {
  switch (ref.transport) {
    case "docker":
      return `docker://${ref.ref}`;
    case "dir":
      return `dir:${ref.path}`;
    case "store":
      return `store:${ref.name}`;
    case "docker-archive":
      return `docker-archive:${ref.path}${
        ref.ref ? `:${ref.ref}` : ref.index !== undefined ? `:@${ref.index}` : ""
      }`;
    default:
      return `${ref.transport}:${ref.path}${ref.ref ? `:${ref.ref}` : ""}`;
  }
}
