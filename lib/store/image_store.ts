/**
 * The images of the local store: an OCI image layout at `STORE/images` whose index.json names
 * each image by its full reference (see store_index.ts), so skopeo (`oci:STORE/images:NAME`)
 * and umoci (`--image STORE/images:NAME`) read it as they read any layout.
 *
 * Consistency: index.json and the blob directory change only under the store's exclusive lock
 * (store_lock.ts), and index.json only by atomic replacement. New images are downloaded into a
 * staging directory under `STORE/tmp` without the lock; {@linkcode commitStaged} then moves
 * their blobs in and names the image in one short exclusive section. Blobs the staging area
 * took from the store are hard links, so a concurrent `rmi` cannot take them away half-way.
 * Removal (`rmi`, prune) drops index entries and then every blob no remaining entry reaches.
 * Readers take the shared lock to read index.json with the manifest and config it names, and
 * link an image's blobs into a snapshot for longer reads (see lib/transport/store.ts).
 *
 * @example
 * ```ts
 * import { findImage, listImages } from "./image_store.ts";
 * const img = await findImage("/var/lib/ocibox", "busybox");
 * console.log(img.imageId, img.config.config?.Cmd);
 * for (const i of await listImages("/var/lib/ocibox")) console.log(i.names, i.size);
 * ```
 * @module
 */
import { parseDigest } from "../digest/digest.ts";
import { digestOf } from "../digest/digester.ts";
import { verifyBytes } from "../digest/verify.ts";
import {
  ImageInUseError,
  InvalidImageError,
  InvalidReferenceError,
  NotFoundError,
} from "../errors.ts";
import { type ImageConfig, parseImageConfig } from "../image/config.ts";
import type { Descriptor } from "../image/descriptor.ts";
import type { ImageIndex } from "../image/image_index.ts";
import { parseJsonText } from "../image/json_fields.ts";
import {
  emptyIndex,
  OCI_LAYOUT_FILE_CONTENT,
  parseLayoutIndex,
  serializeIndex,
} from "../image/layout.ts";
import type { ImageManifest } from "../image/manifest.ts";
import { type ParsedManifest, parseManifestBytes } from "../image/parsed.ts";
import { choosePlatform, hostPlatform } from "../image/platform.ts";
import { imageIdPrefix, lookupNames, type NameResolution } from "../image/short_names.ts";
import { syncDir, writeFileAtomic } from "../io/atomic_file.ts";
import { blobPath } from "./blob_dir.ts";
import { containersByImage } from "./container_records.ts";
import { loadRegistriesConfig } from "./registries_config.ts";
import {
  addNameless,
  removeFromIndex,
  storeImages,
  tagInIndex,
  untagInIndex,
} from "./store_index.ts";
import { withStoreLock } from "./store_lock.ts";
import { imagesDir, tmpDir } from "./store_root.ts";

const MANIFEST_LIMIT = 4 << 20;
const CONFIG_LIMIT = 16 << 20;

/** One image of the store, with what `images`, `run` and `save` need to know. */
export interface StoredImage {
  /** Its full names (`docker.io/library/busybox:latest`); empty for a dangling image. */
  names: string[];
  /** `sha256:<hex>` of the config: podman's and docker's image id. */
  imageId: string;
  /** The index.json entry (without the name annotation): an image manifest or an index. */
  descriptor: Descriptor;
  /** Digest of `descriptor`, the manifest (or index) index.json lists. */
  manifestDigest: string;
  /** The image manifest (the host platform's, when the entry is an index). */
  manifest: ImageManifest;
  /** Digest of {@linkcode manifest} (differs from manifestDigest for an index). */
  imageManifestDigest: string;
  config: ImageConfig;
  /** The config's exact bytes. */
  configBytes: Uint8Array;
  /** Layer blob descriptors, bottom first. */
  layers: Descriptor[];
  /** The config's rootfs.diff_ids, bottom first. */
  diffIds: string[];
  /** Bytes the image's blobs take in the store (manifests, config, layers as stored). */
  size: number;
}

