/**
 * The `docker-archive:FILE[:REF|:@N]` transport: the `docker save` format (Docker Image Spec
 * v1.3, "Combined Image JSON + Filesystem Changeset Format"), as read and written by skopeo.
 *
 * Reading: FILE is a tar (read in place; one compressed as a whole, or a stream such as
 * `/dev/stdin`, is copied to a temporary file first) or a directory holding an extracted save. `manifest.json` lists the
 * images; REF (compared after Docker normalisation, so `busybox` matches
 * `docker.io/library/busybox:latest`), `@N` (position) or "the only one" picks an image. A
 * Docker schema 2 manifest is synthesised for it: the config's sha256, and per layer file a
 * descriptor whose digest comes, in order of preference, from a `blobs/<alg>/<hex>` path (Docker
 * 25+ saves embed an OCI layout), from the config's `rootfs.diff_ids[i]` for an uncompressed
 * file (a diff_id is the digest of the uncompressed tar; copy verifies it while streaming), or
 * from hashing a compressed file at open. The media type follows the file's actual compression.
 * A layer's diff_id is checked whenever its digest is not the diff_id itself: while the layer
 * streams (decompressed on the side), or, for a second file claiming the diff_id of one already
 * listed, by hashing it at open (only the first is ever streamed).
 * Docker schema 2 has no zstd layer type, so an image with a zstd layer file gets an OCI manifest
 * (OCI config and layer types) instead. `LayerSources` (where a foreign layer's compressed form
 * can be downloaded) does not describe the file in the archive, so it is not used.
 *
 * Writing: blobs are verified into a staging directory beside FILE; commit writes the archive
 * the way skopeo lays it out (`<config hex>.json`, `<layer hex>.tar`, one legacy directory per
 * layer with `VERSION`, `json` and a `layer.tar` symlink, `manifest.json`, `repositories`) to a
 * temporary file renamed over FILE. Like skopeo, an existing non-empty FILE is refused: the
 * format cannot be added to, and ocibox does not silently replace someone's archive.
 *
 * @example
 * ```ts
 * import { openDockerArchiveSource } from "./docker_archive.ts";
 * const src = await openDockerArchiveSource("docker-archive:app.tar", "app.tar", { ref: "app:v1" });
 * console.log(await src.repoTags());
 * await src.close();
 * ```
 * @module
 */
