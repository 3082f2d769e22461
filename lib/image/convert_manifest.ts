/**
 * Conversion of image manifests between OCI and Docker schema 2 (the media types of the
 * manifest, its config and its layers; blobs stay byte-identical), and compact, stable
 * serialisation of manifests.
 *
 * @example
 * ```ts
 * import { convertManifest } from "./convert_manifest.ts";
 * const manifest = {
 *   schemaVersion: 2 as const,
 *   mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   config: {
 *     mediaType: "application/vnd.oci.image.config.v1+json",
 *     digest: "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
 *     size: 7023,
 *   },
 *   layers: [{
 *     mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
 *     digest: "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0",
 *     size: 32654,
 *   }],
 * };
 * const { mediaType, warnings } = convertManifest(manifest, "docker");
 * console.log(mediaType, warnings); // "application/vnd.docker.distribution.manifest.v2+json" []
 * ```
 * @module
 */

import { UnsupportedError } from "../errors.ts";
import { type Descriptor, descriptorJson } from "./descriptor.ts";
import { type ImageManifest, manifestArtifactType } from "./manifest.ts";
import {
  MEDIA_TYPE_DOCKER_CONFIG,
  MEDIA_TYPE_DOCKER_FOREIGN_LAYER,
  MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP,
  MEDIA_TYPE_DOCKER_LAYER,
  MEDIA_TYPE_DOCKER_LAYER_GZIP,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_LAYER,
  MEDIA_TYPE_OCI_LAYER_GZIP,
  MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE,
  MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP,
  MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
  MEDIA_TYPE_OCI_LAYER_ZSTD,
  MEDIA_TYPE_OCI_MANIFEST,
} from "./media_types.ts";

/** The two manifest formats ocibox converts between. */
export type ManifestFormat = "oci" | "docker";

/** The result of {@linkcode convertManifest}. */
export interface ConvertedManifest {
  /** The converted manifest. */
  manifest: ImageManifest;
  /** Its serialisation (compact JSON, stable key order): the bytes to store and digest. */
  bytes: Uint8Array;
  /** The media type of `bytes`. */
  mediaType: string;
  /** What the target format could not carry and was dropped, one line each. */
  warnings: string[];
}

const OCI_TO_DOCKER_LAYER: ReadonlyMap<string, string> = new Map([
  [MEDIA_TYPE_OCI_LAYER, MEDIA_TYPE_DOCKER_LAYER],
  [MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_DOCKER_LAYER_GZIP],
  [MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE, MEDIA_TYPE_DOCKER_FOREIGN_LAYER],
  [MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP, MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP],
]);

const DOCKER_TO_OCI_LAYER: ReadonlyMap<string, string> = new Map(
  [...OCI_TO_DOCKER_LAYER].map(([oci, docker]) => [docker, oci]),
);

/** The format a manifest media type belongs to (an absent media type means OCI). */
function formatOf(m: ImageManifest): ManifestFormat {
  return m.mediaType === MEDIA_TYPE_DOCKER_MANIFEST ? "docker" : "oci";
}

/**
 * Converts an image manifest to `target`. Layer types map docker gzip ↔ OCI tar+gzip, docker
 * tar ↔ OCI tar, docker foreign ↔ OCI non-distributable; the config type maps Docker container
 * config ↔ OCI image config. What only OCI can say is dropped with a warning (annotations,
 * config urls, subject, embedded data, descriptor platforms and artifact types).
 *
 * @throws {UnsupportedError} for what the target cannot express: zstd layers or artifacts
 *   (non-image config, `artifactType`) to Docker; unknown layer or config media types.
 * @example
 * ```ts
 * const manifest = {
 *   schemaVersion: 2 as const,
 *   mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   config: {
 *     mediaType: "application/vnd.oci.image.config.v1+json",
 *     digest: "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
 *     size: 7023,
 *   },
 *   layers: [{
 *     mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
 *     digest: "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0",
 *     size: 32654,
 *   }],
 * };
 * const out = convertManifest(manifest, "docker");
 * out.manifest.layers[0].mediaType; // "application/vnd.docker.image.rootfs.diff.tar.gzip"
 * ```
 */
export function convertManifest(
  manifest: ImageManifest,
  target: ManifestFormat,
): ConvertedManifest {
  const warnings: string[] = [];
  const converted = target === "docker"
    ? toDocker(manifest, warnings)
    : toOci(manifest, formatOf(manifest));
  return {
    manifest: converted,
    bytes: serializeManifest(converted),
    mediaType: converted.mediaType!,
    warnings,
  };
}

function toOci(m: ImageManifest, from: ManifestFormat): ImageManifest {
  let config = m.config;
  let layers = m.layers;
  if (from === "docker") {
    if (config.mediaType === MEDIA_TYPE_DOCKER_CONFIG) {
      config = { ...config, mediaType: MEDIA_TYPE_OCI_CONFIG };
    } else if (config.mediaType !== MEDIA_TYPE_OCI_CONFIG) {
      throw new UnsupportedError(
        `cannot convert to OCI: config media type ${config.mediaType} has no OCI equivalent`,
      );
    }
    layers = m.layers.map((l, i) => {
      const mapped = DOCKER_TO_OCI_LAYER.get(l.mediaType);
      if (mapped !== undefined) return { ...l, mediaType: mapped };
      if (OCI_TO_DOCKER_LAYER.has(l.mediaType)) return l;
      throw new UnsupportedError(
        `cannot convert to OCI: layers[${i}] media type ${l.mediaType} has no OCI equivalent`,
      );
    });
  }
  // Everything an OCI manifest can hold is kept; an OCI source is only re-serialised.
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    ...(m.artifactType !== undefined ? { artifactType: m.artifactType } : {}),
    config,
    layers: layers.map((l) => ({ ...l })),
    ...(m.subject !== undefined ? { subject: m.subject } : {}),
    ...(m.annotations !== undefined ? { annotations: m.annotations } : {}),
  };
}

