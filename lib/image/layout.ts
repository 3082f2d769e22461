/**
 * The pure parts of the OCI image layout (image-layout.md): the `oci-layout` file, and the
 * `index.json` operations behind tags (`org.opencontainers.image.ref.name`). Reading and
 * writing the files is the transport's job.
 *
 * @example
 * ```ts
 * import { emptyIndex, findByRef, withTag } from "./layout.ts";
 * const manifest = { mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   digest: "sha256:" + "1".repeat(64), size: 100 };
 * const index = withTag(emptyIndex(), manifest, "v1");
 * findByRef(index, "v1")[0].digest; // "sha256:111…"
 * ```
 * @module
 */

import { InvalidReferenceError, NotFoundError, UnsupportedError } from "../errors.ts";
import { type Descriptor, descriptorJson } from "./descriptor.ts";
import { type ImageIndex, parseImageIndex } from "./image_index.ts";
import {
  expectObject,
  GoFieldNames,
  JsonPath,
  parseJsonText,
  refuseCaseVariants,
  reqString,
} from "./json_fields.ts";
import { MEDIA_TYPE_OCI_INDEX } from "./media_types.ts";

/** The layout version ocibox writes. */
export const OCI_LAYOUT_VERSION = "1.0.0";

/** The content of the `oci-layout` file ocibox writes. */
export const OCI_LAYOUT_FILE_CONTENT = `{"imageLayoutVersion":"${OCI_LAYOUT_VERSION}"}`;

/** The annotation that names a tag on an `index.json` descriptor. */
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

/** The parsed `oci-layout` file. */
export interface OciLayoutFile {
  /** e.g. `1.0.0`. */
  imageLayoutVersion: string;
}

function decodeJson(bytes: Uint8Array, path: JsonPath): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw path.error("is not valid UTF-8");
  }
  return parseJsonText(text, path);
}

// image-spec's v1.ImageLayout.
const OCI_LAYOUT_FIELDS = new GoFieldNames(["imageLayoutVersion"]);

/**
 * Parses an `oci-layout` file: a JSON object with an `imageLayoutVersion` (extra fields are
 * allowed). Versions 1.x are accepted.
 *
 * @throws {InvalidImageError} when it is not such an object.
 * @throws {UnsupportedError} for another major version.
 * @example
 * ```ts
 * parseOciLayoutFile(new TextEncoder().encode('{"imageLayoutVersion": "1.0.0"}'));
 * ```
 */
export function parseOciLayoutFile(bytes: Uint8Array): OciLayoutFile {
  const path = new JsonPath("oci-layout");
  const obj = expectObject(decodeJson(bytes, path), path);
  refuseCaseVariants(obj, OCI_LAYOUT_FIELDS, path);
  const imageLayoutVersion = reqString(obj, "imageLayoutVersion", path);
  if (!/^1\.\d+\.\d+$/.test(imageLayoutVersion)) {
    throw new UnsupportedError(
      `oci-layout: imageLayoutVersion ${JSON.stringify(imageLayoutVersion)} is not supported ` +
        "(ocibox reads 1.x layouts)",
    );
  }
  return { imageLayoutVersion };
}

/**
 * Parses the bytes of a layout's `index.json`. Entries with unknown media types are kept
 * (image-layout.md: they must not generate an error).
 *
 * @throws {InvalidImageError} when it is not a valid image index.
 * @example
 * ```ts
 * parseLayoutIndex(new TextEncoder().encode('{"schemaVersion":2,"manifests":[]}'));
 * ```
 */
export function parseLayoutIndex(bytes: Uint8Array): ImageIndex {
  const path = new JsonPath("index.json");
  return parseImageIndex(decodeJson(bytes, path), path);
}

/**
 * A new, empty OCI image index for a fresh layout.
 *
 * @example
 * ```ts
 * emptyIndex().manifests; // []
 * ```
 */
export function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [] };
}

/**
 * The ref names (tags) present in an index, in index order, without duplicates.
 *
 * @example
 * ```ts
 * const manifestDescriptor = {
 *   mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   digest: "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
 *   size: 7143,
 * };
 * const index = withTag(emptyIndex(), manifestDescriptor, "latest");
 * const both = withTag(index, manifestDescriptor, "v1.0");
 * listRefs(both); // ["latest", "v1.0"]
 * ```
 */
export function listRefs(index: ImageIndex): string[] {
  const refs = index.manifests
    .map((d) => d.annotations?.[REF_NAME_ANNOTATION])
    .filter((r): r is string => r !== undefined);
  return [...new Set(refs)];
}

function describeRefs(index: ImageIndex): string {
  const refs = listRefs(index);
  return refs.length === 0 ? "it has no tags" : `tags: ${refs.join(", ")}`;
}

