/**
 * Content descriptors (descriptor.md): the typed shape, validation of parsed JSON, and the
 * canonical key order used when ocibox writes descriptors.
 *
 * @example
 * ```ts
 * import { parseDescriptor } from "./descriptor.ts";
 * const d = parseDescriptor({
 *   mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   size: 7682,
 *   digest: "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
 * }, "descriptor");
 * console.log(d.size); // 7682
 * ```
 * @module
 */

import { type Digest, isHashAlgorithm, parseDigest } from "../digest/digest.ts";
import { verifyBytes } from "../digest/verify.ts";
import { InvalidDigestError } from "../errors.ts";
import {
  expectNonNegativeInteger,
  expectObject,
  GoFieldNames,
  type JsonPath,
  optString,
  optStringArray,
  optStringMap,
  refuseCaseVariants,
  reqString,
  required,
  toPath,
  type Where,
} from "./json_fields.ts";
import { parsePlatformObject, type Platform } from "./platform.ts";

/** A reference to content by media type, digest and size (descriptor.md). */
export interface Descriptor {
  /** Media type of the referenced content. */
  mediaType: string;
  /** Digest of the referenced content's bytes. */
  digest: Digest;
  /** Size of the referenced content in bytes. */
  size: number;
  /** URLs the content may be downloaded from. */
  urls?: string[];
  /** Arbitrary metadata (annotation rules). */
  annotations?: Record<string, string>;
  /** The content itself, base64-encoded (RFC 4648 §4). */
  data?: string;
  /** Platform of a manifest (in an image index). */
  platform?: Platform;
  /** Type of the artifact the descriptor points to. */
  artifactType?: string;
}

// descriptor.md requires RFC 6838 media types; this is the pattern of the spec's JSON schema
// (defs-descriptor.json), which encodes RFC 6838 section 4.2's restricted-name rules.
const MEDIA_TYPE =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/**
 * True when `s` is a media type as the spec allows it (RFC 6838 `type/subtype`, no parameters).
 *
 * @example
 * ```ts
 * isValidMediaType("application/vnd.oci.image.manifest.v1+json"); // true
 * isValidMediaType("not a media type"); // false
 * ```
 */
export function isValidMediaType(s: string): boolean {
  return MEDIA_TYPE.test(s);
}

/**
 * Reads a media type field and checks its syntax.
 *
 * @throws {InvalidImageError} when missing (if required) or malformed.
 * @example
 * ```ts
 * readMediaType({ mediaType: "a/b" }, "mediaType", "config", true); // "a/b"
 * ```
 */
export function readMediaType(
  obj: Record<string, unknown>,
  key: string,
  where: Where,
  isRequired: boolean,
): string | undefined {
  const path = toPath(where);
  const value = isRequired ? reqString(obj, key, path) : optString(obj, key, path);
  if (value !== undefined && !isValidMediaType(value)) {
    throw path.key(key).error(
      `${JSON.stringify(value)} is not a valid media type (RFC 6838 type/subtype)`,
    );
  }
  return value;
}

/**
 * Reads a digest field and checks it against the digest grammar.
 *
 * @throws {InvalidImageError} when the value is not a string or not a valid digest.
 * @example
 * ```ts
 * expectDigest("sha256:" + "0".repeat(64), "config: rootfs.diff_ids[0]");
 * ```
 */
export function expectDigest(value: unknown, where: Where): Digest {
  const path = toPath(where);
  if (typeof value !== "string") {
    throw path.error(`must be a digest string, got ${JSON.stringify(value)}`);
  }
  try {
    parseDigest(value);
  } catch (e) {
    if (e instanceof InvalidDigestError) throw path.error(e.message);
    throw e;
  }
  return value;
}

