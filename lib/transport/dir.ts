/**
 * The `dir:PATH` transport: skopeo's directory format (containers/image "Directory Transport
 * Version: 1.1"). One image per directory:
 *
 * - `version`: `Directory Transport Version: 1.1\n`
 * - `manifest.json`: the top-level manifest (image manifest or index), bytes as stored
 * - `<encoded>.manifest.json`: each per-instance manifest of an index, named by its digest
 * - `<encoded>`: every blob (config, layers), named by the encoded part of its digest only. 1.1
 *   does this for every algorithm (a sha512 blob is named by its 128 hex digits, with no
 *   algorithm prefix), so ocibox does the same.
 *
 * Writing stages the new image in a directory beside PATH and swaps it in at commit: the old
 * image stays whole until the new one is complete. Like skopeo, an existing PATH must be empty
 * or a dir-transport directory (it has a `version` file); anything else is refused.
 *
 * @example
 * ```ts
 * import { openDirSource } from "./dir.ts";
 * const src = await openDirSource("dir:/tmp/img", "/tmp/img");
 * const { bytes } = await src.getManifest();
 * await src.close();
 * ```
 * @module
 */
import { basename, dirname, resolve } from "../io/paths.ts";
import { digestOf } from "../digest/digester.ts";
import { parseDigest } from "../digest/digest.ts";
import { InvalidImageError, NotFoundError, UnsupportedError } from "../errors.ts";
import {
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../image/media_types.ts";
import { syncDir, writeFileAtomic } from "../io/atomic_file.ts";
import { DirFiles } from "./layout_files.ts";
import { blobPath, storeBlob } from "../store/blob_dir.ts";
import { removeTree, StagingDir } from "./staging.ts";
import type {
  BlobInfo,
  DestinationCapabilities,
  ImageDestination,
  ImageSource,
  IoOptions,
  RawManifest,
} from "./types.ts";
import { isFile } from "../io/bytes.ts";

/** The `version` file content this module writes. */
export const DIR_TRANSPORT_VERSION = "Directory Transport Version: 1.1\n";

const VERSION_LINE = /^Directory Transport Version: (\d+)\.(\d+)\n$/;
const MANIFEST_LIMIT = 4 << 20;

/** The file name of a blob: the encoded part of its digest, whatever the algorithm (1.1). */
function blobName(digest: string): string {
  // parseDigest rejects anything but [a-zA-Z0-9=_-] in the encoded part: no path can escape.
  return parseDigest(digest).encoded;
}

function manifestName(digest?: string): string {
  return digest === undefined ? "manifest.json" : `${blobName(digest)}.manifest.json`;
}

/**
 * Opens the dir-transport directory at `path` for reading.
 *
 * @throws {NotFoundError} when `path` or its manifest.json is missing.
 * @throws {UnsupportedError} when its `version` names a major version other than 1.
 * @example
 * ```ts
 * const src = await openDirSource("dir:/tmp/img", "/tmp/img");
 * await src.close();
 * ```
 */
export async function openDirSource(name: string, path: string): Promise<ImageSource> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`${name}: ${path} does not exist`);
    }
    throw e;
  }
  if (!st.isDirectory) throw new InvalidImageError(name, `${path} is not a directory`);
  const files = new DirFiles(path);
  // skopeo reads without looking at `version`; refusing only a future major version keeps
  // directories written by other tools (or without the file) readable.
  if (await files.exists("version")) {
    const text = new TextDecoder().decode(await files.read("version", 4096));
    const m = VERSION_LINE.exec(text);
    if (m && m[1] !== "1") {
      throw new UnsupportedError(
        `${name}: directory transport version ${m[1]}.${m[2]} is newer than ocibox reads (1.x)`,
      );
    }
  }
  if (!(await files.exists("manifest.json"))) {
    throw new NotFoundError(`${name}: ${path} is not a dir: image (it has no manifest.json)`);
  }
  return new DirSource(name, files);
}

class DirSource implements ImageSource {
  constructor(readonly name: string, readonly files: DirFiles) {}

  async getManifest(digest?: string): Promise<RawManifest> {
    const file = manifestName(digest);
    if (!(await this.files.exists(file))) {
      const what = digest === undefined ? "the top-level manifest" : `manifest ${digest}`;
      throw new NotFoundError(`${this.name}: ${what} is not stored (no ${file})`);
    }
    // The format keeps no media type: the caller's parser reads it from the bytes.
    return { bytes: await this.files.read(file, MANIFEST_LIMIT), mediaType: "" };
  }

  async getBlob(info: BlobInfo): Promise<ReadableStream<Uint8Array>> {
    const file = blobName(info.digest);
    if (!(await this.files.exists(file))) {
      throw new NotFoundError(`${this.name}: blob ${info.digest} is not stored (no ${file})`);
    }
    return await this.files.stream(file);
  }