import { basename } from "../io/paths.ts";
import { isHashAlgorithm, parseDigest } from "../digest/digest.ts";
import { createDigester, digestOf } from "../digest/digester.ts";
import {
  DigestMismatchError,
  InvalidImageError,
  InvalidReferenceError,
  NotFoundError,
  UnsupportedError,
  UsageError,
} from "../errors.ts";
import { type ImageConfig, parseImageConfig } from "../image/config.ts";
import { serializeManifest } from "../image/convert_manifest.ts";
import type { Descriptor } from "../image/descriptor.ts";
import {
  type DockerReference,
  fullString,
  parseNormalizedNamed,
  referenceName,
} from "../image/docker_reference.ts";
import {
  expectArray,
  expectObject,
  GoFieldNames,
  JsonPath,
  optString,
  optStringArray,
  parseJsonText,
  refuseCaseVariants,
  reqString,
} from "../image/json_fields.ts";
import type { ImageManifest } from "../image/manifest.ts";
import {
  layerMediaTypeFor,
  MEDIA_TYPE_DOCKER_CONFIG,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../image/media_types.ts";
import { parseManifestBytes } from "../image/parsed.ts";
import { bytesStream } from "../io/file_stream.ts";
import { type Compression, detectCompression } from "../archive/compression.ts";
import { cleanEntryPath } from "../archive/entry_path.ts";
import { diffIdChecked } from "./diff_id_check.ts";
import { DirFiles, type LayoutFiles } from "./layout_files.ts";
import {
  type ArchiveMember,
  type ArchiveTarget,
  openTarArchive,
  resolveArchiveTarget,
  writeTarArchive,
} from "./archive_file.ts";
import { blobPath, storeBlob } from "../store/blob_dir.ts";
import { StagingDir } from "./staging.ts";
import type {
  BlobInfo,
  DestinationCapabilities,
  ImageDestination,
  ImageSource,
  IoOptions,
  RawManifest,
} from "./types.ts";
import { isFile } from "../io/bytes.ts";

const MANIFEST_LIMIT = 16 << 20;
const CONFIG_LIMIT = 16 << 20;

/** Which image of an archive to read: by tag, by position, or (neither) the only one. */
export interface DockerArchiveSelector {
  /** A tag such as `busybox` or `docker.io/library/busybox:latest` (normalised before matching). */
  ref?: string;
  /** The image's position in manifest.json, from 0 (`@N`). */
  index?: number;
}

/** One entry of a save's manifest.json. */
interface SaveItem {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

// The fields of containers/image's (and Docker's) ManifestItem.
const SAVE_ITEM_FIELDS = new GoFieldNames([
  "Config",
  "RepoTags",
  "Layers",
  "Parent",
  "LayerSources",
]);

/** A layer file of the chosen image, as getBlob serves it. */
interface LayerFile {
  /** The file in the archive. */
  file: string;
  compression: Compression;
  /** The config's diff_id for it. */
  diffId: string;
}

/**
 * Opens one image of the docker save at `path` (a tar file or an extracted directory).
 *
 * @throws {NotFoundError} when the file, or the image asked for, is not there (the message
 *   lists the archive's images when the choice is missing or ambiguous).
 * @throws {UnsupportedError} for a pre-Docker-1.10 save without manifest.json.
 * @throws {InvalidImageError} for a malformed manifest.json or config.
 * @throws {DigestMismatchError} when the config does not match the digest in its file name.
 * @throws {UsageError} when both a tag and a position are given.
 * @example
 * ```ts
 * const src = await openDockerArchiveSource("docker-archive:two.tar:@1", "two.tar", { index: 1 });
 * await src.close();
 * ```
 */
export async function openDockerArchiveSource(
  name: string,
  path: string,
  selector: DockerArchiveSelector = {},
): Promise<ImageSource & { readonly archiveTags: readonly string[] }> {
  if (selector.ref !== undefined && selector.index !== undefined) {
    throw new UsageError(`${name}: name an image by tag or by @N, not both`);
  }
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`${name}: ${path} does not exist`);
    }
    throw e;
  }
  let files: LayoutFiles;
  let release = () => Promise.resolve();
  if (st.isDirectory) {
    files = new DirFiles(path);
  } else {
    const archive = await openTarArchive(path);
    files = archive.files;
    release = archive.close;
  }
  try {
    return await DockerArchiveSource.open(name, files, selector, release);
  } catch (e) {
    await release();
    throw e;
  }
}

class DockerArchiveSource implements ImageSource {
  dockerName?: string;
  private constructor(
    readonly name: string,
    readonly files: LayoutFiles,
    readonly item: SaveItem,
    readonly manifest: RawManifest,
    readonly manifestDigest: string,
    readonly config: Descriptor,
    readonly configBytes: Uint8Array,
    /** Layer digest -> the file holding it. */
    readonly layerFiles: ReadonlyMap<string, LayerFile>,
    readonly release: () => Promise<void>,
  ) {}

