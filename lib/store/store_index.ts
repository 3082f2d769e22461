/**
 * The store's `images/index.json` seen as images with names, as pure functions over an
 * {@linkcode ImageIndex}: each image is one manifest digest; each of its names is an index
 * entry carrying `org.opencontainers.image.ref.name` = the full name
 * (`docker.io/library/busybox:latest`); an image without names (dangling, podman's
 * `<none>`) keeps one entry without that annotation, so its blobs stay until `image prune`.
 *
 * @example
 * ```ts
 * import { emptyIndex } from "../image/layout.ts";
 * import { storeImages, tagInIndex } from "./store_index.ts";
 * const d = { mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   digest: "sha256:" + "1".repeat(64), size: 100 };
 * const index = tagInIndex(emptyIndex(), d, "docker.io/library/x:latest");
 * storeImages(index)[0].names; // ["docker.io/library/x:latest"]
 * ```
 * @module
 */
import type { Descriptor } from "../image/descriptor.ts";
import type { ImageIndex } from "../image/image_index.ts";
import { REF_NAME_ANNOTATION, withTag } from "../image/layout.ts";

/** One image of the store's index. */
export interface IndexImage {
  /** The manifest (or index) descriptor, without the ref name annotation. */
  descriptor: Descriptor;
  /** Its names in index order; empty for a dangling image. */
  names: string[];
}

function stripRef(d: Descriptor): Descriptor {
  if (d.annotations?.[REF_NAME_ANNOTATION] === undefined) return d;
  const rest = Object.fromEntries(
    Object.entries(d.annotations).filter(([k]) => k !== REF_NAME_ANNOTATION),
  );
  const out: Descriptor = { ...d };
  if (Object.keys(rest).length) out.annotations = rest;
  else delete out.annotations;
  return out;
}

/**
 * The images of an index, one per manifest digest, in order of first appearance.
 *
 * @example
 * ```ts
 * storeImages({ schemaVersion: 2, manifests: [] }); // []
 * ```
 */
export function storeImages(index: ImageIndex): IndexImage[] {
  const byDigest = new Map<string, IndexImage>();
  for (const d of index.manifests) {
    let image = byDigest.get(d.digest);
    if (!image) {
      image = { descriptor: stripRef(d), names: [] };
      byDigest.set(d.digest, image);
    }
    const name = d.annotations?.[REF_NAME_ANNOTATION];
    if (name !== undefined && !image.names.includes(name)) image.names.push(name);
  }
  return [...byDigest.values()];
}

/** Entries of `index` for `digest` that carry no name. */
function danglingEntry(index: ImageIndex, digest: string): boolean {
  return index.manifests.some((d) =>
    d.digest === digest && d.annotations?.[REF_NAME_ANNOTATION] === undefined
  );
}

/**
 * Gives `name` to the image `descriptor` names (adding the image when it is new). The image
 * that had the name before keeps its entry, without a name, when that was its last name.
 *
 * @throws {InvalidReferenceError} when `name` breaks the ref name grammar.
 * @example
 * ```ts
 * const index = tagInIndex(emptyIndex(), d, "localhost:5000/app:v1");
 * ```
 */
export function tagInIndex(index: ImageIndex, descriptor: Descriptor, name: string): ImageIndex {
  const plain = stripRef(descriptor);
  const before = index.manifests.find((d) => d.annotations?.[REF_NAME_ANNOTATION] === name);
  let next = withTag(index, plain, name);
  // This image had an entry without a name: the named one replaces it.
  next = {
    ...next,
    manifests: next.manifests.filter((d) =>
      !(d.digest === plain.digest && d.annotations?.[REF_NAME_ANNOTATION] === undefined)
    ),
  };
  if (before && before.digest !== plain.digest) next = keepIfNameless(next, stripRef(before));
  return next;
}

/** Adds a nameless entry for `descriptor` when nothing in `index` refers to its digest. */
function keepIfNameless(index: ImageIndex, descriptor: Descriptor): ImageIndex {
  if (index.manifests.some((d) => d.digest === descriptor.digest)) return index;
  return { ...index, manifests: [...index.manifests, descriptor] };
}

/**
 * Adds `descriptor` as an image without a name, unless the index has it already (named or not).
 *
 * @example
 * ```ts
 * const index = addNameless(emptyIndex(), d);
 * ```
 */
export function addNameless(index: ImageIndex, descriptor: Descriptor): ImageIndex {
  return keepIfNameless(index, stripRef(descriptor));
}

/**
 * Takes `name` off its image. With `keepImage` the image stays (nameless) when that was its
 * last name (podman's `untag`); without, it leaves the index (`rmi NAME`).
 *
 * @example
 * ```ts
 * const next = untagInIndex(index, "docker.io/library/x:latest", true);
 * ```
 */
export function untagInIndex(index: ImageIndex, name: string, keepImage: boolean): ImageIndex {
  const entry = index.manifests.find((d) => d.annotations?.[REF_NAME_ANNOTATION] === name);
  if (!entry) return index;
  const manifests: Descriptor[] = [];
  for (const d of index.manifests) {
    if (d.annotations?.[REF_NAME_ANNOTATION] !== name) manifests.push(d);
  }
  const next = { ...index, manifests };
  return keepImage && !danglingEntry(next, entry.digest)
    ? keepIfNameless(next, stripRef(entry))
    : next;
}

/**
 * Removes every entry (all names) of the image with manifest digest `digest`.
 *
 * @example
 * ```ts
 * const next = removeFromIndex(index, d.digest);
 * ```
 */
export function removeFromIndex(index: ImageIndex, digest: string): ImageIndex {
  return { ...index, manifests: index.manifests.filter((d) => d.digest !== digest) };
}
