/**
 * Test helpers that build OCI image layouts from hand-crafted layer tars, byte by byte: tar
 * members through ocibox's own header encoder, layers compressed (or not) with node:zlib, and a
 * layout (`oci-layout`, `index.json`, blobs, config with diff_ids, manifest) written directly,
 * with knobs to corrupt any of it (tampered blob bytes, wrong diff_id, wrong descriptor size).
 *
 * @example
 * ```ts
 * import { buildTar, writeImage } from "./images.ts";
 * const tar = buildTar([{ name: "hello.txt", type: "file", data: "hi\n" }]);
 * const img = await writeImage("/tmp/layout", "v1", { layers: [{ tar, compression: "gzip" }] });
 * img.ref; // "oci:/tmp/layout:v1"
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import zlib from "node:zlib";
import { makeEntry, type TarEntry } from "../../lib/archive/tar/entry.ts";
import { encodeEntryHeader, END_OF_ARCHIVE, paddingFor } from "../../lib/archive/tar/writer.ts";

/** One tar member: entry fields (name and type required) plus its data for regular files. */
export type MemberSpec = Partial<TarEntry> & Pick<TarEntry, "name" | "type"> & {
  /** Content of a regular file; `size` is set from it. */
  data?: Uint8Array | string;
};

const encoder = new TextEncoder();

/** Concatenates byte arrays into one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The bytes of `data` (UTF-8 for strings). */
export function toBytes(data: Uint8Array | string | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return typeof data === "string" ? encoder.encode(data) : data;
}

/** One member's bytes: header block(s), data and padding to the next 512-byte block. */
export function tarMember(member: MemberSpec): Uint8Array {
  const { data, ...fields } = member;
  const body = toBytes(data);
  const entry = makeEntry({ ...fields, size: member.type === "file" ? body.length : 0 });
  return concatBytes([encodeEntryHeader(entry), body, paddingFor(body.length)]);
}

/** A whole tar archive of `members`, ending with the end-of-archive marker unless told not to. */
export function buildTar(
  members: readonly MemberSpec[],
  options: { endMarker?: boolean } = {},
): Uint8Array {
  const parts = members.map(tarMember);
  if (options.endMarker !== false) parts.push(END_OF_ARCHIVE);
  return concatBytes(parts);
}

/** `sha256:<hex>` of `bytes`. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** How a layer blob is compressed. */
export type LayerCompression = "none" | "gzip" | "zstd";

/** `bytes` compressed with gzip or zstd (node:zlib), or unchanged for "none". */
export function compressBytes(bytes: Uint8Array, compression: LayerCompression): Uint8Array {
  if (compression === "gzip") return new Uint8Array(zlib.gzipSync(bytes));
  if (compression === "zstd") return new Uint8Array(zlib.zstdCompressSync(bytes));
  return bytes;
}

const LAYER_MEDIA_TYPE: Record<LayerCompression, string> = {
  none: "application/vnd.oci.image.layer.v1.tar",
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
};

/** One layer of an image to write, with optional corruption. */
export interface LayerSpec {
  /** The uncompressed layer tar (its sha256 is the diff_id unless `diffId` says otherwise). */
  tar: Uint8Array;
  /** Compression of the blob; default "none". */
  compression?: LayerCompression;
  /** Media type of the descriptor; default from the compression. */
  mediaType?: string;
  /** Use these bytes as the blob instead of `tar` compressed (the diff_id stays `tar`'s). */
  blob?: Uint8Array;
  /** The blob as stored is this function of the real blob (digest and size stay the real ones). */
  tamper?: (blob: Uint8Array) => Uint8Array;
  /** The diff_id to put in the config instead of the real one. */
  diffId?: string;
  /** The descriptor size to write instead of the real one. */
  size?: number;
}

/** The `config` object of an image config (Entrypoint, Cmd, Env, WorkingDir, User ...). */
export type RuntimeConfig = Record<string, unknown>;