  static async open(
    name: string,
    files: LayoutFiles,
    selector: DockerArchiveSelector,
    release: () => Promise<void>,
  ): Promise<DockerArchiveSource> {
    if (!(await files.exists("manifest.json"))) {
      if (await files.exists("repositories")) {
        throw new UnsupportedError(
          `${name}: a pre-Docker-1.10 save (no manifest.json, only the legacy repositories ` +
            "file) is not supported; load it into Docker and save it again",
        );
      }
      throw new InvalidImageError(name, "is not a docker save archive (no manifest.json)");
    }
    const items = parseSaveManifest(
      await files.read("manifest.json", MANIFEST_LIMIT),
      `${name}: manifest.json`,
    );
    const [item, position] = chooseItem(items, selector, name);
    const where = `${name}: image @${position}`;

    const configBytes = await files.read(item.Config, CONFIG_LIMIT);
    const named = digestInName(item.Config, true);
    if (named !== undefined) {
      const actual = digestOf(configBytes, parseDigest(named).algorithm);
      if (actual !== named) {
        throw new DigestMismatchError(`${where}: config ${item.Config}`, named, actual);
      }
    }
    const configJson = parseJson(configBytes, `${where}: config ${item.Config}`);
    const config: ImageConfig = parseImageConfig(configJson, `${where}: config ${item.Config}`);
    const diffIds = config.rootfs.diff_ids;
    if (item.Layers.length !== diffIds.length) {
      throw new InvalidImageError(
        where,
        `manifest.json lists ${item.Layers.length} layer files but the config has ` +
          `${diffIds.length} rootfs.diff_ids`,
      );
    }

    const layers: { compression: Compression; digest: string; size: number }[] = [];
    const layerFiles = new Map<string, LayerFile>();
    const hashed = new Map<string, string>();
    for (const [i, file] of item.Layers.entries()) {
      const diffId = diffIds[i];
      const size = await files.size(file);
      const compression = detectCompression(await readHead(files, file, 4));
      const named = digestInName(file, false);
      if (
        named !== undefined && compression === "none" &&
        parseDigest(named).algorithm === parseDigest(diffId).algorithm && named !== diffId
      ) {
        // An uncompressed layer's digest is its diff_id: the name and the config disagree.
        throw new DigestMismatchError(
          `${where}: layer ${file} (uncompressed, so rootfs.diff_ids[${i}] is its digest)`,
          diffId,
          named,
        );
      }
      let digest = named ?? hashed.get(file);
      if (digest === undefined && compression === "none") digest = diffId;
      if (digest === undefined) {
        digest = await hashFile(files, file, "sha256");
        hashed.set(file, digest);
      }
      const known = layerFiles.get(digest);
      if (known === undefined) {
        layerFiles.set(digest, { file, compression, diffId });
      } else if (known.diffId !== diffId) {
        throw new InvalidImageError(
          where,
          `layers ${known.file} and ${file} have the same content (${digest}) but the config ` +
            `gives them different diff_ids (${known.diffId}, ${diffId})`,
        );
      } else if (known.file !== file) {
        // Only the first file claiming a digest is ever streamed (and so verified): check this
        // one now, or it could hold anything.
        const actual = await hashFile(files, file, parseDigest(digest).algorithm);
        if (actual !== digest) {
          throw new DigestMismatchError(`${where}: layer ${file}`, digest, actual);
        }
      }
      layers.push({ compression, digest, size });
    }

    const format = layers.some((l) => l.compression === "zstd") ? "oci" : "docker";
    const configDescriptor: Descriptor = {
      mediaType: format === "oci" ? MEDIA_TYPE_OCI_CONFIG : MEDIA_TYPE_DOCKER_CONFIG,
      digest: digestOf(configBytes),
      size: configBytes.length,
    };
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: format === "oci" ? MEDIA_TYPE_OCI_MANIFEST : MEDIA_TYPE_DOCKER_MANIFEST,
      config: configDescriptor,
      layers: layers.map((l) => ({
        mediaType: layerMediaTypeFor(format, l.compression)!,
        digest: l.digest,
        size: l.size,
      })),
    };
    const bytes = serializeManifest(manifest);
    const source = new DockerArchiveSource(
      name,
      files,
      item,
      { bytes, mediaType: manifest.mediaType! },
      digestOf(bytes),
      configDescriptor,
      configBytes,
      layerFiles,
      release,
    );
    if (selector.ref !== undefined) {
      source.dockerName = referenceName(parseNormalizedNamed(selector.ref));
    }
    return source;
  }

  getManifest(digest?: string): Promise<RawManifest> {
    if (digest !== undefined && digest !== this.manifestDigest) {
      return Promise.reject(
        new NotFoundError(
          `${this.name}: manifest ${digest} is not in the archive (it holds one manifest per ` +
            "image and no indexes)",
        ),
      );
    }
    return Promise.resolve(this.manifest);
  }

  async getBlob(info: BlobInfo): Promise<ReadableStream<Uint8Array>> {
    if (info.digest === this.config.digest) return bytesStream(this.configBytes);
    const layer = this.layerFiles.get(info.digest);
    if (layer === undefined) {
      throw new NotFoundError(`${this.name}: blob ${info.digest} is not part of this image`);
    }
    const raw = await this.files.stream(layer.file);
    // Served under its diff_id, the file is checked against it by whoever reads the blob.
    if (layer.compression === "none" && layer.diffId === info.digest) return raw;
    return diffIdChecked(raw, layer.compression, layer.diffId, `${this.name}: layer ${layer.file}`);
  }

  /** Like skopeo: RepoTags lists a registry's tags, which an archive does not have. */
  repoTags(): Promise<string[]> {
    return Promise.resolve([]);
  }

  /** The tags manifest.json gives the chosen image. */
  get archiveTags(): readonly string[] {
    return this.item.RepoTags;
  }

  async close(): Promise<void> {
    await this.release();
  }
}

