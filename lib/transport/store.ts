/**
 * The `store:NAME` transport: images of ocibox's local store (lib/store/image_store.ts) as a
 * copy source and destination. NAME is what `pull`, `run` and `rmi` take: a name, normalized
 * (`busybox` → `docker.io/library/busybox:latest`, short names through the search
 * registries), or an image id prefix (reading only). The store is the one of `--store`,
 * `OCIBOX_STORE` or the default (lib/store/store_root.ts).
 *
 * Reading: under the store's shared lock the image is found and its blobs are hard-linked into
 * a snapshot directory under `STORE/tmp`; the lock is then released, and the copy reads the
 * snapshot, which an `rmi` running meanwhile cannot take away. Writing: blobs stream into a
 * staging directory under `STORE/tmp` (blobs the store has already are hard-linked there, not
 * copied); commit moves them in and names the image under the exclusive lock.
 *
 * @example
 * ```ts
 * import { openStoreDestination, openStoreSource } from "./store.ts";
 * const src = await openStoreSource("store:busybox", "/var/lib/ocibox", "busybox");
 * const dst = await openStoreDestination("store:copy", "/var/lib/ocibox", "copy");
 * ```
 * @module
 */
import { parseNormalizedNamed, referenceName } from "../image/docker_reference.ts";
import { serializeIndex } from "../image/layout.ts";
import type { Descriptor } from "../image/descriptor.ts";
import { MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST } from "../image/media_types.ts";
import { normalizeName } from "../image/short_names.ts";
import { OCI_LAYOUT_FILE_CONTENT } from "../image/layout.ts";
import { bytesStream } from "../io/file_stream.ts";
import { blobPath, storeBlob } from "../store/blob_dir.ts";
import {
  commitStaged,
  ensureStore,
  findImageUnlocked,
  type FoundImage,
  imageBlobs,
  storeBlobPath,
  type StoredImage,
} from "../store/image_store.ts";
import { loadRegistriesConfig } from "../store/registries_config.ts";
import { withStoreLock } from "../store/store_lock.ts";
import { imagesDir, tmpDir } from "../store/store_root.ts";
import { DirFiles } from "./layout_files.ts";
import { OciLayoutSource } from "./oci_layout.ts";
import { removeTree } from "./staging.ts";
import type {
  BlobInfo,
  DestinationCapabilities,
  ImageDestination,
  ImageSource,
  IoOptions,
  RawManifest,
} from "./types.ts";

/** A store image being read, with the image as found. */
export interface StoreSource extends ImageSource {
  /** The image the name resolved to. */
  readonly image: FoundImage;
}

/**
 * Hard-links the blobs of `descriptor` into a new snapshot layout under STORE/tmp (whose
 * index.json lists just that image). Call under the store lock.
 */
async function snapshot(store: string, descriptor: Descriptor): Promise<string> {
  await Deno.mkdir(tmpDir(store), { recursive: true, mode: 0o700 });
  const dir = await Deno.makeTempDir({ dir: tmpDir(store), prefix: "read-" });
  try {
    for (const digest of await imageBlobs(store, descriptor)) {
      const rel = blobPath(digest);
      await Deno.mkdir(`${dir}/${rel.slice(0, rel.lastIndexOf("/"))}`, { recursive: true });
      await Deno.link(storeBlobPath(store, digest), `${dir}/${rel}`);
    }
    const enc = new TextEncoder();
    await Deno.writeFile(`${dir}/oci-layout`, enc.encode(OCI_LAYOUT_FILE_CONTENT));
    await Deno.writeFile(
      `${dir}/index.json`,
      serializeIndex({
        schemaVersion: 2,
        mediaType: MEDIA_TYPE_OCI_INDEX,
        manifests: [descriptor],
      }),
    );
    return dir;
  } catch (e) {
    await removeTree(dir);
    throw e;
  }
}

class SnapshotSource implements StoreSource {
  readonly dockerName?: string;
  constructor(
    readonly name: string,
    readonly image: FoundImage,
    readonly inner: OciLayoutSource,
    readonly dir: string,
  ) {
    try {
      this.dockerName = referenceName(parseNormalizedNamed(image.name));
    } catch { /* found by id, no name */ }
  }

  getManifest(digest?: string): Promise<RawManifest> {
    return this.inner.getManifest(digest);
  }

  getBlob(info: BlobInfo): Promise<ReadableStream<Uint8Array>> {
    return this.inner.getBlob(info);
  }

  repoTags(): Promise<string[]> {
    return Promise.resolve([]);
  }

  async close(): Promise<void> {
    await this.inner.close();
    await removeTree(this.dir);
  }
}

/**
 * Opens the store image `ref` (a name or an image id prefix) for reading.
 *
 * @throws {NotFoundError} when the store has no such image.
 * @example
 * ```ts
 * const src = await openStoreSource("store:busybox", store, "busybox");
 * src.image.imageId; // "sha256:…"
 * await src.close();
 * ```
 */