/** A {@linkcode StoredImage} found by a name the user gave. */
export interface FoundImage extends StoredImage {
  /**
   * The name it was found under, full (`docker.io/library/busybox:latest`), or, found by id,
   * its first name (the id when it has none).
   */
  name: string;
  /** Whether the argument matched one of its names or its image id. */
  foundBy: "name" | "id";
}

/** Ensures `STORE/images` is an OCI layout and `STORE/tmp` exists (takes the lock to create). */
export async function ensureStore(store: string): Promise<void> {
  const images = imagesDir(store);
  try {
    await Deno.stat(`${images}/index.json`);
    await Deno.mkdir(tmpDir(store), { recursive: true, mode: 0o700 });
    return;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(store, { recursive: true, mode: 0o700 });
  await withStoreLock(store, "exclusive", async () => {
    await Deno.mkdir(`${images}/blobs/sha256`, { recursive: true });
    await Deno.mkdir(tmpDir(store), { recursive: true, mode: 0o700 });
    try {
      await Deno.stat(`${images}/index.json`);
      return;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await writeFileAtomic(
      `${images}/oci-layout`,
      new TextEncoder().encode(OCI_LAYOUT_FILE_CONTENT),
    );
    await writeFileAtomic(`${images}/index.json`, serializeIndex(emptyIndex()));
  });
}

/** The store's index.json; an empty index when the store has none yet. Call under a lock. */
export async function readStoreIndex(store: string): Promise<ImageIndex> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(`${imagesDir(store)}/index.json`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return emptyIndex();
    throw e;
  }
  return parseLayoutIndex(bytes);
}

/** Replaces the store's index.json atomically. Call under the exclusive lock. */
export async function writeStoreIndex(store: string, index: ImageIndex): Promise<void> {
  await writeFileAtomic(`${imagesDir(store)}/index.json`, serializeIndex(index));
}

/** The path of a blob in the store. */
export function storeBlobPath(store: string, digest: string): string {
  return `${imagesDir(store)}/${blobPath(digest)}`;
}

async function readBlob(store: string, desc: Descriptor, limit: number, what: string) {
  let bytes: Uint8Array;
  try {
    const st = await Deno.stat(storeBlobPath(store, desc.digest));
    if (st.size > limit) throw new InvalidImageError(what, `is larger than ${limit} bytes`);
    bytes = await Deno.readFile(storeBlobPath(store, desc.digest));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`${what} ${desc.digest} is missing from the store ${store}`);
    }
    throw e;
  }
  verifyBytes(bytes, desc, `${what} ${desc.digest}`);
  return bytes;
}

async function readManifestAt(store: string, desc: Descriptor): Promise<ParsedManifest> {
  const bytes = await readBlob(store, desc, MANIFEST_LIMIT, "manifest");
  return parseManifestBytes(bytes, desc.mediaType, {
    expectedDigest: desc.digest,
    what: `store manifest ${desc.digest}`,
  });
}

/** Reads the manifest, config and sizes of one index image. Call under a lock. */
async function readStoredImage(
  store: string,
  descriptor: Descriptor,
  names: string[],
): Promise<StoredImage> {
  let parsed = await readManifestAt(store, descriptor);
  let size = descriptor.size;
  for (let depth = 0; parsed.kind === "index"; depth++) {
    if (depth >= 4) throw new InvalidImageError(descriptor.digest, "indexes nest too deep");
    const chosen = choosePlatform(parsed.index.manifests, hostPlatform());
    parsed = await readManifestAt(store, chosen);
    size += chosen.size;
  }
  const manifest = parsed.manifest;
  const configBytes = await readBlob(store, manifest.config, CONFIG_LIMIT, "config");
  const where = `store config ${manifest.config.digest}`;
  const config = parseImageConfig(
    parseJsonText(new TextDecoder().decode(configBytes), where),
    where,
  );
  size += manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0);
  return {
    names,
    imageId: digestOf(configBytes),
    descriptor,
    manifestDigest: descriptor.digest,
    manifest,
    imageManifestDigest: parsed.digest,
    config,
    configBytes,
    layers: manifest.layers,
    diffIds: config.rootfs.diff_ids,
    size,
  };
}

