/**
 * `unpack`: an image into an OCI runtime bundle — `rootfs/` with every layer applied in order
 * (each verified against its digest and the config's diff_id as it streams) and `config.json`
 * generated from the image config by conversion.md's rules. The bundle is built in a temporary
 * directory beside the target and renamed into place only when complete.
 * @module
 */
import { InvalidImageError, NotFoundError, OciboxError, throwIfAborted } from "../errors.ts";
import type { Descriptor } from "../image/descriptor.ts";
import { isLayerMediaType } from "../image/media_types.ts";
import type { Platform } from "../image/platform.ts";
import { syncDir } from "../io/atomic_file.ts";
import { applyLayerBlob } from "../layer/apply_blob.ts";
import { InflateWorker } from "../archive/offthread_inflate.ts";
import { readRootfsText } from "../layer/rootfs_read.ts";
import { RootfsWriter } from "../layer/rootfs_writer.ts";
import { quietReporter, type Reporter } from "../report/reporter.ts";
import { resolveImage } from "../transport/resolve.ts";
import type { ImageSource } from "../transport/types.ts";
import { specFromImageConfig } from "./image_to_spec.ts";

/** Options of {@linkcode unpackBundle}. */
export interface UnpackOptions {
  platform?: Platform;
  /** Unprivileged unpack (no chown, no devices; rootless config.json). Default: euid != 0. */
  rootless?: boolean;
  /** Inflate on a second core (default: when the layers add up to more than 4 MiB). */
  offThread?: boolean;
  reporter?: Reporter;
  signal?: AbortSignal;
}

/** What was unpacked. */
export interface UnpackResult {
  manifestDigest: string;
  layers: number;
  files: number;
  bytes: number;
}

// Below this, inflating on a second core saves too little to matter.
const OFF_THREAD_MIN = 4 << 20;

async function isEmptyDir(path: string): Promise<boolean> {
  for await (const _ of Deno.readDir(path)) return false;
  return true;
}

/** Unpacks the image of `src` into the bundle directory `bundle` (absent or empty). */
export async function unpackBundle(
  src: ImageSource,
  bundle: string,
  options: UnpackOptions = {},
): Promise<UnpackResult> {
  const targetExists = await checkTarget(bundle);
  // The worker starts (~50 ms) while the manifest and config are read.
  const starting = options.offThread === false ? Promise.resolve(undefined) : InflateWorker.start();
  try {
    return await unpackInto(src, bundle, targetExists, starting, options);
  } finally {
    (await starting)?.terminate();
  }
}

/** Whether `bundle` exists as an empty directory; throws if it exists otherwise. */
async function checkTarget(bundle: string): Promise<boolean> {
  try {
    const st = await Deno.stat(bundle);
    if (st.isDirectory && (await isEmptyDir(bundle))) return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  throw new OciboxError(
    "BUNDLE_EXISTS",
    `bundle ${bundle} already exists and is not an empty directory`,
  );
}

async function unpackInto(
  src: ImageSource,
  bundle: string,
  targetExists: boolean,
  starting: Promise<InflateWorker | undefined>,
  options: UnpackOptions,
): Promise<UnpackResult> {
  const reporter = options.reporter ?? quietReporter();
  const rootless = options.rootless ?? Deno.uid() !== 0;
  const image = await resolveImage(src, options);
  const layers = image.manifest.manifest.layers;
  const diffIds = image.config.rootfs.diff_ids;
  if (layers.length !== diffIds.length) {
    throw new InvalidImageError(
      src.name,
      `the manifest has ${layers.length} layers but the config lists ${diffIds.length} diff_ids`,
    );
  }
  for (const l of layers) {
    if (!isLayerMediaType(l.mediaType)) {
      throw new InvalidImageError(
        src.name,
        `layer ${l.digest} has media type ${l.mediaType}, not a filesystem layer`,
      );
    }
  }
  const total = layers.reduce((n, l) => n + l.size, 0);
  const inflater = (options.offThread ?? total > OFF_THREAD_MIN) ? await starting : undefined;

  const parent = bundle.includes("/") ? bundle.slice(0, bundle.lastIndexOf("/")) || "/" : ".";
  await Deno.mkdir(parent, { recursive: true });
  const temp = await Deno.makeTempDir({ dir: parent, prefix: ".tmp-ocibox-unpack-" });
  try {
    await Deno.mkdir(`${temp}/rootfs`, { mode: 0o755 });
    const writer = new RootfsWriter(`${temp}/rootfs`, {
      rootless,
      onWarning: (m) => reporter.warn(m),
    });
    let files = 0, bytes = 0;
    try {
      for (const [i, layer] of layers.entries()) {
        throwIfAborted(options.signal);
        reporter.info(`Applying layer ${i + 1}/${layers.length} ${layer.digest}`);
        const applied = await applyLayerBlob(
          await layerBlob(src, layer, options),
          { ...layer, diffId: diffIds[i] },
          writer,
          { signal: options.signal, inflater },
        );
        files += applied.stats.files;
        bytes += applied.stats.bytes;
      }
    } finally {
      writer.close();
    }
    const rootfs = `${temp}/rootfs`;
    const spec = specFromImageConfig(image.config, {
      passwd: readRootfsText(rootfs, "/etc/passwd"),
      group: readRootfsText(rootfs, "/etc/group"),
      rootless,
      cgroupNamespace: await isCgroupV2(),
    });
    // runc writes config.json tab-indented; so do we.
    await Deno.writeTextFile(`${temp}/config.json`, JSON.stringify(spec, null, "\t") + "\n");
    if (targetExists) await Deno.remove(bundle);
    await Deno.rename(temp, bundle);
    syncDir(parent);
    await Deno.chmod(bundle, 0o700);
    return { manifestDigest: image.manifest.digest, layers: layers.length, files, bytes };
  } catch (e) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** A layer's blob; a missing non-distributable layer says where it would come from. */
async function layerBlob(
  src: ImageSource,
  layer: Descriptor,
  options: UnpackOptions,
): Promise<ReadableStream<Uint8Array>> {
  try {
    return await src.getBlob(layer, options);
  } catch (e) {
    if (e instanceof NotFoundError && layer.urls?.length) {
      throw new NotFoundError(
        `${src.name}: non-distributable layer ${layer.digest} is not stored locally ` +
          `(its urls: ${layer.urls.join(" ")})`,
      );
    }
    throw e;
  }
}

/** True on a unified (v2-only) cgroup hierarchy, where runc adds a cgroup namespace. */
async function isCgroupV2(): Promise<boolean> {
  try {
    return (await Deno.stat("/sys/fs/cgroup/cgroup.controllers")).isFile;
  } catch {
    return false;
  }
}
