/**
 * Helpers for the registry store's unit tests: streams, pushing blobs and images through the
 * store, and awaiting typed rejections.
 * @module
 */
import { digestOf } from "../../digest/digester.ts";
import type { RegistryStoreInternals } from "./registry_store.ts";

const enc = new TextEncoder();
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

export function stream(...parts: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(typeof p === "string" ? enc.encode(p) : p);
      c.close();
    },
  });
}

/** Awaits `fn`'s rejection with an instance of `cls` and returns the error. */
export async function rejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls: new (...args: never[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof cls) return e;
    throw new Error(`expected ${cls.name}, got ${e}`, { cause: e });
  }
  throw new Error(`expected ${cls.name}, got no error`);
}

export async function text(s: ReadableStream<Uint8Array> | undefined): Promise<string> {
  return await new Response(s).text();
}

/** Pushes `content` into `repo` through an upload session; returns its descriptor. */
export async function pushBlob(
  store: RegistryStoreInternals,
  repo: string,
  content: string | Uint8Array,
  mediaType = "application/octet-stream",
): Promise<{ mediaType: string; digest: string; size: number }> {
  const bytes = typeof content === "string" ? enc.encode(content) : content;
  const digest = digestOf(bytes);
  const s = await store.startUpload(repo);
  await store.appendUpload(repo, s.id, 0, stream(bytes));
  await store.completeUpload(repo, s.id, digest);
  return { mediaType, digest, size: bytes.length };
}

/** An image manifest (bytes) over a config and layers already pushed to `repo`. */
export async function pushImage(
  store: RegistryStoreInternals,
  repo: string,
  seed: string,
  options: { mediaType?: string; extra?: Record<string, unknown> } = {},
): Promise<{ bytes: Uint8Array; digest: string; layer: string; config: string }> {
  const mediaType = options.mediaType ?? OCI_MANIFEST;
  const docker = mediaType === DOCKER_MANIFEST;
  const config = await pushBlob(
    store,
    repo,
    `{"seed":${JSON.stringify(seed)}}`,
    docker
      ? "application/vnd.docker.container.image.v1+json"
      : "application/vnd.oci.image.config.v1+json",
  );
  const layer = await pushBlob(
    store,
    repo,
    `layer ${seed}`,
    docker
      ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
      : "application/vnd.oci.image.layer.v1.tar",
  );
  const bytes = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config,
    layers: [layer],
    ...options.extra,
  }));
  return { bytes, digest: digestOf(bytes), layer: layer.digest, config: config.digest };
}