async function listUnlocked(store: string): Promise<StoredImage[]> {
  const out: StoredImage[] = [];
  for (const img of storeImages(await readStoreIndex(store))) {
    out.push(await readStoredImage(store, img.descriptor, img.names));
  }
  return out;
}

/**
 * Every image of the store (one per manifest digest, with all its names), in index order.
 *
 * @example
 * ```ts
 * for (const img of await listImages(store)) console.log(img.imageId, img.names);
 * ```
 */
export async function listImages(store: string): Promise<StoredImage[]> {
  return await withStoreLock(store, "shared", () => listUnlocked(store));
}

/**
 * Finds `ref` among `images` (pure): by name (short names through `resolution`), then by a
 * unique image id prefix. `store` names the store in errors.
 *
 * @throws {NotFoundError} when nothing matches or an id prefix is ambiguous.
 * @example
 * ```ts
 * const img = matchImage(await listImages(store), "busybox", resolution, store);
 * ```
 */
export function matchImage(
  images: StoredImage[],
  ref: string,
  resolution: NameResolution,
  store: string,
): FoundImage {
  let candidates: string[] = [];
  let badName: unknown;
  try {
    candidates = lookupNames(ref, resolution.registries);
  } catch (e) {
    if (!(e instanceof InvalidReferenceError)) throw e;
    badName = e;
  }
  for (const name of candidates) {
    const hit = images.find((i) => i.names.includes(name));
    if (hit) return { ...hit, name, foundBy: "name" };
  }
  const hex = imageIdPrefix(ref);
  if (hex !== undefined) {
    const hits = images.filter((i) => parseDigest(i.imageId).encoded.startsWith(hex));
    const ids = new Set(hits.map((h) => h.imageId));
    if (ids.size > 1) {
      throw new NotFoundError(`${ref} is the start of ${ids.size} image ids; give more of it`);
    }
    if (hits.length) {
      return { ...hits[0], name: hits[0].names[0] ?? hits[0].imageId, foundBy: "id" };
    }
  }
  if (badName) throw badName;
  const tried = candidates.length > 1 ? ` (tried ${candidates.join(", ")})` : "";
  throw new NotFoundError(
    `image ${JSON.stringify(ref)} is not in the store ${store}${tried}; pull it first`,
  );
}

/**
 * Finds an image by name or id: the name as normalized (`busybox` →
 * `docker.io/library/busybox:latest`; short names tried on each search registry in order, see
 * registries_config.ts), then a unique image id prefix of at least 3 hex digits (podman's
 * order).
 *
 * @throws {NotFoundError} when nothing matches (or an id prefix is ambiguous).
 * @throws {InvalidReferenceError} when `ref` is neither a valid name nor an id.
 * @example
 * ```ts
 * const img = await findImage(store, "busybox");
 * img.name; // "docker.io/library/busybox:latest"
 * ```
 */
export async function findImage(
  store: string,
  ref: string,
  resolution?: NameResolution,
): Promise<FoundImage> {
  const res = resolution ?? await loadRegistriesConfig();
  return await withStoreLock(store, "shared", () => findImageUnlocked(store, ref, res));
}

/** {@linkcode findImage} for callers that hold the store lock already. */
export async function findImageUnlocked(
  store: string,
  ref: string,
  resolution: NameResolution,
): Promise<FoundImage> {
  // Names are looked up in index.json first, so only the matching image is read.
  const index = storeImages(await readStoreIndex(store));
  let names: string[] = [];
  try {
    names = lookupNames(ref, resolution.registries);
  } catch (e) {
    if (!(e instanceof InvalidReferenceError)) throw e;
  }
  for (const name of names) {
    const hit = index.find((i) => i.names.includes(name));
    if (hit) {
      return {
        ...(await readStoredImage(store, hit.descriptor, hit.names)),
        name,
        foundBy: "name",
      };
    }
  }
  return matchImage(await listUnlocked(store), ref, resolution, store);
}

