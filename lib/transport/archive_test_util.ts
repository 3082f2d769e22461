/**
 * Test helpers for the dir:, oci-archive: and docker-archive: transports: small images built in
 * memory, copies through ocibox, the facts (config digest, diff_ids, layer digests, uncompressed
 * layer content digests) ocibox reports about an image, and FIFOs made without a `mkfifo` tool.
 * None needs a peer tool or root; the umoci and skopeo counterparts live with the peer tests
 * (support/transport_peers.ts).
 * @module
 */
import { AT_FDCWD, S_IFIFO } from "../../ffi/constants.ts";
import { mknodat } from "../../ffi/fs.ts";
import { digestOf } from "../digest/digester.ts";
import { layerCompression } from "../image/media_types.ts";
import { hostPlatform } from "../image/platform.ts";
import { compress, decompress } from "../archive/compression.ts";
import { makeEntry } from "../archive/tar/entry.ts";
import { encodeEntryHeader, END_OF_ARCHIVE, paddingFor } from "../archive/tar/writer.ts";
import { quietReporter } from "../report/reporter.ts";
import { copyImage, type CopyOptions, type CopyResult } from "./copy.ts";
import { openDestination, openSource } from "./open.ts";
import { OciLayoutDestination } from "./oci_layout.ts";
import { resolveImage } from "./resolve.ts";

const enc = new TextEncoder();

/** Runs `fn` with a fresh temporary directory that is removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-transport-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Makes a FIFO at `path` with mknod(2), as `mkfifo` would. */
export function mkfifo(path: string, mode = 0o644): void {
  mknodat(AT_FDCWD, path, S_IFIFO | mode, 0, 0);
}

/** The bytes of an uncompressed layer tar holding `files` (path -> text; "->x" is a symlink). */
export function layerTar(files: Record<string, string>): Uint8Array {
  const parts: Uint8Array[] = [];
  const dirs = new Set<string>();
  for (const path of Object.keys(files).sort()) {
    const segments = path.split("/");
    for (let i = 1; i < segments.length; i++) {
      const d = segments.slice(0, i).join("/");
      if (!dirs.has(d)) {
        dirs.add(d);
        parts.push(encodeEntryHeader(makeEntry({ name: d, type: "dir", mtime: 1 })));
      }
    }
    const text = files[path];
    if (text.startsWith("->")) {
      parts.push(
        encodeEntryHeader(
          makeEntry({ name: path, type: "symlink", linkname: text.slice(2), mtime: 1 }),
        ),
      );
      continue;
    }
    const body = enc.encode(text);
    parts.push(
      encodeEntryHeader(makeEntry({ name: path, type: "file", size: body.length, mtime: 1 })),
      body,
      paddingFor(body.length),
    );
  }
  parts.push(END_OF_ARCHIVE);
  return concat(parts);
}

/** Joins byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Collects a stream or async iterable into one buffer. */
export async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of source) parts.push(c);
  return concat(parts);
}

/** What {@linkcode makeLayout} built. */
export interface TinyImage {
  /** The OCI layout directory. */
  layout: string;
  /** `oci:<layout>:<tag>`. */
  location: string;
  configBytes: Uint8Array;
  configDigest: string;
  diffIds: string[];
  /** Digests of the (gzip) layer blobs. */
  layerDigests: string[];
  manifestDigest: string;
}

/**
 * Builds an OCI layout at `layout` holding one image tagged `tag` whose layers hold `layers`
 * (gzip-compressed blobs), without any peer tool.
 */
