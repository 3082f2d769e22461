/**
 * The `oci-archive:FILE[:TAG]` transport: an OCI image layout packed in one tar file.
 *
 * Reading indexes the tar once and reads blobs in place (no extraction); an archive compressed as
 * a whole (gzip, zstd) is first decompressed into a temporary file, as skopeo does. Writing
 * stages an OCI layout in a directory beside FILE and, at commit, writes the tar of that layout
 * (sorted, owner 0:0, mtime 0) to FILE atomically (temporary file, fsync, rename). Writing
 * replaces FILE, as skopeo does: an oci-archive holds what one copy wrote, it is not added to.
 *
 * @example
 * ```ts
 * import { openOciArchiveSource } from "./oci_archive.ts";
 * const src = await openOciArchiveSource("oci-archive:img.tar:v1", "img.tar", "v1");
 * const { bytes } = await src.getManifest();
 * await src.close();
 * ```
 * @module
 */
import { basename } from "../io/paths.ts";
import { InvalidReferenceError } from "../errors.ts";
import { isValidRefName } from "../image/layout.ts";
import {
  type ArchiveTarget,
  directoryMembers,
  type OpenedArchive,
  openTarArchive,
  resolveArchiveTarget,
  writeTarArchive,
} from "./archive_file.ts";
import { OciLayoutDestination, OciLayoutSource } from "./oci_layout.ts";
import { StagingDir } from "./staging.ts";
import type {
  BlobInfo,
  DestinationCapabilities,
  ImageDestination,
  ImageSource,
  IoOptions,
  RawManifest,
} from "./types.ts";

/**
 * Opens the image `ref` (a tag in the layout's index.json; undefined for the only image) in the
 * oci-archive at `path`.
 *
 * @throws {NotFoundError} when the file, the tag or the layout is missing.
 * @example
 * ```ts
 * const src = await openOciArchiveSource("oci-archive:img.tar", "img.tar");
 * await src.close();
 * ```
 */
export async function openOciArchiveSource(
  name: string,
  path: string,
  ref?: string,
): Promise<ImageSource> {
  const archive = await openTarArchive(path);
  try {
    return new OciArchiveSource(
      name,
      await OciLayoutSource.open(name, archive.files, ref),
      archive,
    );
  } catch (e) {
    await archive.close();
    throw e;
  }
}

/** An OCI layout source over a tar, releasing the archive on close. */
class OciArchiveSource implements ImageSource {
  constructor(
    readonly name: string,
    readonly inner: OciLayoutSource,
    readonly archive: OpenedArchive,
  ) {}

  getManifest(digest?: string): Promise<RawManifest> {
    return this.inner.getManifest(digest);
  }

  getBlob(info: BlobInfo): Promise<ReadableStream<Uint8Array>> {
    return this.inner.getBlob(info);
  }

  repoTags(): Promise<string[]> {
    return this.inner.repoTags();
  }

  async close(): Promise<void> {
    await this.inner.close();
    await this.archive.close();
  }
}

/**
 * Opens `path` for writing an oci-archive; `ref` becomes the image's tag in index.json. Nothing
 * is written to `path` until commit, which replaces the file (keeping its permission bits)
 * atomically; a FIFO or device at `path` is written to directly instead.
 *
 * @throws {InvalidReferenceError} when `ref` is not a valid OCI ref name.
 * @throws {InvalidImageError} when `path` is a directory.
 * @throws {NotFoundError} when the directory that would hold `path` does not exist.
 * @example
 * ```ts
 * const dst = await openOciArchiveDestination("oci-archive:out.tar:v1", "out.tar", "v1");
 * await dst.close(); // nothing was committed: out.tar is untouched
 * ```
 */
export async function openOciArchiveDestination(
  name: string,
  path: string,
  ref?: string,
): Promise<ImageDestination> {
  if (ref !== undefined && !isValidRefName(ref)) {
    throw new InvalidReferenceError(
      ref,
      "an OCI tag is alphanumeric parts joined by one of - . _ : @ + -- (and / between parts)",
    );
  }
  const target = await resolveArchiveTarget(path);
  const staging = await StagingDir.create(target.parent, basename(target.path), name);
  try {
    const inner = await OciLayoutDestination.open(name, staging.path, ref);
    return new OciArchiveDestination(name, target, staging, inner);
  } catch (e) {
    await staging.remove();
    throw e;
  }
}

/** Stages an OCI layout, then packs it into the target file. */
class OciArchiveDestination implements ImageDestination {
  readonly capabilities: DestinationCapabilities;

  constructor(
    readonly name: string,
    readonly target: ArchiveTarget,
    readonly staging: StagingDir,
    readonly inner: OciLayoutDestination,
  ) {
    this.capabilities = inner.capabilities;
  }

  hasBlob(info: BlobInfo): Promise<boolean> {
    return this.inner.hasBlob(info);
  }

  putBlob(
    stream: ReadableStream<Uint8Array>,
    info: Partial<BlobInfo>,
    options?: IoOptions,
  ): Promise<BlobInfo> {
    return this.staging.run(
      (signal) => this.inner.putBlob(stream, info, { ...options, signal }),
      options?.signal,
      () => stream.cancel().catch(() => {}),
    );
  }

  putManifest(manifest: RawManifest, instance?: boolean): Promise<void> {
    return this.staging.run(() => this.inner.putManifest(manifest, instance));
  }

  async commit(options: IoOptions = {}): Promise<void> {
    if (this.staging.sealed) throw new Error(`${this.name}: already committed or closed`);
    await this.staging.seal();
    await this.inner.commit();
    const members = await directoryMembers(this.staging.path);
    await writeTarArchive(this.target, members, {
      tempDir: this.staging.path,
      signal: options.signal,
    });
    await this.staging.remove();
  }

  async close(): Promise<void> {
    await this.staging.remove();
    await this.inner.close();
  }
}