/** Validates manifest.json: an array of {Config, RepoTags, Layers}; paths are cleaned. */
function parseSaveManifest(bytes: Uint8Array, what: string): SaveItem[] {
  const root = new JsonPath(what);
  return expectArray(parseJson(bytes, what), root).map((v, i) => {
    const path = root.index(i);
    const obj = expectObject(v, path);
    refuseCaseVariants(obj, SAVE_ITEM_FIELDS, path);
    const clean = (p: string, key: string) => {
      const c = cleanEntryPath(p);
      if (c === "") throw path.key(key).error(`${JSON.stringify(p)} names no file`);
      return c;
    };
    optString(obj, "Parent", path); // unused, but a wrong type means a broken file
    // Docker writes `"RepoTags": null` for untagged images.
    return {
      Config: clean(reqString(obj, "Config", path), "Config"),
      RepoTags: optStringArray(obj, "RepoTags", path) ?? [],
      Layers: (optStringArray(obj, "Layers", path) ?? []).map((l) => clean(l, "Layers")),
    };
  });
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  return parseJsonText(new TextDecoder().decode(bytes), new JsonPath(what));
}

/** Picks the image the selector names; [item, position]. */
function chooseItem(
  items: SaveItem[],
  selector: DockerArchiveSelector,
  name: string,
): [SaveItem, number] {
  const holds = () =>
    items.map((it, i) => `@${i}: ${it.RepoTags.length ? it.RepoTags.join(", ") : "untagged"}`)
      .join("; ");
  if (selector.ref !== undefined) {
    const want = parseNormalizedNamed(selector.ref);
    if (want.digest !== undefined) {
      throw new InvalidReferenceError(
        selector.ref,
        "docker-archive images are chosen by tag (RepoTags), not by digest",
      );
    }
    const wanted = fullString(want);
    for (const [i, item] of items.entries()) {
      for (const tag of item.RepoTags) {
        if (normalizedOrUndefined(tag) === wanted) return [item, i];
      }
    }
    throw new NotFoundError(`${name}: no image tagged ${wanted} in the archive (${holds()})`);
  }
  if (selector.index !== undefined) {
    const item = items[selector.index];
    if (item === undefined) {
      throw new NotFoundError(
        `${name}: there is no image @${selector.index}; the archive holds ${items.length} ` +
          `(${holds()})`,
      );
    }
    return [item, selector.index];
  }
  if (items.length === 1) return [items[0], 0];
  throw new NotFoundError(
    items.length === 0
      ? `${name}: the archive holds no images`
      : `${name}: the archive holds ${items.length} images; pick one with :REF or :@N (${holds()})`,
  );
}

function normalizedOrUndefined(tag: string): string | undefined {
  try {
    return fullString(parseNormalizedNamed(tag));
  } catch {
    return undefined; // a tag nobody can ask for cannot match
  }
}

const OCI_BLOB_PATH = /^blobs\/([a-z0-9]+(?:[+._-][a-z0-9]+)*)\/([a-zA-Z0-9=_-]+)$/;
const CONFIG_HEX_NAME = /^([a-f0-9]{64})\.json$/;

/**
 * The digest a file's name states: `blobs/<alg>/<encoded>` (Docker 25+, the OCI layout inside
 * the save) or, for configs, `<sha256 hex>.json` (the image ID, which is the config's sha256).
 * Only algorithms ocibox can compute count: the digest is checked against the bytes.
 */
function digestInName(path: string, isConfig: boolean): string | undefined {
  const m = OCI_BLOB_PATH.exec(path);
  if (m && isHashAlgorithm(m[1])) {
    const digest = `${m[1]}:${m[2]}`;
    try {
      parseDigest(digest);
      return digest;
    } catch {
      return undefined;
    }
  }
  const c = isConfig ? CONFIG_HEX_NAME.exec(path) : null;
  return c ? `sha256:${c[1]}` : undefined;
}

