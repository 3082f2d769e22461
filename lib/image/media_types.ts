/**
 * Media types of the OCI Image Spec (media-types.md) and of Docker's image manifest v2 schema 2
 * (manifest-v2-2.md), with predicates over them.
 *
 * @example
 * ```ts
 * import { layerCompression, MEDIA_TYPE_DOCKER_LAYER_GZIP } from "./media_types.ts";
 * layerCompression(MEDIA_TYPE_DOCKER_LAYER_GZIP); // "gzip"
 * ```
 * @module
 */

/** OCI content descriptor. */
export const MEDIA_TYPE_OCI_DESCRIPTOR = "application/vnd.oci.descriptor.v1+json";
/** OCI layout header (the `oci-layout` file). */
export const MEDIA_TYPE_OCI_LAYOUT_HEADER = "application/vnd.oci.layout.header.v1+json";
/** OCI image index. */
export const MEDIA_TYPE_OCI_INDEX = "application/vnd.oci.image.index.v1+json";
/** OCI image manifest. */
export const MEDIA_TYPE_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** OCI image config. */
export const MEDIA_TYPE_OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
/** OCI layer, uncompressed tar. */
export const MEDIA_TYPE_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
/** OCI layer, gzip-compressed tar. */
export const MEDIA_TYPE_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
/** OCI layer, zstd-compressed tar. */
export const MEDIA_TYPE_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
/** OCI non-distributable layer, uncompressed tar (deprecated by the spec). */
export const MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE =
  "application/vnd.oci.image.layer.nondistributable.v1.tar";
/** OCI non-distributable layer, gzip-compressed tar (deprecated by the spec). */
export const MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP =
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/** OCI non-distributable layer, zstd-compressed tar (deprecated by the spec). */
export const MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_ZSTD =
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
/** The empty JSON object `{}`, for descriptors that must exist but carry nothing. */
export const MEDIA_TYPE_OCI_EMPTY = "application/vnd.oci.empty.v1+json";

/** Docker image manifest v2, schema 2. */
export const MEDIA_TYPE_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
/** Docker manifest list ("fat manifest"). */
export const MEDIA_TYPE_DOCKER_MANIFEST_LIST =
  "application/vnd.docker.distribution.manifest.list.v2+json";
/** Docker container config JSON. */
export const MEDIA_TYPE_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
/** Docker layer, gzip-compressed tar. */
export const MEDIA_TYPE_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/** Docker layer, uncompressed tar (used by containers/image and `docker save` round trips). */
export const MEDIA_TYPE_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar";
/** Docker foreign layer, gzip-compressed tar: may be pulled from its URLs, never pushed. */
export const MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP =
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/** Docker foreign layer, uncompressed tar. */
export const MEDIA_TYPE_DOCKER_FOREIGN_LAYER =
  "application/vnd.docker.image.rootfs.foreign.diff.tar";
/** Docker plugin config JSON. */
export const MEDIA_TYPE_DOCKER_PLUGIN_CONFIG = "application/vnd.docker.plugin.v1+json";
/** Docker image manifest schema 1 (deprecated; recognised only to be refused). */
export const MEDIA_TYPE_DOCKER_SCHEMA1_MANIFEST =
  "application/vnd.docker.distribution.manifest.v1+json";
/** Docker image manifest schema 1, signed (deprecated; recognised only to be refused). */
export const MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED_MANIFEST =
  "application/vnd.docker.distribution.manifest.v1+prettyjws";

/** How a layer blob is compressed. */
export type LayerCompression = "none" | "gzip" | "zstd";

const LAYER_COMPRESSION: ReadonlyMap<string, LayerCompression> = new Map([
  [MEDIA_TYPE_OCI_LAYER, "none"],
  [MEDIA_TYPE_OCI_LAYER_GZIP, "gzip"],
  [MEDIA_TYPE_OCI_LAYER_ZSTD, "zstd"],
  [MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE, "none"],
  [MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP, "gzip"],
  [MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_ZSTD, "zstd"],
  [MEDIA_TYPE_DOCKER_LAYER, "none"],
  [MEDIA_TYPE_DOCKER_LAYER_GZIP, "gzip"],
  [MEDIA_TYPE_DOCKER_FOREIGN_LAYER, "none"],
  [MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP, "gzip"],
]);