/**
 * Whether the store holds an image with config digest `imageId` (under any name). Takes no
 * lock: call it under one (e.g. in reserveContainer's `check`). With `manifestDigest`, the
 * digest of the index entry the image was found by, index.json alone answers when that entry
 * is still there (its manifest names that config); otherwise every image is read.
 *
 * @example
 * ```ts
 * const img = await findImage(store, "busybox");
 * await hasImageId(store, img.imageId, img.manifestDigest); // true
 * ```
 */
export async function hasImageId(
  store: string,
  imageId: string,
  manifestDigest?: string,
): Promise<boolean> {
  if (manifestDigest !== undefined) {
    const index = await readStoreIndex(store);
    if (index.manifests.some((d) => d.digest === manifestDigest)) return true;
  }
  return (await listUnlocked(store)).some((i) => i.imageId === imageId);
}

/**
 * Moves the blobs of a staging directory (`<staging>/blobs/<alg>/<hex>`, verified already)
 * into the store and gives the image `descriptor` the names `names` (none: adds it without a
 * name unless the store has it), in one exclusive section. Returns the image as stored.
 *
 * @example
 * ```ts
 * await commitStaged(store, staging, top, "docker.io/library/busybox:latest");
 * ```
 */
export async function commitStaged(
  store: string,
  staging: string,
  descriptor: Descriptor,
  names: readonly string[],
): Promise<StoredImage> {
  await ensureStore(store);
  return await withStoreLock(store, "exclusive", async () => {
    const images = imagesDir(store);
    const touched = new Set<string>();
    for await (const alg of readDirOrEmpty(`${staging}/blobs`)) {
      if (!alg.isDirectory) continue;
      await Deno.mkdir(`${images}/blobs/${alg.name}`, { recursive: true });
      for await (const blob of readDirOrEmpty(`${staging}/blobs/${alg.name}`)) {
        if (!blob.isFile) continue;
        // Same content under the same name: replacing an existing blob changes nothing.
        await Deno.rename(
          `${staging}/blobs/${alg.name}/${blob.name}`,
          `${images}/blobs/${alg.name}/${blob.name}`,
        );
        touched.add(`${images}/blobs/${alg.name}`);
      }
    }
    for (const dir of touched) syncDir(dir);
    // Everything the image refers to must be here now (staged, or linked into staging).
    const image = await readStoredImage(store, descriptor, [...names]);
    for (const digest of await imageBlobs(store, descriptor)) {
      try {
        await Deno.stat(storeBlobPath(store, digest));
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        throw new InvalidImageError(descriptor.digest, `blob ${digest} did not reach the store`);
      }
    }
    let index = await readStoreIndex(store);
    if (names.length === 0) index = addNameless(index, descriptor);
    for (const name of names) index = tagInIndex(index, descriptor, name);
    await writeStoreIndex(store, index);
    return image;
  });
}

