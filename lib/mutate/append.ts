/**
 * `append`: a new image made of a base image (or scratch) plus new layers and config edits,
 * crane-append style. The result is an {@linkcode ImageSource} whose manifest and config are new,
 * whose new layer blobs sit in a temporary blob directory and whose other blobs come from the
 * base; `copyImage` then writes it to any destination, reusing blobs it already has.
 * @module
 */
import { digestOf } from "../digest/digester.ts";
import { NotFoundError, throwIfAborted } from "../errors.ts";
import {
  appendLayerToConfig,
  type ConfigEdits,
  type ConfigJson,
  editConfig,
  scratchConfig,
} from "../image/config_edit.ts";
import { convertManifest, serializeManifest } from "../image/convert_manifest.ts";
import type { Descriptor } from "../image/descriptor.ts";
import type { ImageManifest } from "../image/manifest.ts";
import {
  MEDIA_TYPE_DOCKER_CONFIG,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../image/media_types.ts";
import { goTimeString } from "../image/inspect_info.ts";
import { hostPlatform, type Platform } from "../image/platform.ts";
import { fileStream } from "../io/file_stream.ts";
import type { Compression } from "../archive/compression.ts";
import { layerFromDirectory, layerFromTarFile, type NewLayer } from "../layer/create_layer.ts";
import { quietReporter, type Reporter } from "../report/reporter.ts";
import { blobPath } from "../store/blob_dir.ts";
import { resolveImage } from "../transport/resolve.ts";
import type { BlobInfo, ImageSource, IoOptions, RawManifest } from "../transport/types.ts";

/** A layer to add: everything below a directory, or a tar file (optionally compressed). */
export type LayerInput = { kind: "dir"; path: string } | { kind: "tar"; path: string };

/** What to build. */
export interface AppendOptions {
  /** The base image; scratch when absent. */
  base?: ImageSource;
  /** Platform of the base to use (from an index), or of a scratch image. Default: host. */
  platform?: Platform;
  layers: LayerInput[];
  /** Compression of new layers (default gzip). */
  compression?: Compression;
  edits?: ConfigEdits;
  /** Creation time (RFC 3339); default: SOURCE_DATE_EPOCH if set, else now. */
  created?: string;
  /** The name the base is known by, recorded as org.opencontainers.image.base.name. */
  baseName?: string;
  reporter?: Reporter;
  signal?: AbortSignal;
}

/**
 * `date` as Go's tools write image times (RFC 3339 with the fraction's trailing zeros dropped):
 * a config stays byte-identical when skopeo or buildah re-encode it, e.g. on a format change.
 *
 * @example
 * ```ts
 * imageTime(new Date(Date.UTC(2026, 11, 3, 7, 53, 50, 70))); // "2026-12-03T07:53:50.07Z"
 * ```
 */
export function imageTime(date: Date): string {
  return goTimeString(date.toISOString());
}

/** The creation time append uses: SOURCE_DATE_EPOCH when set (reproducible builds), else now. */
export function defaultCreated(): { created: string; clampMtime?: number } {
  const sde = Deno.env.get("SOURCE_DATE_EPOCH");
  if (sde && /^\d+$/.test(sde)) {
    const secs = Number(sde);
    return { created: imageTime(new Date(secs * 1000)), clampMtime: secs };
  }
  return { created: imageTime(new Date()) };
}

/** The new image: pass it to `copyImage`, then {@linkcode AppendedImage.close} it. */
export class AppendedImage implements ImageSource {
  constructor(
    readonly name: string,
    readonly base: ImageSource | undefined,
    readonly blobDir: string,
    readonly manifest: RawManifest,
    readonly digest: string,
  ) {}

  getManifest(digest?: string, options?: IoOptions): Promise<RawManifest> {
    if (digest === undefined || digest === this.digest) return Promise.resolve(this.manifest);
    if (!this.base) return Promise.reject(new NotFoundError(`${this.name}: no manifest ${digest}`));
    return this.base.getManifest(digest, options);
  }

  async getBlob(info: BlobInfo, options?: IoOptions): Promise<ReadableStream<Uint8Array>> {
    try {
      return await fileStream(`${this.blobDir}/${blobPath(info.digest)}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (!this.base) throw new NotFoundError(`${this.name}: no blob ${info.digest}`);
    return this.base.getBlob(info, options);
  }

  repoTags(): Promise<string[]> {
    return Promise.resolve([]);
  }

  async close(): Promise<void> {
    await Deno.remove(this.blobDir, { recursive: true }).catch(() => {});
  }
}

/** Builds the appended image (new layers are written to a temporary blob directory). */
export async function appendImage(options: AppendOptions): Promise<AppendedImage> {
  const reporter = options.reporter ?? quietReporter();
  const time = defaultCreated();
  const created = options.created ?? time.created;

  let config: ConfigJson;
  let manifest: ImageManifest;
  let docker = false;
  const annotations: Record<string, string> = {};
  if (options.base) {
    const base = await resolveImage(options.base, options);
    config = JSON.parse(new TextDecoder().decode(base.configBytes)) as ConfigJson;
    manifest = base.manifest.manifest;
    docker = base.manifest.mediaType === MEDIA_TYPE_DOCKER_MANIFEST;
    annotations["org.opencontainers.image.base.digest"] = base.manifest.digest;
    if (options.baseName) annotations["org.opencontainers.image.base.name"] = options.baseName;
  } else {
    config = scratchConfig(options.platform ?? hostPlatform(), created);
    manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: { mediaType: MEDIA_TYPE_OCI_CONFIG, digest: "", size: 0 },
      layers: [],
    };
  }
  // Docker manifests cannot carry zstd layers: such an image becomes OCI.
  if (docker && options.compression === "zstd") {
    manifest = convertManifest(manifest, "oci").manifest;
    docker = false;
  }

  const blobDir = await Deno.makeTempDir({ prefix: "ocibox-append-" });
  try {
    const layers: Descriptor[] = [...manifest.layers];
    for (const input of options.layers) {
      throwIfAborted(options.signal);
      reporter.info(
        `Creating layer from ${input.kind === "dir" ? "directory" : "tar"} ${input.path}`,
      );
      const layerOptions = {
        compression: options.compression,
        format: docker ? "docker" as const : "oci" as const,
        clampMtime: time.clampMtime,
        signal: options.signal,
        onWarning: (m: string) => reporter.warn(m),
      };
      const made: NewLayer = input.kind === "dir"
        ? await layerFromDirectory(input.path, blobDir, layerOptions)
        : await layerFromTarFile(input.path, blobDir, layerOptions);
      layers.push(made.blob);
      config = appendLayerToConfig(config, made.diffId, {
        created,
        created_by: `ocibox append --layer ${input.path}`,
      });
    }
    if (options.edits) config = editConfig(config, options.edits);
    if (options.layers.length === 0) config = { ...config, created };

    const configBytes = new TextEncoder().encode(JSON.stringify(config));
    const configDigest = digestOf(configBytes);
    const file = await Deno.open(`${blobDir}/.config`, { write: true, createNew: true });
    await file.write(configBytes);
    file.close();
    await Deno.mkdir(`${blobDir}/blobs/sha256`, { recursive: true });
    await Deno.rename(`${blobDir}/.config`, `${blobDir}/${blobPath(configDigest)}`);

    const next: ImageManifest = docker
      ? {
        schemaVersion: 2,
        mediaType: MEDIA_TYPE_DOCKER_MANIFEST,
        config: {
          mediaType: MEDIA_TYPE_DOCKER_CONFIG,
          digest: configDigest,
          size: configBytes.length,
        },
        layers,
      }
      : {
        schemaVersion: 2,
        mediaType: MEDIA_TYPE_OCI_MANIFEST,
        config: {
          mediaType: MEDIA_TYPE_OCI_CONFIG,
          digest: configDigest,
          size: configBytes.length,
        },
        layers,
        annotations: { ...manifest.annotations, ...annotations },
      };
    if (!docker && Object.keys(next.annotations ?? {}).length === 0) delete next.annotations;
    const bytes = serializeManifest(next);
    return new AppendedImage(
      "appended image",
      options.base,
      blobDir,
      { bytes, mediaType: next.mediaType! },
      digestOf(bytes),
    );
  } catch (e) {
    await Deno.remove(blobDir, { recursive: true }).catch(() => {});
    throw e;
  }
}