/**
 * True for the media types of filesystem layers (tar, possibly compressed), OCI or Docker.
 *
 * @example
 * ```ts
 * isLayerMediaType("application/vnd.oci.image.layer.v1.tar+zstd"); // true
 * isLayerMediaType("application/vnd.oci.image.config.v1+json"); // false
 * ```
 */
export function isLayerMediaType(mediaType: string): boolean {
  return LAYER_COMPRESSION.has(mediaType);
}

/**
 * The compression of a layer media type, or undefined when it is not a known layer type.
 *
 * @example
 * ```ts
 * layerCompression("application/vnd.oci.image.layer.v1.tar"); // "none"
 * layerCompression("application/vnd.example+type"); // undefined
 * ```
 */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  return LAYER_COMPRESSION.get(mediaType);
}

/**
 * True for layers with distribution restrictions (OCI non-distributable, Docker foreign):
 * their blobs may be fetched from `urls` and are not pushed.
 *
 * @example
 * ```ts
 * isNondistributableMediaType("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"); // true
 * ```
 */
export function isNondistributableMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE ||
    mediaType === MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP ||
    mediaType === MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_ZSTD ||
    mediaType === MEDIA_TYPE_DOCKER_FOREIGN_LAYER ||
    mediaType === MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP;
}

/**
 * True for multi-manifest media types: OCI image index and Docker manifest list.
 *
 * @example
 * ```ts
 * isIndexMediaType("application/vnd.docker.distribution.manifest.list.v2+json"); // true
 * ```
 */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE_OCI_INDEX || mediaType === MEDIA_TYPE_DOCKER_MANIFEST_LIST;
}

/**
 * True for single-image manifest media types ocibox reads: OCI image manifest and Docker
 * schema 2 (not indexes, not schema 1).
 *
 * @example
 * ```ts
 * isManifestMediaType("application/vnd.oci.image.manifest.v1+json"); // true
 * isManifestMediaType("application/vnd.oci.image.index.v1+json"); // false
 * ```
 */
export function isManifestMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE_OCI_MANIFEST || mediaType === MEDIA_TYPE_DOCKER_MANIFEST;
}

/**
 * True for Docker schema 1 manifests, which ocibox recognises only to refuse them.
 *
 * @example
 * ```ts
 * isSchema1MediaType("application/vnd.docker.distribution.manifest.v1+prettyjws"); // true
 * ```
 */
export function isSchema1MediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE_DOCKER_SCHEMA1_MANIFEST ||
    mediaType === MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED_MANIFEST;
}

/**
 * True for image config media types: OCI image config and Docker container config.
 *
 * @example
 * ```ts
 * isImageConfigMediaType("application/vnd.docker.container.image.v1+json"); // true
 * ```
 */
export function isImageConfigMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE_OCI_CONFIG || mediaType === MEDIA_TYPE_DOCKER_CONFIG;
}

/**
 * True for Docker's own media types (`application/vnd.docker.*`).
 *
 * @example
 * ```ts
 * isDockerMediaType("application/vnd.docker.container.image.v1+json"); // true
 * isDockerMediaType("application/vnd.oci.image.config.v1+json"); // false
 * ```
 */
export function isDockerMediaType(mediaType: string): boolean {
  return mediaType.startsWith("application/vnd.docker.");
}

/**
 * The layer media type for a manifest format, compression and distributability. Docker has no
 * zstd layer type: asking for one is an error the caller reports.
 *
 * @example
 * ```ts
 * layerMediaTypeFor("oci", "zstd"); // "application/vnd.oci.image.layer.v1.tar+zstd"
 * layerMediaTypeFor("docker", "none"); // "application/vnd.docker.image.rootfs.diff.tar"
 * ```
 */
export function layerMediaTypeFor(
  format: "oci" | "docker",
  compression: LayerCompression,
  nondistributable = false,
): string | undefined {
  for (const [type, c] of LAYER_COMPRESSION) {
    if (c !== compression || isNondistributableMediaType(type) !== nondistributable) continue;
    if (isDockerMediaType(type) === (format === "docker")) return type;
  }
  return undefined;
}