async function* readDirOrEmpty(path: string): AsyncIterable<Deno.DirEntry> {
  try {
    yield* Deno.readDir(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/**
 * Gives the image `ref` names (`busybox`, an id prefix ...) the additional name `newName`
 * (normalized by the caller, e.g. `localhost:5000/app:v1`). An image that had `newName` keeps
 * its other names, or stays nameless.
 *
 * @example
 * ```ts
 * await tagImage(store, "busybox", "localhost:5000/busybox:mine");
 * ```
 */
export async function tagImage(
  store: string,
  ref: string,
  newName: string,
  resolution?: NameResolution,
): Promise<FoundImage> {
  const res = resolution ?? await loadRegistriesConfig();
  return await withStoreLock(store, "exclusive", async () => {
    const img = matchImage(await listUnlocked(store), ref, res, store);
    await writeStoreIndex(store, tagInIndex(await readStoreIndex(store), img.descriptor, newName));
    return img;
  });
}

/** What `rmi` did for one argument. */
export interface RemoveResult {
  /** Names taken off. */
  untagged: string[];
  /** The image id, when the image itself left the store. */
  deleted?: string;
  /** Containers that still use the image (only with `force`). */
  usedBy: string[];
}

/** Options of {@linkcode removeImages}. */
export interface RemoveOptions {
  /** Remove images containers use (their records stay; see the README). */
  force?: boolean;
  resolution?: NameResolution;
}

/**
 * Removes images, like `podman rmi`: a name of an image that has other names is only taken off
 * (`Untagged`); an image's last name, or its id, removes the image (`Deleted`) and then the
 * blobs nothing else refers to. An image a container uses is refused unless `force`.
 * Everything happens in one exclusive section: either every argument is removed or, on the
 * first error, none is.
 *
 * @throws {NotFoundError} for a name not in the store.
 * @throws {ImageInUseError} for an image a container uses (without `force`).
 * @example
 * ```ts
 * const [r] = await removeImages(store, ["busybox"]);
 * r.deleted; // "sha256:…"
 * ```
 */
export async function removeImages(
  store: string,
  refs: readonly string[],
  options: RemoveOptions = {},
): Promise<RemoveResult[]> {
  const res = options.resolution ?? await loadRegistriesConfig();
  return await withStoreLock(store, "exclusive", async () => {
    const users = await containersByImage(store);
    let index = await readStoreIndex(store);
    const results: RemoveResult[] = [];
    for (const ref of refs) {
      const images = await imagesOfIndexUnlocked(store, index);
      const img = matchImage(images, ref, res, store);
      const byName = img.foundBy === "name";
      const usedBy = images.filter((i) => i.imageId === img.imageId).length > 1
        ? [] // another entry (another manifest) of the same config stays
        : users.get(img.imageId) ?? [];
      if (byName && img.names.length > 1) {
        index = untagInIndex(index, img.name, true);
        results.push({ untagged: [img.name], usedBy: [] });
        continue;
      }
      if (usedBy.length && !options.force) throw new ImageInUseError(ref, usedBy);
      index = removeFromIndex(index, img.manifestDigest);
      results.push({ untagged: img.names, deleted: img.imageId, usedBy });
    }
    await writeStoreIndex(store, index);
    await sweepBlobs(store, index);
    return results;
  });
}

async function imagesOfIndexUnlocked(store: string, index: ImageIndex): Promise<StoredImage[]> {
  const out: StoredImage[] = [];
  for (const img of storeImages(index)) {
    out.push(await readStoredImage(store, img.descriptor, img.names));
  }
  return out;
}

/** What {@linkcode pruneImages} removed. */
export interface PruneResult {
  /** Image ids removed. */
  images: string[];
  /** Blobs removed and the bytes they took. */
  blobs: number;
  bytes: number;
  /** Staging directories of interrupted work removed from STORE/tmp. */
  staging: number;
}

/** Staging entries in STORE/tmp older than this belong to work that died. */
const STALE_STAGING_MS = 24 * 3600_000;

/** Prefixes of the staging directories this module and the store transport make. */
export const STAGING_PREFIXES = ["pull-", "read-"] as const;

/** Options of {@linkcode pruneImages}. */
export interface PruneOptions {
  /** Also remove named images no container uses. */
  all?: boolean;
  /**
   * Runs in the same exclusive section once images and blobs are pruned, with the images left:
   * where the layer cache is pruned (lib/store/prune.ts).
   */
  then?: (left: StoredImage[]) => Promise<void>;
}

/**
 * Removes dangling images (no name) that no container uses, and with `all` every image no
 * container uses; then blobs nothing refers to and stale staging directories.
 *
 * @example
 * ```ts
 * const r = await pruneImages(store, { all: false });
 * ```
 */
export async function pruneImages(
  store: string,
  options: PruneOptions = {},
): Promise<PruneResult> {
  const result: PruneResult = { images: [], blobs: 0, bytes: 0, staging: 0 };
  await withStoreLock(store, "exclusive", async () => {
    const users = await containersByImage(store);
    let index = await readStoreIndex(store);
    for (const img of await imagesOfIndexUnlocked(store, index)) {
      if (users.get(img.imageId)?.length) continue;
      if (img.names.length && !options.all) continue;
      index = removeFromIndex(index, img.manifestDigest);
      if (!result.images.includes(img.imageId)) result.images.push(img.imageId);
    }
    if (result.images.length) await writeStoreIndex(store, index);
    const swept = await sweepBlobs(store, index);
    result.blobs = swept.blobs;
    result.bytes = swept.bytes;
    await options.then?.(await imagesOfIndexUnlocked(store, index));
  });
  result.staging = await removeStaleStaging(store);
  return result;
}

/** The digests of every blob index.json reaches (manifests, configs, layers, children). */
export async function reachableBlobs(store: string, index: ImageIndex): Promise<Set<string>> {
  const seen = new Set<string>();
  const walk = async (desc: Descriptor, depth: number) => {
    if (seen.has(desc.digest)) return;
    seen.add(desc.digest);
    let parsed: ParsedManifest;
    try {
      parsed = await readManifestAt(store, desc);
    } catch (e) {
      if (e instanceof NotFoundError) return; // already gone: nothing more to keep
      throw e;
    }
    if (parsed.kind === "index") {
      if (depth >= 4) return;
      for (const child of parsed.index.manifests) await walk(child, depth + 1);
      return;
    }
    seen.add(parsed.manifest.config.digest);
    for (const l of parsed.manifest.layers) seen.add(l.digest);
    if (parsed.manifest.subject) seen.add(parsed.manifest.subject.digest);
  };
  for (const d of index.manifests) await walk(d, 0);
  return seen;
}

/**
 * Removes every blob of `STORE/images/blobs` that `index` does not reach, and temporary files
 * left in the layout. Call under the exclusive lock with the index just written.
 */
async function sweepBlobs(store: string, index: ImageIndex) {
  const keep = await reachableBlobs(store, index);
  let blobs = 0;
  let bytes = 0;
  const images = imagesDir(store);
  for await (const alg of readDirOrEmpty(`${images}/blobs`)) {
    if (!alg.isDirectory) continue;
    for await (const blob of readDirOrEmpty(`${images}/blobs/${alg.name}`)) {
      if (keep.has(`${alg.name}:${blob.name}`)) continue;
      const path = `${images}/blobs/${alg.name}/${blob.name}`;
      try {
        const st = await Deno.lstat(path);
        await Deno.remove(path);
        blobs++;
        bytes += st.size;
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
  }
  return { blobs, bytes };
}

/** Removes staging directories of STORE/tmp older than a day (work that died). */
export async function removeStaleStaging(store: string, now = Date.now()): Promise<number> {
  let removed = 0;
  for await (const e of readDirOrEmpty(tmpDir(store))) {
    if (!STAGING_PREFIXES.some((p) => e.name.startsWith(p))) continue;
    const path = `${tmpDir(store)}/${e.name}`;
    try {
      const st = await Deno.lstat(path);
      if (now - (st.mtime?.getTime() ?? now) < STALE_STAGING_MS) continue;
      await Deno.remove(path, { recursive: true });
      removed++;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return removed;
}

/**
 * Every blob digest the image `descriptor` names (itself, children of an index, configs,
 * layers), read from the store. Call under a lock.
 */
export async function imageBlobs(store: string, descriptor: Descriptor): Promise<Set<string>> {
  return await reachableBlobs(store, { schemaVersion: 2, manifests: [descriptor] });
}