// RFC 3986 absolute URI: a scheme, then no whitespace or characters that never appear
// unescaped.
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^`]*$/;

// RFC 4648 section 4: standard alphabet, padded to a multiple of 4.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a descriptor's `data` field; undefined when it has none.
 *
 * @example
 * ```ts
 * decodeDescriptorData({ mediaType: "application/vnd.oci.empty.v1+json",
 *   digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
 *   size: 2, data: "e30=" }); // Uint8Array [123, 125]
 * ```
 */
export function decodeDescriptorData(d: Descriptor): Uint8Array | undefined {
  if (d.data === undefined) return undefined;
  const binary = atob(d.data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// The fields of image-spec's v1.Descriptor (a superset of Docker's).
const DESCRIPTOR_FIELDS = new GoFieldNames([
  "mediaType",
  "digest",
  "size",
  "urls",
  "annotations",
  "data",
  "platform",
  "artifactType",
]);

/**
 * Validates a parsed JSON value as a descriptor and returns a typed copy holding the known
 * fields. Checks: media type syntax, digest grammar, non-negative integer size, `urls` as URI
 * strings, `annotations` as a string map, `artifactType` syntax, `platform`, and `data` as
 * base64 that decodes to exactly `size` bytes with the right digest (skipped for algorithms
 * ocibox cannot compute).
 *
 * @throws {InvalidImageError} for malformed fields, and keys that differ from a field name only in
 *   case (see {@linkcode refuseCaseVariants}).
 * @throws {SizeMismatchError} or {DigestMismatchError} when `data` does not match.
 * @example
 * ```ts
 * parseDescriptor({ mediaType: "application/vnd.oci.empty.v1+json",
 *   digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
 *   size: 2, data: "e30=" }, "manifest: config");
 * ```
 */
export function parseDescriptor(value: unknown, where: Where): Descriptor {
  const path = toPath(where);
  const obj = expectObject(value, path);
  refuseCaseVariants(obj, DESCRIPTOR_FIELDS, path);
  const d: Descriptor = {
    mediaType: readMediaType(obj, "mediaType", path, true)!,
    digest: expectDigest(required(obj, "digest", path), path.key("digest")),
    size: expectNonNegativeInteger(required(obj, "size", path), path.key("size")),
  };
  const urls = optStringArray(obj, "urls", path);
  if (urls !== undefined) {
    urls.forEach((u, i) => {
      if (!URI.test(u)) {
        throw path.key("urls").index(i).error(`${JSON.stringify(u)} is not an absolute URI`);
      }
    });
    d.urls = [...urls];
  }
  const annotations = optStringMap(obj, "annotations", path);
  if (annotations !== undefined) d.annotations = { ...annotations };
  const data = optString(obj, "data", path);
  if (data !== undefined) {
    d.data = data;
    checkData(d, path.key("data"));
  }
  if (obj.platform !== undefined && obj.platform !== null) {
    d.platform = parsePlatformObject(obj.platform, path.key("platform"));
  }
  const artifactType = readMediaType(obj, "artifactType", path, false);
  if (artifactType !== undefined) d.artifactType = artifactType;
  return d;
}

function checkData(d: Descriptor, path: JsonPath): void {
  if (!BASE64.test(d.data!)) throw path.error("is not valid base64 (RFC 4648 section 4)");
  const bytes = decodeDescriptorData(d)!;
  // Unregistered or unimplemented algorithms cannot be checked here; consumers that cannot
  // verify must not trust the data, but the descriptor itself is still valid.
  if (!isHashAlgorithm(parseDigest(d.digest).algorithm)) return;
  verifyBytes(bytes, d, path.toString());
}

/**
 * A plain object with the descriptor's fields in the key order Go's image-spec types write
 * (mediaType, digest, size, urls, annotations, data, platform, artifactType), for stable
 * serialisation.
 *
 * @example
 * ```ts
 * JSON.stringify(descriptorJson({ size: 2, digest: "sha256:…", mediaType: "a/b" }));
 * // '{"mediaType":"a/b","digest":"sha256:…","size":2}'
 * ```
 */
export function descriptorJson(d: Descriptor): Record<string, unknown> {
  const out: Record<string, unknown> = {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
  };
  if (d.urls !== undefined && d.urls.length > 0) out.urls = d.urls;
  if (d.annotations !== undefined && Object.keys(d.annotations).length > 0) {
    out.annotations = d.annotations;
  }
  if (d.data !== undefined) out.data = d.data;
  if (d.platform !== undefined) out.platform = platformJson(d.platform);
  if (d.artifactType !== undefined) out.artifactType = d.artifactType;
  return out;
}

/**
 * A plain object with the platform's fields in Go's key order (architecture, os, os.version,
 * os.features, variant, features).
 *
 * @example
 * ```ts
 * platformJson({ os: "linux", architecture: "amd64" }); // { architecture: "amd64", os: "linux" }
 * ```
 */
export function platformJson(p: Platform): Record<string, unknown> {
  const out: Record<string, unknown> = { architecture: p.architecture, os: p.os };
  if (p["os.version"] !== undefined) out["os.version"] = p["os.version"];
  if (p["os.features"] !== undefined) out["os.features"] = p["os.features"];
  if (p.variant !== undefined && p.variant !== "") out.variant = p.variant;
  if (p.features !== undefined) out.features = p.features;
  return out;
}
