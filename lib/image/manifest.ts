/**
 * Image manifests: OCI image manifest (manifest.md) and Docker image manifest v2 schema 2
 * (manifest-v2-2.md), which share one shape.
 *
 * @example
 * ```ts
 * import { parseImageManifest } from "./manifest.ts";
 * const text = '{"schemaVersion":2,"config":{' +
 *   '"mediaType":"application/vnd.oci.image.config.v1+json",' +
 *   '"digest":"sha256:7640be529cc3c38da0eb61e86ac2cd94df1ca5d93dca48089d9a7d465d1ec19f",' +
 *   '"size":134},"layers":[]}';
 * const m = parseImageManifest(JSON.parse(text), "manifest");
 * console.log(m.layers.length); // 0
 * ```
 * @module
 */

import { UnsupportedError } from "../errors.ts";
import { type Descriptor, parseDescriptor, readMediaType } from "./descriptor.ts";
import {
  expectArray,
  expectObject,
  GoFieldNames,
  optStringMap,
  refuseCaseVariants,
  required,
  toPath,
  type Where,
} from "./json_fields.ts";
import {
  isImageConfigMediaType,
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
  MEDIA_TYPE_OCI_EMPTY,
} from "./media_types.ts";

/** An OCI image manifest or a Docker schema 2 manifest. */
export interface ImageManifest {
  /** Always 2 (schema 1 is refused). */
  schemaVersion: 2;
  /** The manifest's own media type; OCI allows it to be absent. */
  mediaType?: string;
  /** Type of the artifact when the manifest packages one (OCI only). */
  artifactType?: string;
  /** The config blob. */
  config: Descriptor;
  /** The layers, base first. */
  layers: Descriptor[];
  /** A manifest this one refers to, for the referrers API (OCI only). */
  subject?: Descriptor;
  /** Arbitrary metadata (OCI only). */
  annotations?: Record<string, string>;
}

// The fields of image-spec's v1.Manifest (a superset of Docker schema 2's), and `manifests`:
// tools that guess a document's type decode it into a struct with the fields of both.
const MANIFEST_FIELDS = new GoFieldNames([
  "schemaVersion",
  "mediaType",
  "artifactType",
  "config",
  "layers",
  "subject",
  "annotations",
  "manifests",
]);

/** The empty JSON object `{}`: the payload of the empty descriptor. */
export const EMPTY_JSON: Uint8Array = new Uint8Array([0x7b, 0x7d]);

/** The empty descriptor of manifest.md's "Guidance for an Empty Descriptor". */
export const EMPTY_DESCRIPTOR: Readonly<Descriptor> = Object.freeze({
  mediaType: MEDIA_TYPE_OCI_EMPTY,
  digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
  size: 2,
  data: "e30=",
});

/**
 * Throws when a parsed document is a Docker schema 1 manifest, which ocibox does not read.
 *
 * @throws {UnsupportedError} for `schemaVersion: 1`.
 * @example
 * ```ts
 * refuseSchema1({ schemaVersion: 2 }, "manifest"); // fine; schemaVersion 1 would throw
 * ```
 */
export function refuseSchema1(obj: Record<string, unknown>, where: Where): void {
  const mediaType = obj.mediaType;
  if (obj.schemaVersion === 1 || (typeof mediaType === "string" && isSchema1MediaType(mediaType))) {
    throw new UnsupportedError(
      `${toPath(where)}: Docker schema 1 manifests are deprecated and not supported; ` +
        "convert the image with a newer tool or pull it from a registry that serves schema 2",
    );
  }
}

/**
 * Checks `schemaVersion` of a manifest or index.
 *
 * @throws {UnsupportedError} for schema 1; {InvalidImageError} for anything but 2.
 * @example
 * ```ts
 * checkSchemaVersion({ schemaVersion: 2 }, "index"); // ok
 * ```
 */
export function checkSchemaVersion(obj: Record<string, unknown>, where: Where): void {
  const path = toPath(where);
  refuseSchema1(obj, path);
  const v = required(obj, "schemaVersion", path);
  if (v !== 2) throw path.key("schemaVersion").error(`must be 2, got ${JSON.stringify(v)}`);
}

