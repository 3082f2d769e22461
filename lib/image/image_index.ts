/**
 * Image indexes: OCI image index (image-index.md) and Docker manifest list (manifest-v2-2.md),
 * which share one shape.
 *
 * @example
 * ```ts
 * import { parseImageIndex } from "./image_index.ts";
 * const index = parseImageIndex({ schemaVersion: 2, manifests: [] }, "index.json");
 * console.log(index.manifests.length); // 0
 * ```
 * @module
 */

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
import { checkSchemaVersion } from "./manifest.ts";
import { isIndexMediaType, isManifestMediaType } from "./media_types.ts";

// The fields of image-spec's v1.Index (a superset of Docker's manifest list), and `config` and
// `layers`: tools that guess a document's type decode it into a struct with the fields of both.
const INDEX_FIELDS = new GoFieldNames([
  "schemaVersion",
  "mediaType",
  "artifactType",
  "manifests",
  "subject",
  "annotations",
  "config",
  "layers",
]);

/** An OCI image index or a Docker manifest list. */
export interface ImageIndex {
  /** Always 2. */
  schemaVersion: 2;
  /** The index's own media type; OCI allows it to be absent. */
  mediaType?: string;
  /** Type of the artifact when the index is used for one (OCI only). */
  artifactType?: string;
  /** The manifests (or nested indexes, or anything else) this index lists. */
  manifests: Descriptor[];
  /** An index or manifest this one refers to, for the referrers API (OCI only). */
  subject?: Descriptor;
  /** Arbitrary metadata (OCI only). */
  annotations?: Record<string, string>;
}

/**
 * Validates a parsed JSON value as an image index (OCI or Docker manifest list) and returns a
 * typed copy. Entries with media types ocibox does not know are kept: image-index.md and
 * image-layout.md say an unknown `mediaType` must not generate an error.
 *
 * @param where names the document in error messages, e.g. `index.json`.
 * @throws {UnsupportedError} for Docker schema 1.
 * @throws {InvalidImageError} for anything else that breaks image-index.md, and for keys that
 *   differ from a field name only in case (see {@linkcode refuseCaseVariants}).
 * @example
 * ```ts
 * parseImageIndex({
 *   schemaVersion: 2,
 *   manifests: [{ mediaType: "application/xml", size: 7143,
 *     digest: "sha256:b3d63d132d21c3ff4c35a061adf23cf43da8ae054247e32faa95494d904a007e" }],
 * }, "index.json");
 * ```
 */
export function parseImageIndex(json: unknown, where: Where = "index"): ImageIndex {
  const path = toPath(where);
  const obj = expectObject(json, path);
  refuseCaseVariants(obj, INDEX_FIELDS, path);
  checkSchemaVersion(obj, path);
  const mediaType = readMediaType(obj, "mediaType", path, false);
  if (mediaType !== undefined && !isIndexMediaType(mediaType)) {
    const why = isManifestMediaType(mediaType)
      ? "that is an image manifest, not an index"
      : "must be " +
        "application/vnd.oci.image.index.v1+json or " +
        "application/vnd.docker.distribution.manifest.list.v2+json";
    throw path.key("mediaType").error(`${mediaType}: ${why}`);
  }
  // See manifest.ts: a document must not be readable both as a manifest and as an index.
  for (const key of ["config", "layers"]) {
    if (obj[key] !== undefined && obj[key] !== null) {
      throw path.key(key).error("must not appear in an image index (ambiguous document)");
    }
  }
  const artifactType = readMediaType(obj, "artifactType", path, false);
  const manifestsPath = path.key("manifests");
  const manifests = expectArray(required(obj, "manifests", path), manifestsPath).map((m, i) =>
    parseDescriptor(m, manifestsPath.index(i))
  );
  const index: ImageIndex = {
    schemaVersion: 2,
    ...(mediaType !== undefined ? { mediaType } : {}),
    ...(artifactType !== undefined ? { artifactType } : {}),
    manifests,
  };
  if (obj.subject !== undefined && obj.subject !== null) {
    index.subject = parseDescriptor(obj.subject, path.key("subject"));
  }
  const annotations = optStringMap(obj, "annotations", path);
  if (annotations !== undefined) index.annotations = { ...annotations };
  return index;
}
