/**
 * `save` and `load`: store images to and from docker-archive (`docker save`) and oci-archive
 * files, through the existing archive transports and the one copy routine.
 *
 * Load detects the format (a `manifest.json` makes a docker save, also the Docker 25+ kind
 * with an OCI layout inside; else an `oci-layout` file an OCI archive), and stores every image
 * the archive holds, named by its RepoTags (docker) or its `io.containerd.image.name` /
 * `org.opencontainers.image.ref.name` annotation when that is a full image name (oci). A bare
 * ref name such as `v1` names no repository: such an image is stored without a name, and a
 * warning says so.
 *
 * @example
 * ```ts
 * import { loadArchive, saveImage } from "./archives.ts";
 * await saveImage(store, "busybox", "busybox.tar", "docker-archive");
 * for (const img of await loadArchive(store, "busybox.tar")) console.log(img.names);
 * ```
 * @module
 */
import {
  CorruptCompressionError,
  InvalidImageError,
  InvalidReferenceError,
  NotFoundError,
  TarFormatError,
} from "../errors.ts";
import { parseLayoutIndex, REF_NAME_ANNOTATION } from "../image/layout.ts";
import { normalizeName } from "../image/short_names.ts";
import { basename, dirname } from "../io/paths.ts";
import type { Reporter } from "../report/reporter.ts";
import type { LayoutFiles } from "../transport/layout_files.ts";
import type { ImageDestination, ImageSource } from "../transport/types.ts";
import type { StoredImage } from "./image_store.ts";

/** The archive formats `save` writes and `load` reads. */
export type ArchiveFormat = "docker-archive" | "oci-archive";

/** Archive formats, for flag checks and help. */
export const ARCHIVE_FORMATS: readonly ArchiveFormat[] = ["docker-archive", "oci-archive"];

/** Progress and cancellation. */
export interface ArchiveOptions {
  reporter?: Reporter;
  signal?: AbortSignal;
}

/** The annotation containerd and Docker 25+ put the full image name in. */
const CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name";

async function copyTo(src: ImageSource, dst: ImageDestination, options: ArchiveOptions) {
  const { copyImage } = await import("../transport/copy.ts");
  try {
    await copyImage(src, dst, { reporter: options.reporter, signal: options.signal });
  } finally {
    await dst.close();
  }
}

/**
 * Writes the store image `ref` to `file` as a docker-archive (named in RepoTags) or an
 * oci-archive (named in `org.opencontainers.image.ref.name`) with its full name. An existing
 * file is replaced only once the new one is complete.
 *
 * @throws {NotFoundError} when the store has no such image.
 * @example
 * ```ts
 * await saveImage(store, "busybox", "/tmp/busybox.tar", "oci-archive");
 * ```
 */