  repoTags(): Promise<string[]> {
    return Promise.resolve([]);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Opens `path` for writing one image in the directory format. Missing parent directories are
 * created at once (the staging directory goes there); `path` itself appears, or an existing
 * image there is replaced as a whole, only at commit.
 *
 * @throws {InvalidImageError} when `path` exists and is not a directory, or is a non-empty
 *   directory without a `version` file (it is not ours to overwrite).
 * @example
 * ```ts
 * const dst = await openDirDestination("dir:/tmp/out", "/tmp/out");
 * await dst.close(); // nothing was committed: /tmp/out is untouched
 * ```
 */
export async function openDirDestination(name: string, path: string): Promise<ImageDestination> {
  let target = resolve(path);
  let existing: Deno.FileInfo | undefined;
  try {
    existing = await Deno.stat(target);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (existing) {
    if (!existing.isDirectory) {
      throw new InvalidImageError(
        name,
        `${path} exists and is not a directory; refusing to replace it`,
      );
    }
    // Replace the directory a symlink points to, not the symlink.
    target = await Deno.realPath(target);
    await checkReplaceable(name, target);
  }
  if (target === "/") throw new InvalidImageError(name, "refusing to replace /");
  const parent = dirname(target);
  await Deno.mkdir(parent, { recursive: true });
  const staging = await StagingDir.create(parent, basename(target), name);
  try {
    await Deno.chmod(staging.path, (existing?.mode ?? 0o755) & 0o7777);
    await writeFileAtomic(
      `${staging.path}/version`,
      new TextEncoder().encode(DIR_TRANSPORT_VERSION),
      { tempDir: staging.path },
    );
  } catch (e) {
    await staging.remove();
    throw e;
  }
  return new DirDestination(name, target, staging);
}

/** Refuses to overwrite a directory skopeo would refuse to: non-empty and without `version`. */
async function checkReplaceable(name: string, dir: string): Promise<void> {
  let empty = true;
  for await (const _ of Deno.readDir(dir)) {
    empty = false;
    break;
  }
  if (empty) return;
  // Through DirFiles: a `version` that is a FIFO or leads out of the directory is refused, not
  // waited on or read.
  const files = new DirFiles(dir);
  let text: string | undefined;
  if (await files.exists("version")) {
    text = new TextDecoder().decode(await files.read("version", 4096));
  }
  if (text === undefined || !VERSION_LINE.test(text)) {
    throw new InvalidImageError(
      name,
      `${dir} is not empty and is not a dir: image directory (no valid version file); ` +
        "refusing to overwrite it",
    );
  }
}

class DirDestination implements ImageDestination {
  readonly capabilities: DestinationCapabilities = {
    manifestTypes: [
      MEDIA_TYPE_OCI_MANIFEST,
      MEDIA_TYPE_OCI_INDEX,
      MEDIA_TYPE_DOCKER_MANIFEST,
      MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    ],
    supportsIndex: true,
    layerCompression: "preserve",
  };
  #hasTop = false;

  constructor(
    readonly name: string,
    readonly target: string,
    readonly staging: StagingDir,
  ) {}

  hasBlob(info: BlobInfo): Promise<boolean> {
    return isFile(`${this.staging.path}/${blobName(info.digest)}`);
  }

  putBlob(
    stream: ReadableStream<Uint8Array>,
    info: Partial<BlobInfo>,
    options: IoOptions = {},
  ): Promise<BlobInfo> {
    const dir = this.staging.path;
    return this.staging.run(
      async (signal) => {
        // storeBlob verifies and fsyncs into blobs/<alg>/<hex>; the format wants it at the top.
        const stored = await storeBlob(dir, stream, info, { ...options, signal });
        await Deno.rename(`${dir}/${blobPath(stored.digest)}`, `${dir}/${blobName(stored.digest)}`);
        return stored;
      },
      options.signal,
      () => stream.cancel().catch(() => {}),
    );
  }

  putManifest(manifest: RawManifest, instance = false): Promise<void> {
    const dir = this.staging.path;
    return this.staging.run(async () => {
      const file = instance ? manifestName(digestOf(manifest.bytes)) : manifestName();
      await writeFileAtomic(`${dir}/${file}`, manifest.bytes, { tempDir: dir });
      if (!instance) this.#hasTop = true;
    });
  }

  async commit(): Promise<void> {
    if (this.staging.sealed) throw new Error(`${this.name}: already committed or closed`);
    await this.staging.seal();
    if (!this.#hasTop) throw new Error(`${this.name}: commit before putManifest`);
    const dir = this.staging.path;
    await removeTree(`${dir}/blobs`);
    syncDir(dir);
    await swapIn(this.name, dir, this.target);
  }

  async close(): Promise<void> {
    // After a commit the directory is the target and no longer at the staging path.
    await this.staging.remove();
  }
}

/**
 * Puts the complete `staging` directory at `target`. An absent or empty target is replaced by
 * one rename. A previous image is first moved aside, so the path holds the old image or the new
 * one (and for a moment nothing), never a mix; the old one is deleted only after the swap.
 */
async function swapIn(name: string, staging: string, target: string): Promise<void> {
  const parent = dirname(target);
  try {
    await Deno.rename(staging, target);
    syncDir(parent);
    return;
  } catch (e) {
    if (!isNotEmpty(e)) throw e;
  }
  // Checked at open already; checked again because what is moved aside here gets deleted.
  await checkReplaceable(name, target);
  const old = await StagingDir.create(parent, `${basename(target)}-old`, name);
  await Deno.rename(target, old.path);
  try {
    await Deno.rename(staging, target);
  } catch (e) {
    await Deno.rename(old.path, target);
    throw e;
  }
  syncDir(parent);
  await old.remove();
}

function isNotEmpty(e: unknown): boolean {
  return e instanceof Error && "code" in e && (e.code === "ENOTEMPTY" || e.code === "EEXIST");
}