/**
 * The descriptors of `index` that `ref` names. With `ref` undefined, the only entry of an
 * index that has exactly one.
 *
 * @param layoutName names the layout in error messages, e.g. its path.
 * @throws {NotFoundError} when nothing matches, listing the tags that exist.
 * @example
 * ```ts
 * const manifestDescriptor = {
 *   mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   digest: "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
 *   size: 7143,
 * };
 * const index = withTag(emptyIndex(), manifestDescriptor, "v1.0");
 * findByRef(index, "v1.0"); // [the descriptor, tagged v1.0]
 * findByRef(index, undefined); // the same: it is the only one
 * ```
 */
export function findByRef(
  index: ImageIndex,
  ref: string | undefined,
  layoutName = "the layout",
): Descriptor[] {
  if (ref === undefined) {
    if (index.manifests.length === 1) return [index.manifests[0]];
    throw new NotFoundError(
      index.manifests.length === 0
        ? `${layoutName} holds no images`
        : `${layoutName} holds ${index.manifests.length} images; name one (${describeRefs(index)})`,
    );
  }
  const found = index.manifests.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] === ref);
  if (found.length === 0) {
    throw new NotFoundError(
      `no image tagged ${JSON.stringify(ref)} in ${layoutName} (${describeRefs(index)})`,
    );
  }
  return found;
}

// annotations.md: ref ::= component ("/" component)*, component ::= alphanum (separator
// alphanum)*, alphanum ::= [A-Za-z0-9]+, separator ::= [-._:@+] | "--"
const REF_COMPONENT = "[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*";
const REF_NAME = new RegExp(`^${REF_COMPONENT}(?:/${REF_COMPONENT})*$`);

/**
 * True when `ref` follows the grammar annotations.md gives for
 * `org.opencontainers.image.ref.name`.
 *
 * @example
 * ```ts
 * isValidRefName("v1.0.0-vendor.0"); // true
 * isValidRefName("-bad"); // false
 * ```
 */
export function isValidRefName(ref: string): boolean {
  return REF_NAME.test(ref);
}

/**
 * A new index in which `descriptor` carries the tag `ref`. Older descriptors carrying that tag
 * lose it; one left with no annotations at all is dropped (a tag was its only purpose), and
 * the new descriptor takes its place in the list. Otherwise it is appended. `index` is not
 * changed.
 *
 * @throws {InvalidReferenceError} when `ref` breaks the ref name grammar.
 * @example
 * ```ts
 * const manifestDescriptor = {
 *   mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   digest: "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
 *   size: 7143,
 * };
 * const index = withTag(emptyIndex(), manifestDescriptor, "latest");
 * index.manifests[0].annotations; // { "org.opencontainers.image.ref.name": "latest" }
 * ```
 */
export function withTag(index: ImageIndex, descriptor: Descriptor, ref: string): ImageIndex {
  if (!isValidRefName(ref)) {
    throw new InvalidReferenceError(
      ref,
      "a tag must be alphanumeric parts joined by one of - . _ : @ + -- (and / between parts)",
    );
  }
  const tagged: Descriptor = {
    ...descriptor,
    annotations: { ...descriptor.annotations, [REF_NAME_ANNOTATION]: ref },
  };
  const manifests: Descriptor[] = [];
  let insertAt: number | undefined;
  for (const d of index.manifests) {
    if (d.annotations?.[REF_NAME_ANNOTATION] !== ref) {
      manifests.push(d);
      continue;
    }
    const rest = Object.fromEntries(
      Object.entries(d.annotations ?? {}).filter(([k]) => k !== REF_NAME_ANNOTATION),
    );
    if (Object.keys(rest).length === 0) {
      insertAt ??= manifests.length;
      continue;
    }
    manifests.push({ ...d, annotations: rest });
  }
  if (insertAt === undefined) manifests.push(tagged);
  else manifests.splice(insertAt, 0, tagged);
  return { ...index, manifests };
}

/**
 * Serialises an index for `index.json`: JSON indented by 2 spaces with a final newline, keys
 * in the spec's order, descriptors as Go writes them.
 *
 * @example
 * ```ts
 * const manifestDescriptor = {
 *   mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   digest: "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
 *   size: 7143,
 * };
 * const bytes = serializeIndex(withTag(emptyIndex(), manifestDescriptor, "latest"));
 * ```
 */
export function serializeIndex(index: ImageIndex): Uint8Array {
  const out: Record<string, unknown> = { schemaVersion: index.schemaVersion };
  if (index.mediaType !== undefined) out.mediaType = index.mediaType;
  if (index.artifactType !== undefined) out.artifactType = index.artifactType;
  out.manifests = index.manifests.map(descriptorJson);
  if (index.subject !== undefined) out.subject = descriptorJson(index.subject);
  if (index.annotations !== undefined && Object.keys(index.annotations).length > 0) {
    out.annotations = index.annotations;
  }
  return new TextEncoder().encode(JSON.stringify(out, null, 2) + "\n");
}