export async function makeLayout(
  layout: string,
  layers: Record<string, string>[],
  tag = "t",
): Promise<TinyImage> {
  const dst = await OciLayoutDestination.open(`oci:${layout}:${tag}`, layout, tag);
  const diffIds: string[] = [];
  const layerDescs = [];
  for (const files of layers) {
    const tar = layerTar(files);
    diffIds.push(digestOf(tar));
    const gz = await collect(compress(ReadableStream.from([tar]), "gzip"));
    const info = await dst.putBlob(ReadableStream.from([gz]), {});
    layerDescs.push({
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: info.digest,
      size: info.size,
    });
  }
  const { os, architecture } = hostPlatform();
  const configBytes = enc.encode(JSON.stringify({
    created: "2024-01-02T03:04:05Z",
    architecture,
    os,
    config: { Env: ["PATH=/bin"], Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: diffIds },
    history: layers.map((_, i) => ({ created: "2024-01-02T03:04:05Z", created_by: `layer ${i}` })),
  }));
  const config = await dst.putBlob(ReadableStream.from([configBytes]), {});
  const manifestBytes = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: config.digest,
      size: config.size,
    },
    layers: layerDescs,
  }));
  await dst.putManifest({
    bytes: manifestBytes,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
  });
  await dst.commit();
  await dst.close();
  return {
    layout,
    location: `oci:${layout}:${tag}`,
    configBytes,
    configDigest: config.digest,
    diffIds,
    layerDigests: layerDescs.map((l) => l.digest),
    manifestDigest: digestOf(manifestBytes),
  };
}

/**
 * Changes a gzip blob's header MTIME byte in place: still valid gzip with the same content and
 * size, but a different digest, so only digest verification can catch it.
 */
export async function tamperGzipBlob(layout: string, digest: string): Promise<void> {
  const path = `${layout}/blobs/sha256/${digest.slice("sha256:".length)}`;
  const bytes = await Deno.readFile(path);
  bytes[4] ^= 0xff;
  await Deno.writeFile(path, bytes);
}

/** Copies `from` to `to` through ocibox (quietly), closing both ends. */
export async function ociboxCopy(
  from: string,
  to: string,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const src = await openSource(from);
  try {
    const dst = await openDestination(to);
    try {
      return await copyImage(src, dst, { reporter: quietReporter(() => {}), ...options });
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

/** What a tool reports about an image. */
export interface ImageFacts {
  configDigest: string;
  diffIds: string[];
  layerDigests: string[];
}

/**
 * The facts ocibox reports, plus the sha256 of every layer's uncompressed content. `repoTags`
 * are the tags a docker-archive's manifest.json gives the image (inspect's RepoTags stay empty
 * for archives, as in skopeo).
 */
export async function ociboxFacts(
  location: string,
): Promise<ImageFacts & { contentDigests: string[]; repoTags: string[] }> {
  const src = await openSource(location);
  try {
    const image = await resolveImage(src);
    const contentDigests: string[] = [];
    for (const layer of image.manifest.manifest.layers) {
      const raw = await src.getBlob(layer);
      const plain = await collect(decompress(raw, layerCompression(layer.mediaType) ?? "none"));
      contentDigests.push(digestOf(plain));
    }
    return {
      configDigest: image.manifest.manifest.config.digest,
      diffIds: image.config.rootfs.diff_ids,
      layerDigests: image.manifest.manifest.layers.map((l) => l.digest),
      contentDigests,
      repoTags: "archiveTags" in src ? [...(src.archiveTags as string[])] : await src.repoTags(),
    };
  } finally {
    await src.close();
  }
}

/** Names in `dir` that a writer left behind (`.tmp-*`). */
export async function leftovers(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.startsWith(".tmp-")) out.push(e.name);
  return out.sort();
}

/** Every file under `dir` (relative path -> sha256 of its content, or "->target"). */
export async function treeDigest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(p);
      else if (e.isSymlink) out[p] = `->${await Deno.readLink(`${dir}/${p}`)}`;
      else out[p] = digestOf(await Deno.readFile(`${dir}/${p}`));
    }
  };
  await walk("");
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a < b ? -1 : 1));
}

/** The files shared by the tests' images. */
export const LAYER_A: Record<string, string> = {
  "data/hello.txt": "hello\n",
  "data/link": "->hello.txt",
};
/** A second layer that adds a file and replaces one. */
export const LAYER_B: Record<string, string> = {
  "data/second.txt": "second layer\n",
  "etc/motd": "welcome\n",
};