function toDocker(m: ImageManifest, warnings: string[]): ImageManifest {
  const artifact = manifestArtifactType(m);
  if (artifact !== undefined) {
    throw new UnsupportedError(
      `cannot convert to Docker schema 2: the manifest is an artifact (${artifact}), not an image`,
    );
  }
  const layers = m.layers.map((l, i) => {
    const where = `layers[${i}]`;
    let mediaType = l.mediaType;
    if (
      mediaType === MEDIA_TYPE_OCI_LAYER_ZSTD ||
      mediaType === MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_ZSTD
    ) {
      throw new UnsupportedError(
        `cannot convert to Docker schema 2: ${where} is zstd-compressed, which Docker schema 2 ` +
          "cannot express; recompress it with gzip or keep the OCI format",
      );
    }
    mediaType = OCI_TO_DOCKER_LAYER.get(mediaType) ?? mediaType;
    if (!DOCKER_TO_OCI_LAYER.has(mediaType)) {
      throw new UnsupportedError(
        `cannot convert to Docker schema 2: ${where} media type ${l.mediaType} ` +
          "has no Docker equivalent",
      );
    }
    return dockerDescriptor({ ...l, mediaType }, where, true, warnings);
  });
  const config = dockerDescriptor(
    { ...m.config, mediaType: MEDIA_TYPE_DOCKER_CONFIG },
    "config",
    false,
    warnings,
  );
  if (m.annotations !== undefined && Object.keys(m.annotations).length > 0) {
    warnings.push("dropped the manifest annotations: Docker schema 2 has no annotations");
  }
  if (m.subject !== undefined) {
    warnings.push(`dropped subject ${m.subject.digest}: Docker schema 2 has no subject`);
  }
  return { schemaVersion: 2, mediaType: MEDIA_TYPE_DOCKER_MANIFEST, config, layers };
}

// Keeps what a Docker schema 2 descriptor can hold (urls only on layers, per media-types.md's
// compatibility matrix) and reports everything else.
function dockerDescriptor(
  d: Descriptor,
  where: string,
  urlsAllowed: boolean,
  warnings: string[],
): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls !== undefined && d.urls.length > 0) {
    if (urlsAllowed) out.urls = d.urls;
    else warnings.push(`dropped ${where}.urls: Docker schema 2 has no urls on the config`);
  }
  const dropped: string[] = [];
  if (d.annotations !== undefined && Object.keys(d.annotations).length > 0) {
    dropped.push("annotations");
  }
  if (d.data !== undefined) dropped.push("data");
  if (d.platform !== undefined) dropped.push("platform");
  if (d.artifactType !== undefined) dropped.push("artifactType");
  if (dropped.length > 0) {
    warnings.push(`dropped ${where}.${dropped.join(`, ${where}.`)}: not in Docker schema 2`);
  }
  return out;
}

// Docker's own tools write descriptors as mediaType, size, digest (distribution's Go types).
function dockerDescriptorJson(d: Descriptor): Record<string, unknown> {
  const out: Record<string, unknown> = { mediaType: d.mediaType, size: d.size, digest: d.digest };
  if (d.urls !== undefined && d.urls.length > 0) out.urls = d.urls;
  return out;
}

/**
 * Serialises a manifest as compact JSON with keys in a stable order (schemaVersion, mediaType,
 * artifactType, config, layers, subject, annotations; descriptors as Go writes them). Docker
 * manifests get Docker's descriptor key order (mediaType, size, digest).
 *
 * @example
 * ```ts
 * const manifest = {
 *   schemaVersion: 2 as const,
 *   mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   config: {
 *     mediaType: "application/vnd.oci.image.config.v1+json",
 *     digest: "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
 *     size: 7023,
 *   },
 *   layers: [{
 *     mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
 *     digest: "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0",
 *     size: 32654,
 *   }],
 * };
 * const bytes = serializeManifest(manifest);
 * new TextDecoder().decode(bytes); // '{"schemaVersion":2,"mediaType":"application/vnd.oci…'
 * ```
 */
export function serializeManifest(m: ImageManifest): Uint8Array {
  const docker = m.mediaType === MEDIA_TYPE_DOCKER_MANIFEST;
  const desc = docker ? dockerDescriptorJson : descriptorJson;
  const out: Record<string, unknown> = { schemaVersion: m.schemaVersion };
  if (m.mediaType !== undefined) out.mediaType = m.mediaType;
  if (m.artifactType !== undefined) out.artifactType = m.artifactType;
  out.config = desc(m.config);
  out.layers = m.layers.map(desc);
  if (m.subject !== undefined) out.subject = desc(m.subject);
  if (m.annotations !== undefined && Object.keys(m.annotations).length > 0) {
    out.annotations = m.annotations;
  }
  return new TextEncoder().encode(JSON.stringify(out));
}
