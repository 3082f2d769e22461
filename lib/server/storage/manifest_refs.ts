/**
 * What a pushed manifest is and what it points at, for the registry store: validation of a
 * manifest PUT's body against its Content-Type (pure; no storage), and the digests a stored
 * manifest keeps alive (for gc) or needs (for a PUT).
 *
 * @example
 * ```ts
 * import { checkPushedManifest } from "./manifest_refs.ts";
 * const body = new TextEncoder().encode('{"schemaVersion":2,"manifests":[]}');
 * const info = checkPushedManifest(body, "application/vnd.oci.image.index.v1+json");
 * info.required; // []
 * ```
 * @module
 */

import { DigestMismatchError, OciboxError } from "../../errors.ts";
import type { Descriptor } from "../../image/descriptor.ts";
import { REF_NAME_ANNOTATION } from "../../image/layout.ts";
import { manifestArtifactType } from "../../image/manifest.ts";
import {
  isIndexMediaType,
  isManifestMediaType,
  isNondistributableMediaType,
} from "../../image/media_types.ts";
import { parseManifestBytes } from "../../image/parsed.ts";
import { ManifestRejectedError } from "./store_errors.ts";

/** A manifest's facts that the store keeps or needs. */
export interface ManifestFacts {
  /** The digest of the bytes (sha256, or the algorithm of the expected digest). */
  readonly digest: string;
  /** The media type (the Content-Type it was pushed with). */
  readonly mediaType: string;
  /** Config and layers (image manifest) or child manifests (index) that must exist. */
  readonly required: readonly string[];
  /** Everything referenced that gc must keep (required, plus foreign layers that happen to be stored). */
  readonly references: readonly string[];
  /** Child manifests (an index's `manifests`), which gc descends into. */
  readonly children: readonly string[];
  /** The subject's digest, for the referrers API. */
  readonly subject?: string;
  /** `artifactType`, or the config's media type for a non-image artifact manifest. */
  readonly artifactType?: string;
  /** The manifest's annotations. */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The bare media type of a Content-Type (parameters dropped, lower case). */
export function bareMediaType(contentType: string): string {
  return contentType.split(";")[0].trim().toLowerCase();
}

// Foreign (Docker) and non-distributable (OCI) layers with URLs are fetched from there, never
// pushed: distribution accepts manifests whose such layers are missing, and so do we.
function mustExist(d: Descriptor): boolean {
  return !(isNondistributableMediaType(d.mediaType) && (d.urls?.length ?? 0) > 0);
}

/**
 * Reads facts from stored (already validated) manifest bytes; never throws: bytes that do not
 * parse have no references.
 *
 * @example
 * ```ts
 * manifestFacts(new TextEncoder().encode("{}"), "application/json").references; // []
 * ```
 */
export function manifestFacts(
  bytes: Uint8Array,
  mediaType: string,
  digest?: string,
): ManifestFacts {
  try {
    return factsOf(bytes, mediaType, digest);
  } catch {
    return {
      digest: digest ?? "",
      mediaType,
      required: [],
      references: [],
      children: [],
    };
  }
}

function factsOf(bytes: Uint8Array, mediaType: string, expectedDigest?: string): ManifestFacts {
  const parsed = parseManifestBytes(bytes, mediaType, {
    ...(expectedDigest !== undefined ? { expectedDigest } : {}),
  });
  const annotations = parsed.kind === "manifest"
    ? parsed.manifest.annotations
    : parsed.index.annotations;
  const subject = parsed.kind === "manifest" ? parsed.manifest.subject : parsed.index.subject;
  let artifactType: string | undefined;
  let required: string[];
  let references: string[];
  let children: string[] = [];
  if (parsed.kind === "manifest") {
    const m = parsed.manifest;
    artifactType = manifestArtifactType(m);
    const all = [m.config, ...m.layers];
    references = all.map((d) => d.digest);
    required = all.filter(mustExist).map((d) => d.digest);
  } else {
    artifactType = parsed.index.artifactType;
    children = parsed.index.manifests.map((d) => d.digest);
    references = children;
    required = children;
  }
  return {
    digest: parsed.digest,
    mediaType: parsed.mediaType,
    required: [...new Set(required)],
    references: [...new Set(references)],
    children: [...new Set(children)],
    ...(subject !== undefined ? { subject: subject.digest } : {}),
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
  };
}

/**
 * Validates a manifest PUT: the Content-Type is one of the manifest media types the registry
 * stores (OCI image manifest and index, Docker schema 2 manifest and manifest list; artifacts
 * are OCI image manifests with an `artifactType` or a non-image config), the body parses as
 * that type, and its own `mediaType` (when present) equals the Content-Type. With
 * `expectedDigest` (a PUT by digest) the body must hash to it.
 *
 * @throws {ManifestRejectedError} MANIFEST_INVALID for every failed check but the digest.
 * @throws {DigestMismatchError} when the body does not hash to `expectedDigest`.
 * @example
 * ```ts
 * checkPushedManifest(new TextEncoder().encode("{"), "application/vnd.oci.image.manifest.v1+json");
 * // throws ManifestRejectedError (MANIFEST_INVALID)
 * ```
 */
export function checkPushedManifest(
  bytes: Uint8Array,
  contentType: string,
  expectedDigest?: string,
): ManifestFacts {
  const mediaType = bareMediaType(contentType);
  if (!isManifestMediaType(mediaType) && !isIndexMediaType(mediaType)) {
    throw new ManifestRejectedError(
      "MANIFEST_INVALID",
      `unsupported manifest media type ${JSON.stringify(contentType)} (accepted: ` +
        "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
        "application/vnd.docker.distribution.manifest.v2+json, " +
        "application/vnd.docker.distribution.manifest.list.v2+json)",
    );
  }
  let facts: ManifestFacts;
  let field: unknown;
  try {
    facts = factsOf(bytes, mediaType, expectedDigest);
    field = (JSON.parse(new TextDecoder().decode(bytes)) as { mediaType?: unknown }).mediaType;
  } catch (e) {
    if (e instanceof DigestMismatchError) throw e;
    const reason = e instanceof OciboxError ? e.message : String(e);
    throw new ManifestRejectedError("MANIFEST_INVALID", reason);
  }
  if (field !== undefined && field !== mediaType) {
    throw new ManifestRejectedError(
      "MANIFEST_INVALID",
      `the manifest's mediaType ${JSON.stringify(field)} differs from its Content-Type ` +
        JSON.stringify(mediaType),
    );
  }
  if (facts.mediaType !== mediaType) {
    throw new ManifestRejectedError(
      "MANIFEST_INVALID",
      `the body is a ${facts.mediaType}, not a ${mediaType}`,
    );
  }
  return facts;
}

/**
 * The annotations an index.json entry carries for a manifest: its own, without a ref name
 * (which in an OCI layout means a tag, and tags are the index's business).
 */
export function entryAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
): Record<string, string> | undefined {
  if (annotations === undefined) return undefined;
  const out = Object.fromEntries(
    Object.entries(annotations).filter(([k]) => k !== REF_NAME_ANNOTATION),
  );
  return Object.keys(out).length > 0 ? out : undefined;
}