/** An image to write into a layout. */
export interface ImageSpec {
  layers: readonly LayerSpec[];
  config?: RuntimeConfig;
}

/** Where an image was written. */
export interface WrittenImage {
  /** `oci:<layout>:<tag>`, for openSource and the CLI. */
  ref: string;
  /** `<layout>:<tag>`, for `umoci --image`. */
  umociRef: string;
  manifestDigest: string;
  configDigest: string;
  /** Digests of the layer blobs as the manifest names them. */
  layerDigests: string[];
  /** The diff_ids as the config lists them. */
  diffIds: string[];
}

/** The GOARCH of this machine. */
export function hostArchitecture(): string {
  const arch = Deno.build.arch as string;
  return arch === "x86_64" ? "amd64" : arch === "aarch64" ? "arm64" : arch;
}

async function writeBlob(layout: string, digest: string, bytes: Uint8Array): Promise<void> {
  const [alg, hex] = digest.split(":");
  await Deno.mkdir(`${layout}/blobs/${alg}`, { recursive: true });
  await Deno.writeFile(`${layout}/blobs/${alg}/${hex}`, bytes);
}

interface IndexJson {
  schemaVersion: number;
  mediaType?: string;
  manifests: {
    mediaType: string;
    digest: string;
    size: number;
    annotations?: Record<string, string>;
  }[];
}

/**
 * Writes `image` into the OCI layout at `layout` (created when missing; other tags kept) under
 * `tag`. Layer blobs are written at their real digest, with `tamper` applied to the stored
 * bytes; the config lists the real diff_ids unless a layer overrides its own.
 */
export async function writeImage(
  layout: string,
  tag: string,
  image: ImageSpec,
): Promise<WrittenImage> {
  await Deno.mkdir(`${layout}/blobs/sha256`, { recursive: true });
  await Deno.writeTextFile(`${layout}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
  const layerDescs = [];
  const diffIds: string[] = [];
  for (const layer of image.layers) {
    const compression = layer.compression ?? "none";
    const blob = layer.blob ?? compressBytes(layer.tar, compression);
    const digest = sha256Digest(blob);
    await writeBlob(layout, digest, layer.tamper ? layer.tamper(blob) : blob);
    layerDescs.push({
      mediaType: layer.mediaType ?? LAYER_MEDIA_TYPE[compression],
      digest,
      size: layer.size ?? blob.length,
    });
    diffIds.push(layer.diffId ?? sha256Digest(layer.tar));
  }
  const config = {
    created: "2024-01-02T03:04:05Z",
    architecture: hostArchitecture(),
    os: "linux",
    config: image.config ?? {},
    rootfs: { type: "layers", diff_ids: diffIds },
    history: image.layers.map(() => ({ created: "2024-01-02T03:04:05Z", created_by: "test" })),
  };
  const configBytes = encoder.encode(JSON.stringify(config));
  const configDigest = sha256Digest(configBytes);
  await writeBlob(layout, configDigest, configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: configBytes.length,
    },
    layers: layerDescs,
  };
  const manifestBytes = encoder.encode(JSON.stringify(manifest));
  const manifestDigest = sha256Digest(manifestBytes);
  await writeBlob(layout, manifestDigest, manifestBytes);

  let index: IndexJson = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const refName = "org.opencontainers.image.ref.name";
  index.manifests = index.manifests.filter((m) => m.annotations?.[refName] !== tag);
  index.manifests.push({
    mediaType: manifest.mediaType,
    digest: manifestDigest,
    size: manifestBytes.length,
    annotations: { [refName]: tag },
  });
  await Deno.writeTextFile(`${layout}/index.json`, JSON.stringify(index));
  return {
    ref: `oci:${layout}:${tag}`,
    umociRef: `${layout}:${tag}`,
    manifestDigest,
    configDigest,
    layerDigests: layerDescs.map((d) => d.digest),
    diffIds,
  };
}
