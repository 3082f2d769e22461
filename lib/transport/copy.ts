/**
 * `copyImage`: the one routine that moves an image from any {@linkcode ImageSource} to any
 * {@linkcode ImageDestination}. It converts the manifest format when the destination needs
 * another one, changes layer compression when the destination asks for it, skips blobs the
 * destination already has, and copies whole indexes with `all`.
 *
 * An index graph is walked as a graph, not a tree: each manifest and blob is copied once however
 * many indexes list it, indexes nest at most as deep as resolve follows them (`MAX_INDEX_DEPTH`),
 * and one copy reads at most {@linkcode MAX_MANIFESTS_PER_COPY} manifests, so that neither a
 * layout nor a registry can keep a copy going without end with a few small, cross-listed indexes.
 * @module
 */
import { digestOf } from "../digest/digester.ts";
import { verifyingStream } from "../digest/verify.ts";
import {
  LimitExceededError,
  NotFoundError,
  RegistryError,
  SizeMismatchError,
  throwIfAborted,
  UnsupportedError,
} from "../errors.ts";
import { backoffDelay, isRetryableError, isRetryableStatus, sleep } from "../http/retry.ts";
import {
  convertManifest,
  type ManifestFormat,
  serializeManifest,
} from "../image/convert_manifest.ts";
import { type Descriptor, descriptorJson } from "../image/descriptor.ts";
import type { ImageIndex } from "../image/image_index.ts";
import type { ImageManifest } from "../image/manifest.ts";
import {
  isIndexMediaType,
  isManifestMediaType,
  isNondistributableMediaType,
  layerCompression,
  layerMediaTypeFor,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../image/media_types.ts";
import type { ParsedImageIndex, ParsedImageManifest, ParsedManifest } from "../image/parsed.ts";
import { choosePlatform, hostPlatform, type Platform } from "../image/platform.ts";
import { compress, type Compression, decompressSniffed } from "../archive/compression.ts";
import { plainReporter, type Reporter } from "../report/reporter.ts";
import { indexDepthError, readChildManifest, readTopManifest } from "./resolve.ts";
import type { ImageDestination, ImageSource, RawManifest } from "./types.ts";

/** How to copy. */
export interface CopyOptions {
  /** Copy every image of an index (default: only the one for `platform`). */
  all?: boolean;
  /** The platform to pick from an index when not copying all (default: this host). */
  platform?: Platform;
  /** Compress (or decompress) every layer to this, rewriting manifests. */
  compression?: Compression;
  /** The level of layers this copy compresses (gzip 1-9, zstd 1-19); the codec's default else. */
  compressionLevel?: number;
  /** Refuse any change that would alter a digest (format conversion, recompression). */
  preserveDigests?: boolean;
  /** Blob transfers running at once. */
  jobs?: number;
  reporter?: Reporter;
  signal?: AbortSignal;
}

/** Whole-blob transfers tried at most this many times. */
const TRANSFER_ATTEMPTS = 3;

/**
 * Distinct manifests (images and indexes, the top one included) one copy reads at most. Real
 * multi-platform images list tens; the cap bounds what a source inventing ever new manifests
 * (a hostile registry) can make a copy do.
 */
export const MAX_MANIFESTS_PER_COPY = 10_000;

/** What was written as the destination's top-level manifest. */
export interface CopyResult {
  digest: string;
  size: number;
  mediaType: string;
}

/** Copies the image `src` names into `dst` and commits it. */
export async function copyImage(
  src: ImageSource,
  dst: ImageDestination,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const c = new Copier(src, dst, options);
  const top = await readTopManifest(src, options);
  let result: CopyResult;
  if (top.kind === "index" && options.all) {
    if (!dst.capabilities.supportsIndex) {
      throw new UnsupportedError(
        `${dst.name} can hold only one image; pick one with --platform instead of --all`,
      );
    }
    result = await c.copyIndex(top, false, 0);
  } else if (top.kind === "index") {
    const chosen = choosePlatform(top.index.manifests, options.platform ?? hostPlatform());
    const child = await c.readManifest(chosen);
    result = child.kind === "index"
      ? await c.copyIndex(child, false, 1)
      : await c.copyManifest(child, false);
  } else {
    result = await c.copyManifest(top, false);
  }
  c.reporter.info("Writing manifest to image destination");
  await dst.commit(options);
  return result;
}

/** What copying one listed manifest gave, kept for the entries that list it again. */
interface CopiedManifest {
  result: CopyResult;
  /** Indexes in a row from this manifest down: 0 for an image manifest. */
  height: number;
  /** The source manifest's size in bytes. */
  size: number;
}

class Copier {
  readonly reporter: Reporter;
  readonly options: CopyOptions;
  readonly #format: ManifestFormat;
  // Fires on the caller's signal or when one of several parallel transfers fails.
  readonly #abort = new AbortController();
  /** Manifests listed by a copied index, by digest: each is read and copied once. */
  readonly #manifests = new Map<string, Promise<CopiedManifest>>();
  /** Blobs copied unchanged, by digest, and layers converted, by new media type and digest. */
  readonly #blobs = new Map<string, Promise<void>>();
  readonly #layers = new Map<string, Promise<Descriptor>>();
  /** Manifests read so far, the top one included. */
  #manifestsRead = 1;
  constructor(
    readonly src: ImageSource,
    readonly dst: ImageDestination,
    options: CopyOptions,
  ) {
    const signals = [this.#abort.signal, ...(options.signal ? [options.signal] : [])];
    this.options = { ...options, signal: AbortSignal.any(signals) };
    this.reporter = options.reporter ?? plainReporter();
    this.#format = dst.capabilities.manifestTypes[0] === MEDIA_TYPE_DOCKER_MANIFEST
      ? "docker"
      : "oci";
  }

  #refuseChange(what: string): void {
    if (this.options.preserveDigests) {
      throw new UnsupportedError(`--preserve-digests: copying would change ${what}`);
    }
  }

  /** Copies an image manifest, its config and layers; returns the descriptor written. */
  async copyManifest(m: ParsedImageManifest, instance: boolean): Promise<CopyResult> {
    let manifest: ImageManifest = m.manifest;
    let changed = false;
    const convert = !this.dst.capabilities.manifestTypes.includes(m.mediaType);
    if (convert) {
      this.#refuseChange(`the manifest format (${m.mediaType} is not stored by ${this.dst.name})`);
    }
    // The config moves beside the layers, not before them: for a small image the round trips
    // (HEAD, GET or upload of each blob) are most of the time, and they overlap this way.
    let configFailedFirst: { error: unknown } | undefined;
    const config = this.#copyBlob(manifest.config, "config").catch((error) => {
      if (!this.#abort.signal.aborted) {
        configFailedFirst = { error };
        this.#abort.abort();
      }
      throw error;
    });
    config.catch(() => {}); // awaited below, after the layers settle
    // Layers in the source's format: a zstd layer bound for a Docker manifest is decompressed
    // here, and only then does the manifest change format.
    const format = manifest.mediaType === MEDIA_TYPE_DOCKER_MANIFEST ? "docker" : "oci";
    let layers: Descriptor[];
    try {
      layers = await mapLimit(
        manifest.layers,
        this.options.jobs ?? 4,
        this.#abort,
        (layer) => this.#copyLayer(layer, format),
      );
    } catch (e) {
      // Nothing may still be writing when the caller cleans up; and when the config's failure
      // is what stopped the layers, it is the one to report.
      await config.catch(() => {});
      throw configFailedFirst ? configFailedFirst.error : e;
    }
    await config;
    if (layers.some((l, i) => l !== manifest.layers[i])) {
      manifest = { ...manifest, layers };
      changed = true;
    }
    if (convert) {
      const conv = convertManifest(manifest, this.#format);
      for (const w of conv.warnings) this.reporter.warn(w);
      manifest = conv.manifest;
      changed = true;
    }
    const raw: RawManifest = changed
      ? {
        bytes: serializeManifest(manifest),
        mediaType: manifest.mediaType ?? MEDIA_TYPE_OCI_MANIFEST,
      }
      : { bytes: m.bytes, mediaType: m.mediaType };
    return await this.#putManifest(raw, instance);
  }

  /** Reads the manifest `desc` names, counting it against the per-copy cap. */
  async readManifest(desc: Descriptor): Promise<ParsedManifest> {
    if (++this.#manifestsRead > MAX_MANIFESTS_PER_COPY) {
      throw new LimitExceededError(
        this.src.name,
        MAX_MANIFESTS_PER_COPY,
        `its indexes list more than ${MAX_MANIFESTS_PER_COPY} different manifests`,
      );
    }
    return await readChildManifest(this.src, desc, this.options);
  }

  /**
   * Copies the manifest (or index) an index entry at `depth` names, once per digest: an entry
   * listed again, by this index or another, gets the first copy's result.
   */
  async #copyListed(d: Descriptor, depth: number): Promise<CopiedManifest> {
    let copied = this.#manifests.get(d.digest);
    if (copied === undefined) {
      copied = (async () => {
        const child = await this.readManifest(d);
        const size = child.bytes.length;
        if (child.kind === "manifest") {
          return { result: await this.copyManifest(child, true), height: 0, size };
        }
        return { ...await this.#copyIndex(child, true, depth), size };
      })();
      this.#manifests.set(d.digest, copied);
    }
    const c = await copied;
    // readChildManifest checked the size against the first entry naming this digest only.
    if (d.size !== c.size) {
      throw new SizeMismatchError(`${this.src.name}: manifest ${d.digest}`, d.size, c.size);
    }
    // Met first higher up, a shared index may sit deeper here than the first walk checked.
    const tooDeep = c.height > 0 ? indexDepthError(this.src.name, depth + c.height - 1) : undefined;
    if (tooDeep) throw tooDeep;
    return c;
  }

  /** Copies every entry of an index at `depth` (0 for the top), then the index. */
  async copyIndex(idx: ParsedImageIndex, instance: boolean, depth: number): Promise<CopyResult> {
    return (await this.#copyIndex(idx, instance, depth)).result;
  }

  /** {@linkcode copyIndex}, also telling how many indexes stand in a row from this one down. */
  async #copyIndex(
    idx: ParsedImageIndex,
    instance: boolean,
    depth: number,
  ): Promise<{ result: CopyResult; height: number }> {
    const tooDeep = indexDepthError(this.src.name, depth);
    if (tooDeep) throw tooDeep;
    const manifests: Descriptor[] = [];
    let below = 0;
    for (const d of idx.index.manifests) {
      throwIfAborted(this.options.signal);
      if (isManifestMediaType(d.mediaType) || isIndexMediaType(d.mediaType)) {
        const { result: r, height } = await this.#copyListed(d, depth + 1);
        below = Math.max(below, height);
        manifests.push(r.digest === d.digest ? d : { ...d, ...r });
      } else {
        // Not something ocibox understands: carry the blob across unchanged.
        await this.#copyBlob(d, "blob");
        manifests.push(d);
      }
    }
    let index: ImageIndex = idx.index;
    let mediaType = idx.mediaType;
    const wantDocker = this.#format === "docker";
    const isDocker = mediaType === MEDIA_TYPE_DOCKER_MANIFEST_LIST;
    let changed = manifests.some((d, i) => d !== idx.index.manifests[i]);
    if (isDocker !== wantDocker) {
      this.#refuseChange("the index format");
      mediaType = wantDocker ? MEDIA_TYPE_DOCKER_MANIFEST_LIST : MEDIA_TYPE_OCI_INDEX;
      changed = true;
    }
    const height = 1 + below;
    if (!changed) {
      return { result: await this.#putManifest({ bytes: idx.bytes, mediaType }, instance), height };
    }
    index = { ...index, mediaType, manifests };
    const bytes = serializeIndexCompact(index);
    return { result: await this.#putManifest({ bytes, mediaType }, instance), height };
  }

  async #putManifest(raw: RawManifest, instance: boolean): Promise<CopyResult> {
    await this.dst.putManifest(raw, instance, this.options);
    return { digest: digestOf(raw.bytes), size: raw.bytes.length, mediaType: raw.mediaType };
  }

  /** Copies a blob as-is unless the destination has it; once per digest. */
  async #copyBlob(desc: Descriptor, kind: "config" | "layer" | "blob"): Promise<void> {
    const copied = this.#blobs.get(desc.digest);
    if (copied === undefined) {
      const copying = this.#copyBlobOnce(desc, kind);
      this.#blobs.set(desc.digest, copying);
      return await copying;
    }
    await copied;
    // Reported as a blob the destination has, which it is by now.
    this.reporter.blobStart(kind, desc.digest, desc.size, true);
  }

  async #copyBlobOnce(desc: Descriptor, kind: "config" | "layer" | "blob"): Promise<void> {
    throwIfAborted(this.options.signal);
    if (
      await this.dst.hasBlob(desc, this.options) ||
      await this.dst.mountBlob?.(desc, this.src, this.options)
    ) {
      this.reporter.blobStart(kind, desc.digest, desc.size, true);
      return;
    }
    this.reporter.blobStart(kind, desc.digest, desc.size, false);
    await this.#transfer(async () => {
      // Destinations verify what they are given against `desc` (their contract): no 2nd hash.
      const stream = await this.src.getBlob(desc, this.options);
      await this.dst.putBlob(this.#progress(stream, desc.digest), desc, this.options);
    });
    this.reporter.blobDone(desc.digest);
  }

  /**
   * Runs one whole blob transfer, again from the start after a passing failure (a dropped
   * connection, 5xx, 429): a streamed upload cannot resend what it already read, so the blob is
   * read from the source anew.
   */
  async #transfer<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const passing = isRetryableError(e) ||
          (e instanceof RegistryError && isRetryableStatus(e.status));
        if (!passing || attempt >= TRANSFER_ATTEMPTS || this.options.signal?.aborted) throw e;
        this.reporter.warn(`retrying after: ${(e as Error).message}`);
        await sleep(backoffDelay(attempt), this.options.signal);
      }
    }
  }

  /** Counts bytes for the reporter as they pass, when it shows them. */
  #progress(stream: ReadableStream<Uint8Array>, digest: string): ReadableStream<Uint8Array> {
    if (!this.reporter.wantsProgress) return stream;
    let done = 0;
    return stream.pipeThrough(
      new TransformStream({
        transform: (chunk, controller) => {
          done += chunk.length;
          this.reporter.blobProgress(digest, done);
          controller.enqueue(chunk);
        },
      }),
    );
  }

  /** Copies a layer, changing its compression when asked; returns its (new) descriptor. */
  async #copyLayer(layer: Descriptor, format: ManifestFormat): Promise<Descriptor> {
    const have = layerCompression(layer.mediaType);
    const want = this.#wantedCompression(have);
    if (have === undefined || want === undefined || want === have) {
      if (layer.urls?.length && isNondistributableMediaType(layer.mediaType)) {
        // Foreign layers live at their urls; copy them only when the source has them.
        try {
          await this.#copyBlob(layer, "layer");
        } catch (e) {
          if (!(e instanceof NotFoundError)) throw e;
          this.reporter.warn(`skipped non-distributable layer ${layer.digest}: ${e.message}`);
        }
        return layer;
      }
      await this.#copyBlob(layer, "layer");
      return layer;
    }
    this.#refuseChange(`layer ${layer.digest} (${have} to ${want})`);
    const mediaType = layerMediaTypeFor(format, want, isNondistributableMediaType(layer.mediaType));
    if (mediaType === undefined) {
      throw new UnsupportedError(`a ${format} manifest cannot carry ${want}-compressed layers`);
    }
    const key = `${mediaType} ${layer.digest}`;
    let converted = this.#layers.get(key);
    if (converted === undefined) {
      converted = this.#convertLayer(layer, want, mediaType);
      this.#layers.set(key, converted);
    }
    return await converted;
  }

  /** Copies a layer recompressed to `want`; returns its new descriptor. */
  async #convertLayer(
    layer: Descriptor,
    want: Compression,
    mediaType: string,
  ): Promise<Descriptor> {
    this.reporter.blobStart("layer", layer.digest, layer.size, false);
    const stored = await this.#transfer(async () => {
      const raw = this.#progress(
        (await this.src.getBlob(layer, this.options))
          .pipeThrough(verifyingStream(layer, `${this.src.name}: layer ${layer.digest}`)),
        layer.digest,
      );
      const converted = ReadableStream.from(
        compress(decompressSniffed(raw), want, this.options.compressionLevel),
      );
      return await this.dst.putBlob(converted, { mediaType }, this.options);
    });
    this.reporter.blobDone(layer.digest);
    const { urls: _urls, data: _data, ...rest } = layer;
    return { ...rest, mediaType, digest: stored.digest, size: stored.size };
  }

  #wantedCompression(have: Compression | undefined): Compression | undefined {
    if (have === undefined) return undefined;
    if (this.options.compression) return this.options.compression;
    switch (this.dst.capabilities.layerCompression) {
      case "none":
        return "none";
      case "compressed":
        return have === "none" ? "gzip" : have;
      case "preserve":
        return have;
    }
  }
}

/** Serialises an index compactly (copied indexes are blobs, not the layout's index.json). */
function serializeIndexCompact(index: ImageIndex): Uint8Array {
  const out: Record<string, unknown> = { schemaVersion: index.schemaVersion };
  if (index.mediaType !== undefined) out.mediaType = index.mediaType;
  if (index.artifactType !== undefined) out.artifactType = index.artifactType;
  out.manifests = index.manifests.map(descriptorJson);
  if (index.subject !== undefined) out.subject = descriptorJson(index.subject);
  if (index.annotations && Object.keys(index.annotations).length) {
    out.annotations = index.annotations;
  }
  return new TextEncoder().encode(JSON.stringify(out));
}

/**
 * Maps `items` through `fn` with at most `limit` running at once, keeping order. After the
 * first failure no new item starts, `abort` stops the ones running, and the first error is
 * thrown only once all of them have settled, so no write is still going on when the caller
 * cleans up.
 */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  abort: AbortController,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        out[i] = await fn(items[i]);
      } catch (error) {
        failure ??= { error };
        abort.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  return out;
}
