/**
 * Multi-platform images written by hand into an OCI image layout: one image manifest (with its
 * own config and gzip layer) per platform, an image index listing them with their platforms,
 * and the index tagged in `index.json`. Nothing under test is involved in writing them.
 *
 * @example
 * ```ts
 * import { writeMultiPlatformImage } from "./index_images.ts";
 * const multi = await writeMultiPlatformImage("/tmp/layout", "multi", [
 *   { os: "linux", architecture: "amd64", files: { "hello.txt": "amd64\n" } },
 *   { os: "linux", architecture: "arm64", variant: "v8", files: { "hello.txt": "arm64\n" } },
 * ]);
 * multi.indexDigest; // "sha256:…"
 * ```
 * @module
 */
import { buildTar, compressBytes, sha256Digest } from "./images.ts";

/** One platform's image of a multi-platform index. */
export interface PlatformImageSpec {
  os: string;
  architecture: string;
  variant?: string;
  /** Regular files of the image's one layer: path -> content. */
  files: Record<string, string>;
  /** Extra `config` fields (Env, Labels, Cmd ...) for this platform's image config. */
  config?: Record<string, unknown>;
}

/** What {@linkcode writeMultiPlatformImage} wrote. */
export interface WrittenIndex {
  /** `oci:<layout>:<tag>`. */
  ref: string;
  indexDigest: string;
  /** The index's exact bytes. */
  indexBytes: Uint8Array;
  /** One entry per platform, in the order given. */
  images: {
    platform: string;
    manifestDigest: string;
    configDigest: string;
    layerDigest: string;
  }[];
}

const encoder = new TextEncoder();

async function putBlob(layout: string, bytes: Uint8Array): Promise<string> {
  const digest = sha256Digest(bytes);
  await Deno.mkdir(`${layout}/blobs/sha256`, { recursive: true });
  await Deno.writeFile(`${layout}/blobs/sha256/${digest.slice(7)}`, bytes);
  return digest;
}

/**
 * Writes one image per entry of `platforms` and an OCI image index listing them into the layout
 * at `layout` (created when missing; other tags kept), tagged `tag`.
 */
export async function writeMultiPlatformImage(
  layout: string,
  tag: string,
  platforms: readonly PlatformImageSpec[],
): Promise<WrittenIndex> {
  await Deno.mkdir(layout, { recursive: true });
  await Deno.writeTextFile(`${layout}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
  const images: WrittenIndex["images"] = [];
  const descriptors = [];
  for (const p of platforms) {
    const tar = buildTar(
      Object.entries(p.files).map(([name, data]) => ({ name, type: "file" as const, data })),
    );
    const blob = compressBytes(tar, "gzip");
    const layerDigest = await putBlob(layout, blob);
    const config = {
      created: "2024-05-06T07:08:09.123456789Z",
      author: `builder for ${p.architecture}`,
      architecture: p.architecture,
      ...(p.variant ? { variant: p.variant } : {}),
      os: p.os,
      config: p.config ?? {},
      rootfs: { type: "layers", diff_ids: [sha256Digest(tar)] },
      history: [{
        created: "2024-05-06T07:08:09.123456789Z",
        created_by: `layer ${p.architecture}`,
      }],
    };
    const configBytes = encoder.encode(JSON.stringify(config));
    const configDigest = await putBlob(layout, configBytes);
    const manifestBytes = encoder.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: configDigest,
        size: configBytes.length,
      },
      layers: [{
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: layerDigest,
        size: blob.length,
      }],
    }));
    const manifestDigest = await putBlob(layout, manifestBytes);
    descriptors.push({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: manifestDigest,
      size: manifestBytes.length,
      platform: {
        architecture: p.architecture,
        os: p.os,
        ...(p.variant ? { variant: p.variant } : {}),
      },
    });
    images.push({
      platform: [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join("/"),
      manifestDigest,
      configDigest,
      layerDigest,
    });
  }
  const indexBytes = encoder.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: descriptors,
  }));
  const indexDigest = await putBlob(layout, indexBytes);

  const refName = "org.opencontainers.image.ref.name";
  type Entry = { digest: string; annotations?: Record<string, string> };
  let top: { schemaVersion: number; manifests: Entry[] } = { schemaVersion: 2, manifests: [] };
  try {
    top = JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  top.manifests = top.manifests.filter((m) => m.annotations?.[refName] !== tag);
  top.manifests.push({
    mediaType: "application/vnd.oci.image.index.v1+json",
    digest: indexDigest,
    size: indexBytes.length,
    annotations: { [refName]: tag },
  } as Entry);
  await Deno.writeTextFile(`${layout}/index.json`, JSON.stringify(top));
  return { ref: `oci:${layout}:${tag}`, indexDigest, indexBytes, images };
}