export async function openStoreSource(
  name: string,
  store: string,
  ref: string,
): Promise<StoreSource> {
  const resolution = await loadRegistriesConfig();
  const [image, dir] = await withStoreLock(store, "shared", async () => {
    const image = await findImageUnlocked(store, ref, resolution);
    return [image, await snapshot(store, image.descriptor)] as const;
  });
  try {
    const inner = await OciLayoutSource.open(name, new DirFiles(dir), undefined);
    return new SnapshotSource(name, image, inner, dir);
  } catch (e) {
    await removeTree(dir);
    throw e;
  }
}

/**
 * Reads the store image `image` (from `findImageUnlocked`) in place, without a snapshot, for
 * callers that hold the store lock (shared) for as long as they read, such as `run` building
 * its layer cache. Nothing to release but the source itself.
 *
 * @example
 * ```ts
 * await withStoreLock(store, "shared", async () => {
 *   const image = await findImageUnlocked(store, "busybox", resolution);
 *   const src = openLockedSource(store, image);
 *   // ... read layers ...
 *   await src.close();
 * });
 * ```
 */
export function openLockedSource(store: string, image: FoundImage): StoreSource {
  const name = `store:${image.name}`;
  const inner = OciLayoutSource.at(name, new DirFiles(imagesDir(store)), image.descriptor);
  let dockerName: string | undefined;
  try {
    dockerName = referenceName(parseNormalizedNamed(image.name));
  } catch { /* found by id, no name */ }
  return {
    name,
    image,
    dockerName,
    getManifest: (digest?: string) => inner.getManifest(digest),
    getBlob: (info: BlobInfo) => inner.getBlob(info),
    repoTags: () => Promise.resolve([]),
    close: () => inner.close(),
  };
}

/** A store destination; after commit, {@linkcode StoreDestination.stored} is the image. */
export class StoreDestination implements ImageDestination {
  readonly capabilities: DestinationCapabilities = {
    manifestTypes: [MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_OCI_INDEX],
    supportsIndex: true,
    layerCompression: "compressed",
  };
  #top: Descriptor | undefined;
  #stored: StoredImage | undefined;

  private constructor(
    readonly name: string,
    readonly store: string,
    readonly names: readonly string[],
    readonly staging: string,
  ) {}

  /**
   * Opens a destination that names the image `names` (full names, see `normalizeName`; none
   * adds it without a name) in the store.
   */
  static async open(name: string, store: string, names: readonly string[]) {
    await ensureStore(store);
    const staging = await Deno.makeTempDir({ dir: tmpDir(store), prefix: "pull-" });
    await Deno.mkdir(`${staging}/blobs/sha256`, { recursive: true });
    return new StoreDestination(name, store, names, staging);
  }

  /** The image as committed (undefined before commit). */
  get stored(): StoredImage | undefined {
    return this.#stored;
  }

  /**
   * True when the staging area has the blob, or the store has it: then it is hard-linked into
   * staging, so the image stays complete whatever an `rmi` does before commit.
   */
  async hasBlob(info: BlobInfo): Promise<boolean> {
    const staged = `${this.staging}/${blobPath(info.digest)}`;
    try {
      await Deno.stat(staged);
      return true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    try {
      await Deno.mkdir(staged.slice(0, staged.lastIndexOf("/")), { recursive: true });
      await Deno.link(storeBlobPath(this.store, info.digest), staged);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return true;
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }

  putBlob(
    stream: ReadableStream<Uint8Array>,
    info: Partial<BlobInfo>,
    options: IoOptions = {},
  ): Promise<BlobInfo> {
    return storeBlob(this.staging, stream, info, options);
  }

  async putManifest(manifest: RawManifest, instance = false): Promise<void> {
    const info = await storeBlob(this.staging, bytesStream(manifest.bytes), {});
    if (!instance) {
      this.#top = { mediaType: manifest.mediaType, digest: info.digest, size: info.size };
    }
  }

  async commit(): Promise<void> {
    if (!this.#top) throw new Error("commit before putManifest");
    this.#stored = await commitStaged(this.store, this.staging, this.#top, this.names);
  }

  async close(): Promise<void> {
    await removeTree(this.staging);
  }
}

/**
 * Opens the store for writing the image named `ref` (normalized: `busybox` →
 * `docker.io/library/busybox:latest`; undefined: no name).
 *
 * @throws {InvalidReferenceError} when `ref` is not a valid image name.
 * @example
 * ```ts
 * const dst = await openStoreDestination("store:app", store, "localhost:5000/app:v1");
 * ```
 */
export async function openStoreDestination(
  name: string,
  store: string,
  ref: string | undefined,
): Promise<StoreDestination> {
  const names = ref === undefined ? [] : [normalizeName(ref)];
  return await StoreDestination.open(name, store, names);
}