/**
 * Validates a parsed JSON value as an image manifest (OCI or Docker schema 2) and returns a
 * typed copy. Unknown config and layer media types are accepted, as the spec requires of
 * implementations that store or copy manifests; an empty `layers` array is accepted (umoci
 * writes such images), a missing one is not.
 *
 * @param where names the document in error messages, e.g. `manifest sha256:…`.
 * @throws {UnsupportedError} for Docker schema 1.
 * @throws {InvalidImageError} for anything else that breaks manifest.md or manifest-v2-2.md, and
 *   for keys that differ from a field name only in case (see {@linkcode refuseCaseVariants}).
 * @example
 * ```ts
 * parseImageManifest({
 *   schemaVersion: 2,
 *   mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   config: { mediaType: "application/vnd.oci.image.config.v1+json", size: 7023,
 *     digest: "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7" },
 *   layers: [],
 * }, "manifest");
 * ```
 */
export function parseImageManifest(json: unknown, where: Where = "manifest"): ImageManifest {
  const path = toPath(where);
  const obj = expectObject(json, path);
  refuseCaseVariants(obj, MANIFEST_FIELDS, path);
  checkSchemaVersion(obj, path);
  const mediaType = readMediaType(obj, "mediaType", path, false);
  if (mediaType !== undefined && !isManifestMediaType(mediaType)) {
    const why = isIndexMediaType(mediaType)
      ? "that is an index, not an image manifest"
      : "must be " +
        "application/vnd.oci.image.manifest.v1+json or " +
        "application/vnd.docker.distribution.manifest.v2+json";
    throw path.key("mediaType").error(`${mediaType}: ${why}`);
  }
  // A document that is both manifest-shaped and index-shaped could be read differently by
  // different tools under one digest (GHSA-77vh-xpmg-72qh), so refuse it.
  if (obj.manifests !== undefined && obj.manifests !== null) {
    throw path.key("manifests").error("must not appear in an image manifest (ambiguous document)");
  }
  const artifactType = readMediaType(obj, "artifactType", path, false);
  const config = parseDescriptor(required(obj, "config", path), path.key("config"));
  if (config.mediaType === MEDIA_TYPE_OCI_EMPTY && artifactType === undefined) {
    throw path.key("artifactType").error(
      "is required when config.mediaType is application/vnd.oci.empty.v1+json",
    );
  }
  const layersPath = path.key("layers");
  const layers = expectArray(required(obj, "layers", path), layersPath).map((l, i) =>
    parseDescriptor(l, layersPath.index(i))
  );
  // Built in the spec's field order, so that serialising it reads naturally.
  const manifest: ImageManifest = {
    schemaVersion: 2,
    ...(mediaType !== undefined ? { mediaType } : {}),
    ...(artifactType !== undefined ? { artifactType } : {}),
    config,
    layers,
  };
  const subject = obj.subject;
  if (subject !== undefined && subject !== null) {
    manifest.subject = parseDescriptor(subject, path.key("subject"));
  }
  const annotations = optStringMap(obj, "annotations", path);
  if (annotations !== undefined) manifest.annotations = { ...annotations };
  return manifest;
}

/**
 * The artifact type of a manifest, or undefined for a container image: `artifactType` when set,
 * else the config media type when it is not an image config (manifest.md's fallback for
 * artifacts made before `artifactType` existed).
 *
 * @example
 * ```ts
 * const m = parseImageManifest({
 *   schemaVersion: 2,
 *   artifactType: "application/vnd.example+type",
 *   config: EMPTY_DESCRIPTOR,
 *   layers: [EMPTY_DESCRIPTOR],
 * });
 * manifestArtifactType(m); // "application/vnd.example+type" (undefined for container images)
 * ```
 */
export function manifestArtifactType(m: ImageManifest): string | undefined {
  if (m.artifactType !== undefined) return m.artifactType;
  return isImageConfigMediaType(m.config.mediaType) ? undefined : m.config.mediaType;
}