async function readHead(files: LayoutFiles, path: string, n: number): Promise<Uint8Array> {
  const reader = (await files.stream(path)).getReader();
  const out = new Uint8Array(n);
  let got = 0;
  try {
    while (got < n) {
      const { value, done } = await reader.read();
      if (done) break;
      const take = Math.min(n - got, value.length);
      out.set(value.subarray(0, take), got);
      got += take;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return out.subarray(0, got);
}

async function hashFile(files: LayoutFiles, path: string, algorithm: string): Promise<string> {
  const digester = createDigester(algorithm);
  for await (const chunk of await files.stream(path)) digester.update(chunk);
  return digester.digest();
}

/**
 * Opens `path` for writing a docker save archive of one image, tagged `ref` in RepoTags (written
 * normalised, e.g. `docker.io/library/busybox:latest`, as skopeo writes it); no ref gives
 * `RepoTags: []`. Nothing appears at `path` until commit.
 *
 * @throws {InvalidReferenceError} for an invalid ref or one with a digest (a tag is needed).
 * @throws {UnsupportedError} when `path` is an existing non-empty file.
 * @throws {InvalidImageError} when `path` is a directory.
 * @example
 * ```ts
 * const dst = await openDockerArchiveDestination("docker-archive:out.tar:app:v1", "out.tar", "app:v1");
 * await dst.close(); // nothing was committed: out.tar does not exist
 * ```
 */
export async function openDockerArchiveDestination(
  name: string,
  path: string,
  ref?: string,
): Promise<ImageDestination> {
  let tag: DockerReference | undefined;
  if (ref !== undefined) {
    tag = parseNormalizedNamed(ref);
    if (tag.digest !== undefined) {
      throw new InvalidReferenceError(
        ref,
        "docker-archive records tags (RepoTags), so the reference needs a tag, not a digest",
      );
    }
  }
  const target = await resolveArchiveTarget(path);
  if (target.existingSize) {
    throw new UnsupportedError(
      `${name}: ${path} exists and is not empty; docker-archive neither adds images to an ` +
        "existing archive nor replaces one (remove it first)",
    );
  }
  const staging = await StagingDir.create(target.parent, basename(target.path), name);
  return new DockerArchiveDestination(name, target, staging, tag);
}

class DockerArchiveDestination implements ImageDestination {
  readonly capabilities: DestinationCapabilities = {
    manifestTypes: [MEDIA_TYPE_DOCKER_MANIFEST],
    supportsIndex: false,
    layerCompression: "none",
  };
  #manifest: ImageManifest | undefined;

  constructor(
    readonly name: string,
    readonly target: ArchiveTarget,
    readonly staging: StagingDir,
    readonly tag: DockerReference | undefined,
  ) {}

  #stagedPath(digest: string): string {
    return `${this.staging.path}/${blobPath(digest)}`;
  }

  hasBlob(info: BlobInfo): Promise<boolean> {
    return isFile(this.#stagedPath(info.digest));
  }

  putBlob(
    stream: ReadableStream<Uint8Array>,
    info: Partial<BlobInfo>,
    options: IoOptions = {},
  ): Promise<BlobInfo> {
    return this.staging.run(
      (signal) => storeBlob(this.staging.path, stream, info, { ...options, signal }),
      options.signal,
      () => stream.cancel().catch(() => {}),
    );
  }

  putManifest(manifest: RawManifest, instance = false): Promise<void> {
    if (instance) {
      return Promise.reject(
        new UnsupportedError(
          `${this.name}: docker-archive holds single images, not manifest lists; copy one ` +
            "platform's image",
        ),
      );
    }
    const parsed = parseManifestBytes(manifest.bytes, manifest.mediaType || undefined, {
      what: `${this.name}: manifest`,
    });
    if (parsed.kind !== "manifest" || parsed.mediaType !== MEDIA_TYPE_DOCKER_MANIFEST) {
      return Promise.reject(
        new UnsupportedError(
          `${this.name}: docker-archive stores Docker schema 2 image manifests, not ${parsed.mediaType}`,
        ),
      );
    }
    this.#manifest = parsed.manifest;
    return Promise.resolve();
  }

  async commit(options: IoOptions = {}): Promise<void> {
    if (this.staging.sealed) throw new Error(`${this.name}: already committed or closed`);
    await this.staging.seal();
    if (!this.#manifest) throw new Error(`${this.name}: commit before putManifest`);
    const members = await this.#members(this.#manifest);
    await writeTarArchive(this.target, members, {
      tempDir: this.staging.path,
      fileMode: 0o444,
      signal: options.signal,
    });
    await this.staging.remove();
  }

  async close(): Promise<void> {
    await this.staging.remove();
  }

  /** The archive's members in skopeo's order: config, layers, legacy dirs, manifest.json, repositories. */
  async #members(m: ImageManifest): Promise<ArchiveMember[]> {
    const staged = async (d: Descriptor, what: string) => {
      const path = this.#stagedPath(d.digest);
      try {
        return { path, size: (await Deno.stat(path)).size };
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) {
          throw new NotFoundError(`${this.name}: ${what} ${d.digest} was never stored`);
        }
        throw e;
      }
    };
    const configFile = `${parseDigest(m.config.digest).encoded}.json`;
    const config = await staged(m.config, "config");
    const members: ArchiveMember[] = [{ name: configFile, type: "file", ...config }];
    const layerFiles: string[] = [];
    for (const l of m.layers) {
      const file = `${parseDigest(l.digest).encoded}.tar`;
      if (!layerFiles.includes(file)) {
        members.push({ name: file, type: "file", ...(await staged(l, "layer")) });
      }
      layerFiles.push(file);
    }
    const repoTags = this.tag ? [`${referenceName(this.tag)}:${this.tag.tag}`] : [];
    const legacy = legacyLayers(
      m.layers.map((l) => l.digest),
      await Deno.readFile(config.path),
    );
    members.push(...legacy.members);
    const repositories: Record<string, Record<string, string>> = {};
    if (this.tag && legacy.topId !== undefined) {
      repositories[referenceName(this.tag)] = { [this.tag.tag!]: legacy.topId };
    }
    const enc = new TextEncoder();
    members.push({
      name: "manifest.json",
      type: "file",
      bytes: enc.encode(goJson([{ Config: configFile, RepoTags: repoTags, Layers: layerFiles }])),
    });
    members.push({ name: "repositories", type: "file", bytes: enc.encode(goJson(repositories)) });
    return members;
  }
}

/** Fields of the image config that the top legacy layer's `json` repeats (as skopeo does). */
const LEGACY_TOP_FIELDS = [
  "architecture",
  "config",
  "container",
  "container_config",
  "created",
  "docker_version",
  "os",
] as const;

/**
 * The legacy per-layer directories (`<id>/VERSION`, `<id>/json`, `<id>/layer.tar` -> the layer
 * file), with ids derived as skopeo derives them (sha256 of the layer json with the chain ID in
 * it), so that the same image gives the same archive as `skopeo copy`.
 */
function legacyLayers(
  layerDigests: string[],
  configBytes: Uint8Array,
): { members: ArchiveMember[]; topId?: string } {
  const members: ArchiveMember[] = [];
  const config = expectObject(parseJson(configBytes, "config"), "config");
  const enc = new TextEncoder();
  const seen = new Set<string>();
  let chainId = "";
  let parent: string | undefined;
  for (const [i, digest] of layerDigests.entries()) {
    const layerConfig: Record<string, unknown> = {};
    if (parent !== undefined) layerConfig.parent = parent;
    if (i === layerDigests.length - 1) {
      for (const f of LEGACY_TOP_FIELDS) layerConfig[f] = config[f] ?? null;
    }
    chainId = chainId === "" ? digest : digestOf(enc.encode(`${chainId} ${digest}`));
    const id =
      parseDigest(digestOf(enc.encode(goJson(sortKeys({ ...layerConfig, layer_id: chainId })))))
        .encoded;
    if (!seen.has(id)) {
      seen.add(id);
      const json = goJson(sortKeys({ ...layerConfig, id }));
      members.push(
        {
          name: `${id}/layer.tar`,
          type: "symlink",
          target: `../${parseDigest(digest).encoded}.tar`,
        },
        { name: `${id}/VERSION`, type: "file", bytes: enc.encode("1.0") },
        { name: `${id}/json`, type: "file", bytes: enc.encode(json) },
      );
    }
    parent = id;
  }
  return { members, topId: parent };
}

/** A copy of `obj` with keys in byte order, as Go marshals maps. */
function sortKeys(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** JSON as Go's encoding/json writes it: compact, with <, >, & and U+2028/9 escaped. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
