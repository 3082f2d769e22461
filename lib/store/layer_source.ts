/**
 * An image's layers read from an {@linkcode ImageSource} and applied by a
 * {@linkcode RootfsWriter}, the way `ocibox unpack` applies them: the manifest's layers must
 * match the config's diff_ids one for one and be file-system layers, and every blob is checked
 * against its digest, size and diff_id while it streams. Shared by the layer cache (one layer
 * into its staging mount) and the copy fallback (all layers into a container's rootfs).
 * @module
 */
import { InvalidImageError, NotFoundError } from "../errors.ts";
import type { ImageConfig } from "../image/config.ts";
import type { Descriptor } from "../image/descriptor.ts";
import type { ImageManifest } from "../image/manifest.ts";
import { isLayerMediaType } from "../image/media_types.ts";
import { type AppliedLayer, applyLayerBlob } from "../layer/apply_blob.ts";
import { InflateWorker } from "../archive/offthread_inflate.ts";
import type { RootfsWriter } from "../layer/rootfs_writer.ts";
import type { ImageSource } from "../transport/types.ts";

/** The parts of an image its layers need (a `ResolvedImage` of lib/transport/resolve.ts fits). */
export interface ImageLayers {
  manifest: { manifest: ImageManifest };
  config: ImageConfig;
}

/** One layer: its blob descriptor and the config's diff_id for it. */
export interface LayerRef {
  descriptor: Descriptor;
  diffId: string;
}

/**
 * The layers of `image`, bottom first.
 *
 * @throws {InvalidImageError} when layers and diff_ids do not pair up or a layer is not a
 * file-system layer.
 */
export function imageLayers(srcName: string, image: ImageLayers): LayerRef[] {
  const layers = image.manifest.manifest.layers;
  const diffIds = image.config.rootfs.diff_ids;
  if (layers.length !== diffIds.length) {
    throw new InvalidImageError(
      srcName,
      `the manifest has ${layers.length} layers but the config lists ${diffIds.length} diff_ids`,
    );
  }
  for (const l of layers) {
    if (!isLayerMediaType(l.mediaType)) {
      throw new InvalidImageError(
        srcName,
        `layer ${l.digest} has media type ${l.mediaType}, not a filesystem layer`,
      );
    }
  }
  return layers.map((descriptor, i) => ({ descriptor, diffId: diffIds[i] }));
}

// Below this, inflating on a second core saves too little to matter (as in unpack).
const OFF_THREAD_MIN = 4 << 20;

/**
 * A worker inflating on a second core when `offThread` says so (default: when the layers to
 * apply add up to more than 4 MiB); undefined otherwise or where it cannot start. The caller
 * terminates it.
 */
export async function startInflater(
  layers: readonly LayerRef[],
  offThread?: boolean,
): Promise<InflateWorker | undefined> {
  const total = layers.reduce((n, l) => n + l.descriptor.size, 0);
  return (offThread ?? total > OFF_THREAD_MIN) ? await InflateWorker.start() : undefined;
}

/** Options of {@linkcode applyLayerFrom}. */
export interface ApplyFromOptions {
  signal?: AbortSignal;
  inflater?: InflateWorker;
}

/** Applies one layer of `src` to `writer`, verified while it streams. */
export async function applyLayerFrom(
  src: ImageSource,
  layer: LayerRef,
  writer: RootfsWriter,
  options: ApplyFromOptions = {},
): Promise<AppliedLayer> {
  const desc = layer.descriptor;
  let blob: ReadableStream<Uint8Array>;
  try {
    blob = await src.getBlob(desc, options);
  } catch (e) {
    if (e instanceof NotFoundError && desc.urls?.length) {
      throw new NotFoundError(
        `${src.name}: non-distributable layer ${desc.digest} is not stored locally ` +
          `(its urls: ${desc.urls.join(" ")})`,
      );
    }
    throw e;
  }
  return await applyLayerBlob(blob, { ...desc, diffId: layer.diffId }, writer, {
    signal: options.signal,
    inflater: options.inflater,
  });
}