export async function saveImage(
  store: string,
  ref: string,
  file: string,
  format: ArchiveFormat,
  options: ArchiveOptions = {},
): Promise<StoredImage> {
  const { openStoreSource } = await import("../transport/store.ts");
  const src = await openStoreSource(`store:${ref}`, store, ref);
  try {
    const image = src.image;
    const name = image.names.includes(image.name) ? image.name : image.names[0];
    if (format === "oci-archive") {
      const { openOciArchiveDestination } = await import("../transport/oci_archive.ts");
      await copyTo(
        src,
        await openOciArchiveDestination(`oci-archive:${file}`, file, name),
        options,
      );
      return image;
    }
    const { openDockerArchiveDestination } = await import("../transport/docker_archive.ts");
    // docker-archive refuses to overwrite a file; `save -o` replaces it, once the new one is done.
    let existing = false;
    try {
      existing = (await Deno.stat(file)).isFile;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const target = existing
      ? `${dirname(file)}/.tmp-save-${crypto.randomUUID().slice(0, 8)}-${basename(file)}`
      : file;
    try {
      await copyTo(
        src,
        await openDockerArchiveDestination(`docker-archive:${file}`, target, name),
        options,
      );
      if (existing) await Deno.rename(target, file);
    } finally {
      if (existing) await Deno.remove(target).catch(() => {});
    }
    return image;
  } finally {
    await src.close();
  }
}

/** One image `load` stored. */
export interface LoadedImage {
  names: string[];
  imageId: string;
}

/** The archive's files (tar or directory) and how to release them. */
async function openFiles(path: string): Promise<{ files: LayoutFiles; close(): Promise<void> }> {
  if ((await Deno.stat(path)).isDirectory) {
    const { DirFiles } = await import("../transport/layout_files.ts");
    return { files: new DirFiles(path), close: () => Promise.resolve() };
  }
  const { openTarArchive } = await import("../transport/archive_file.ts");
  const archive = await openTarArchive(path);
  return { files: archive.files, close: archive.close };
}

/** A full name from an annotation or RepoTag, or undefined (with a warning) when it is none. */
function fullNameOf(tag: string, what: string, reporter?: Reporter): string | undefined {
  try {
    return normalizeName(tag);
  } catch (e) {
    if (!(e instanceof InvalidReferenceError)) throw e;
    reporter?.warn(`${what} ${JSON.stringify(tag)} is not an image name; not used`);
    return undefined;
  }
}

/**
 * Stores every image of the docker-archive or oci-archive at `path` (a file or an extracted
 * directory), with the names the archive gives them.
 *
 * @throws {InvalidImageError} when `path` is neither format.
 * @throws {NotFoundError} when `path` does not exist.
 * @example
 * ```ts
 * const loaded = await loadArchive(store, "images.tar", { reporter });
 * ```
 */
export async function loadArchive(
  store: string,
  path: string,
  options: ArchiveOptions = {},
): Promise<LoadedImage[]> {
  try {
    await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new NotFoundError(`${path} does not exist`);
    throw e;
  }
  let opened: Awaited<ReturnType<typeof openFiles>>;
  try {
    opened = await openFiles(path);
  } catch (e) {
    // A file that is no tar at all: say which file, and what was expected.
    if (e instanceof TarFormatError || e instanceof CorruptCompressionError) {
      throw new InvalidImageError(path, `is not a docker-archive or oci-archive (${e.message})`);
    }
    throw e;
  }
  let kind: ArchiveFormat;
  let count = 0;
  try {
    if (await opened.files.exists("manifest.json")) {
      kind = "docker-archive";
      let items: unknown;
      try {
        items = JSON.parse(
          new TextDecoder().decode(await opened.files.read("manifest.json", 16 << 20)),
        );
      } catch (e) {
        if (!(e instanceof SyntaxError)) throw e;
      }
      if (!Array.isArray(items)) {
        throw new InvalidImageError(`${path}: manifest.json`, "is not a list of images");
      }
      count = items.length;
    } else if (await opened.files.exists("oci-layout")) {
      kind = "oci-archive";
      return await loadOciLayout(store, path, opened.files, options);
    } else {
      throw new InvalidImageError(
        path,
        "is neither a docker-archive (no manifest.json) nor an oci-archive (no oci-layout)",
      );
    }
  } finally {
    await opened.close();
  }
  if (count === 0) throw new InvalidImageError(path, `the ${kind} holds no images`);
  const { openDockerArchiveSource } = await import("../transport/docker_archive.ts");
  const { StoreDestination } = await import("../transport/store.ts");
  const out: LoadedImage[] = [];
  for (let i = 0; i < count; i++) {
    const src = await openDockerArchiveSource(`docker-archive:${path}:@${i}`, path, { index: i });
    try {
      const names: string[] = [];
      for (const tag of src.archiveTags) {
        const n = fullNameOf(tag, "RepoTag", options.reporter);
        if (n !== undefined && !names.includes(n)) names.push(n);
      }
      const dst = await StoreDestination.open(src.name, store, names);
      await copyTo(src, dst, options);
      out.push({ names, imageId: dst.stored!.imageId });
    } finally {
      await src.close();
    }
  }
  return out;
}

async function loadOciLayout(
  store: string,
  path: string,
  files: LayoutFiles,
  options: ArchiveOptions,
): Promise<LoadedImage[]> {
  const { OciLayoutSource } = await import("../transport/oci_layout.ts");
  const { StoreDestination } = await import("../transport/store.ts");
  const index = parseLayoutIndex(await files.read("index.json", 4 << 20));
  // One image per manifest digest, with every name its entries give it.
  const byDigest = new Map<string, { entry: (typeof index.manifests)[number]; names: string[] }>();
  for (const entry of index.manifests) {
    const item = byDigest.get(entry.digest) ?? { entry, names: [] };
    byDigest.set(entry.digest, item);
    const full = entry.annotations?.[CONTAINERD_NAME_ANNOTATION];
    const ref = entry.annotations?.[REF_NAME_ANNOTATION];
    let name: string | undefined;
    if (full !== undefined) name = fullNameOf(full, CONTAINERD_NAME_ANNOTATION, options.reporter);
    else if (ref !== undefined && /[/:]/.test(ref)) {
      name = fullNameOf(ref, "ref name", options.reporter);
    } else if (ref !== undefined) {
      options.reporter?.warn(
        `ref name ${JSON.stringify(ref)} names no repository; the image is stored without a ` +
          "name (give it one with ocibox tag)",
      );
    }
    if (name !== undefined && !item.names.includes(name)) item.names.push(name);
  }
  if (byDigest.size === 0) throw new InvalidImageError(path, "the oci-archive holds no images");
  const out: LoadedImage[] = [];
  for (const { entry, names } of byDigest.values()) {
    const src = OciLayoutSource.at(`oci-archive:${path}`, files, entry);
    const dst = await StoreDestination.open(src.name, store, names);
    await copyTo(src, dst, options);
    out.push({ names, imageId: dst.stored!.imageId });
  }
  return out;
}
