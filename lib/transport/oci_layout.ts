/**
 * The `oci:` transport: OCI image layouts (image-layout.md) as a source (any LayoutFiles, so
 * `oci-archive:` reads through it too) and as a destination directory that holds many images,
 * tagged through `org.opencontainers.image.ref.name` in index.json.
 * @module
 */
import { verifyBytes } from "../digest/verify.ts";
import { InvalidImageError, NotFoundError } from "../errors.ts";
import type { Descriptor } from "../image/descriptor.ts";
import type { ImageIndex } from "../image/image_index.ts";
import {
  emptyIndex,
  findByRef,
  OCI_LAYOUT_FILE_CONTENT,
  parseLayoutIndex,
  parseOciLayoutFile,
  serializeIndex,
  withTag,
} from "../image/layout.ts";
import { MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST } from "../image/media_types.ts";
import { writeFileAtomic } from "../io/atomic_file.ts";
import { blobPath, storeBlob, syncBlobDirs } from "../store/blob_dir.ts";
import { DirFiles, type LayoutFiles } from "./layout_files.ts";
import { statBeneath } from "./safe_open.ts";
import type {
  BlobInfo,
  DestinationCapabilities,
  ImageDestination,
  ImageSource,
  IoOptions,
  RawManifest,
} from "./types.ts";

const MANIFEST_LIMIT = 4 << 20;

/** Reads and checks `oci-layout` and `index.json` of a layout. */
export async function readLayoutIndex(files: LayoutFiles): Promise<ImageIndex> {
  if (!(await files.exists("oci-layout"))) {
    throw new NotFoundError(`${files.location} is not an OCI image layout (no oci-layout file)`);
  }
  parseOciLayoutFile(await files.read("oci-layout", 64 << 10));
  return parseLayoutIndex(await files.read("index.json", MANIFEST_LIMIT));
}

/** Reads an image out of an OCI layout. */
export class OciLayoutSource implements ImageSource {
  private constructor(
    readonly name: string,
    readonly files: LayoutFiles,
    readonly top: Descriptor,
  ) {}

  /** Opens the image `ref` (a ref name, or undefined for a layout's only image). */
  static async open(name: string, files: LayoutFiles, ref: string | undefined) {
    const index = await readLayoutIndex(files);
    const found = findByRef(index, ref, files.location);
    const digests = new Set(found.map((d) => d.digest));
    if (digests.size > 1) {
      throw new InvalidImageError(
        files.location,
        `index.json gives the tag ${JSON.stringify(ref)} to ${digests.size} different images`,
      );
    }
    return new OciLayoutSource(name, files, found[0]);
  }

  /**
   * Reads the image `top` describes (an entry of the layout's index.json, tagged or not), for
   * callers that walk index.json themselves (`load` of a multi-image oci-archive).
   */
  static at(name: string, files: LayoutFiles, top: Descriptor): OciLayoutSource {
    return new OciLayoutSource(name, files, top);
  }

  async getManifest(digest?: string): Promise<RawManifest> {
    const desc = digest === undefined ? this.top : undefined;
    const want = desc?.digest ?? digest!;
    const bytes = await this.files.read(blobPath(want), MANIFEST_LIMIT);
    if (desc) verifyBytes(bytes, desc, `manifest ${want}`);
    return { bytes, mediaType: desc?.mediaType ?? "" };
  }

  async getBlob(info: BlobInfo): Promise<ReadableStream<Uint8Array>> {
    const path = blobPath(info.digest);
    if (!(await this.files.exists(path))) {
      throw new NotFoundError(`blob ${info.digest} is not in ${this.files.location}`);
    }
    return this.files.stream(path);
  }

  repoTags(): Promise<string[]> {
    return Promise.resolve([]);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Writes images into an OCI layout directory (created when missing). */
export class OciLayoutDestination implements ImageDestination {
  readonly capabilities: DestinationCapabilities = {
    manifestTypes: [MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_OCI_INDEX],
    supportsIndex: true,
    layerCompression: "compressed",
  };
  #top: Descriptor | undefined;
  #files: DirFiles;
  #committed = false;
  /** Blob directories whose fsync waits for commit (see storeBlob's deferDirSync). */
  readonly #unsynced = new Set<string>();

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly ref: string | undefined,
    /** The directory did not exist before: a copy that fails removes it again. */
    readonly created: boolean,
  ) {
    this.#files = new DirFiles(dir);
  }

  /** Opens (creating if needed) the layout at `dir`; `ref` is the tag to give the image. */
  static async open(name: string, dir: string, ref: string | undefined) {
    let created = false;
    try {
      await Deno.stat(dir);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      created = true;
    }
    await Deno.mkdir(dir, { recursive: true });
    const files = new DirFiles(dir);
    if (await files.exists("oci-layout")) {
      await readLayoutIndex(files); // refuse to add to a broken layout
    } else {
      for await (const e of Deno.readDir(dir)) {
        if (!e.name.startsWith(".tmp-")) {
          throw new InvalidImageError(dir, "exists, is not empty and is not an OCI image layout");
        }
      }
      await writeFileAtomic(`${dir}/oci-layout`, new TextEncoder().encode(OCI_LAYOUT_FILE_CONTENT));
      await writeFileAtomic(`${dir}/index.json`, serializeIndex(emptyIndex()));
    }
    // Blobs are written by path: a `blobs` that leads out of the layout would take them along.
    for (const sub of ["blobs", "blobs/sha256"]) {
      const facts = statBeneath(dir, sub);
      if (facts !== undefined && facts.kind !== "directory") {
        throw new InvalidImageError(`${dir}/${sub}`, `is a ${facts.kind}, not a directory`);
      }
    }
    await Deno.mkdir(`${dir}/blobs/sha256`, { recursive: true });
    return new OciLayoutDestination(name, dir, ref, created);
  }

  hasBlob(info: BlobInfo): Promise<boolean> {
    return this.#files.exists(blobPath(info.digest));
  }

  async putBlob(
    stream: ReadableStream<Uint8Array>,
    info: Partial<BlobInfo>,
    options: IoOptions = {},
  ): Promise<BlobInfo> {
    return await storeBlob(this.dir, stream, info, { ...options, deferDirSync: this.#unsynced });
  }

  async putManifest(manifest: RawManifest, instance = false): Promise<void> {
    const info = await storeBlob(this.dir, ReadableStream.from([manifest.bytes]), {}, {
      deferDirSync: this.#unsynced,
    });
    if (!instance) {
      this.#top = { mediaType: manifest.mediaType, digest: info.digest, size: info.size };
    }
  }

  async commit(): Promise<void> {
    if (!this.#top) throw new Error("commit before putManifest");
    const top = this.#top;
    // One directory fsync for every blob written, before index.json names any of them.
    syncBlobDirs(this.#unsynced);
    // The directory lock serialises index.json updates between concurrent writers.
    using lock = await Deno.open(this.dir, { read: true });
    await lock.lock(true);
    try {
      let index = await readLayoutIndex(this.#files);
      if (this.ref !== undefined) index = withTag(index, top, this.ref);
      else if (!index.manifests.some((d) => d.digest === top.digest && !d.annotations)) {
        index = { ...index, manifests: [...index.manifests, top] };
      }
      await writeFileAtomic(`${this.dir}/index.json`, serializeIndex(index));
      this.#committed = true;
    } finally {
      await lock.unlock();
    }
  }

  /**
   * Without a commit, a layout this destination created is removed again; in a layout that was
   * there before, blobs that arrived stay (they are verified and unreferenced, as with skopeo).
   */
  async close(): Promise<void> {
    if (!this.#committed && this.created) {
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    }
  }
}
