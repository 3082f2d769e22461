/**
 * The one way ocibox reads manifest bytes: decide whether they are an image manifest or an
 * index, validate them, and keep the original bytes and their digest side by side (digests
 * are over bytes, never over re-serialised JSON).
 *
 * @example
 * ```ts
 * import { parseManifestBytes } from "./parsed.ts";
 * const bytes = new TextEncoder().encode('{"schemaVersion":2,"manifests":[]}');
 * const parsed = parseManifestBytes(bytes);
 * console.log(parsed.kind, parsed.mediaType); // "index" "application/vnd.oci.image.index.v1+json"
 * ```
 * @module
 */

import { type Digest, parseDigest } from "../digest/digest.ts";
import { digestOf } from "../digest/digester.ts";
import { DigestMismatchError, UnsupportedError } from "../errors.ts";
import { type ImageIndex, parseImageIndex } from "./image_index.ts";
import { expectObject, JsonPath, parseJsonText } from "./json_fields.ts";
import { type ImageManifest, parseImageManifest, refuseSchema1 } from "./manifest.ts";
import {
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
} from "./media_types.ts";

/** Fields every parsed manifest or index has. */
interface ParsedCommon {
  /** The media type ocibox decided the bytes have. */
  mediaType: string;
  /** The original bytes, exactly as received. */
  bytes: Uint8Array;
  /** Digest of `bytes` (sha256, or the algorithm of the expected digest when one was given). */
  digest: Digest;
  /** Set when the document's `mediaType` and the hint disagreed and the digest settled it. */
  warning?: string;
}

/** A parsed image manifest with its bytes. */
export interface ParsedImageManifest extends ParsedCommon {
  kind: "manifest";
  manifest: ImageManifest;
}

/** A parsed image index (or Docker manifest list) with its bytes. */
export interface ParsedImageIndex extends ParsedCommon {
  kind: "index";
  index: ImageIndex;
}

/** An image manifest or an index, with the bytes it was parsed from. */
export type ParsedManifest = ParsedImageManifest | ParsedImageIndex;

/** Extra knowledge the caller has about the bytes. */
export interface ParseManifestOptions {
  /** The digest the bytes must have (e.g. from a descriptor or an `@sha256:` reference). */
  expectedDigest?: Digest;
  /** Names the document in error messages; defaults to `manifest`. */
  what?: string;
}

// Generic types servers send for anything; they say nothing about which manifest this is.
function hintMediaType(hint: string | undefined): string | undefined {
  if (hint === undefined) return undefined;
  const bare = hint.split(";")[0].trim().toLowerCase();
  if (isManifestMediaType(bare) || isIndexMediaType(bare) || isSchema1MediaType(bare)) return bare;
  return undefined;
}

function kindOf(mediaType: string): "manifest" | "index" | undefined {
  if (isManifestMediaType(mediaType)) return "manifest";
  if (isIndexMediaType(mediaType)) return "index";
  return undefined;
}

/**
 * Parses manifest bytes into an image manifest or an index.
 *
 * The media type comes from the document's `mediaType` field, else from `mediaTypeHint`
 * (e.g. an HTTP Content-Type or a descriptor's mediaType; generic types such as
 * `application/json` are ignored), else from its shape (`manifests` → OCI index, `config` →
 * OCI manifest). When the field and the hint disagree, media-types.md "Media Type Conflicts"
 * applies with the hint as the expected type: it wins if the bytes match
 * `options.expectedDigest`, otherwise that is an error.
 *
 * @throws {UnsupportedError} for Docker schema 1, unknown manifest media types, and an expected
 *   digest whose algorithm ocibox cannot compute.
 * @throws {DigestMismatchError} when the bytes do not match `options.expectedDigest`.
 * @throws {InvalidImageError} for invalid JSON, invalid documents and media type conflicts.
 * @example
 * ```ts
 * const response = new Response('{"schemaVersion":2,"manifests":[]}', {
 *   headers: { "content-type": "application/vnd.oci.image.index.v1+json" },
 * });
 * const bytes = new Uint8Array(await response.arrayBuffer());
 * const parsed = parseManifestBytes(bytes, response.headers.get("content-type") ?? undefined);
 * if (parsed.kind === "index") console.log(parsed.index.manifests.length); // 0
 * ```
 */
export function parseManifestBytes(
  bytes: Uint8Array,
  mediaTypeHint?: string,
  options: ParseManifestOptions = {},
): ParsedManifest {
  const what = options.what ?? "manifest";
  const path = new JsonPath(what);
  const expected = options.expectedDigest;
  const algorithm = expected === undefined ? "sha256" : parseDigest(expected).algorithm;
  const digest = digestOf(bytes, algorithm);
  if (expected !== undefined && digest !== expected) {
    throw new DigestMismatchError(what, expected, digest);
  }

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw path.error("is not valid UTF-8");
  }
  const obj = expectObject(parseJsonText(text, path), path);
  refuseSchema1(obj, path);

  const hint = hintMediaType(mediaTypeHint);
  if (hint !== undefined && isSchema1MediaType(hint)) refuseSchema1({ mediaType: hint }, path);
  const field = typeof obj.mediaType === "string" ? obj.mediaType : undefined;

  let mediaType: string;
  let warning: string | undefined;
  if (field !== undefined && hint !== undefined && field !== hint) {
    const conflict = `mediaType ${field} conflicts with the expected ${hint}`;
    if (expected === undefined) {
      throw path.error(`${conflict} and there is no expected digest to settle it`);
    }
    if (kindOf(field) !== kindOf(hint)) throw path.error(conflict);
    // The digest matched, so the bytes are what the referrer meant: respect its media type.
    mediaType = hint;
    warning = `${what}: ${conflict}; using ${hint} because the digest matches`;
  } else if (field !== undefined) {
    mediaType = field;
  } else if (hint !== undefined) {
    mediaType = hint;
  } else if (obj.manifests !== undefined) {
    mediaType = MEDIA_TYPE_OCI_INDEX;
  } else if (obj.config !== undefined) {
    mediaType = MEDIA_TYPE_OCI_MANIFEST;
  } else {
    throw path.error(
      "has no mediaType and is neither an image manifest (config, layers) nor an index (manifests)",
    );
  }

  const common = { mediaType, bytes, digest, ...(warning !== undefined ? { warning } : {}) };
  switch (kindOf(mediaType)) {
    case "manifest":
      return { kind: "manifest", ...common, manifest: parseImageManifest(obj, path) };
    case "index":
      return { kind: "index", ...common, index: parseImageIndex(obj, path) };
    default:
      throw new UnsupportedError(
        `${what}: unsupported manifest media type ${mediaType} (supported: OCI image manifest ` +
          "and index, Docker schema 2 manifest and manifest list)",
      );
  }
}
