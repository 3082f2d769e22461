/**
 * Helpers for the pull-through cache's unit tests: a small upstream registry on Deno.serve
 * (manifests by tag and digest, blobs, optional Basic auth, wrong bytes on demand, a request
 * log) and an in-memory {@linkcode FallbackStore} that verifies what it is given as the real
 * store does. No peer tools.
 * @module
 */

import { ContentCheck } from "../../digest/verify.ts";
import { digestOf } from "../../digest/digester.ts";
import { DigestMismatchError } from "../../errors.ts";
import { MEDIA_TYPE_OCI_MANIFEST } from "../../image/media_types.ts";
import type { FallbackStore, StoredManifest } from "../hooks.ts";

/** What the fake upstream holds and how it behaves. */
export interface FakeUpstream {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `METHOD /path` of every request but `/v2/`, in order. */
  readonly requests: string[];
  /** Repository -> tag -> manifest digest. */
  readonly tags: Map<string, Map<string, string>>;
  /** Digest -> manifest. */
  readonly manifests: Map<string, { bytes: Uint8Array; mediaType: string }>;
  /** Digest -> blob bytes (served for any repository). */
  readonly blobs: Map<string, Uint8Array>;
  /** Digest -> the bytes to send instead of the real ones. */
  readonly corrupt: Map<string, Uint8Array>;
  /** Basic credentials required (`user:password`), when set. */
  basic?: string;
  /** Answer everything but `/v2/` with this status, when set. */
  failWith?: number;
  /** Adds an image (one config, one layer per entry of `layers`) under `repository:tag`. */
  push(repository: string, tag: string, layers: Uint8Array[]): Promise<ImageDigests>;
  close(): Promise<void>;
}

/** The digests of a pushed test image. */
export interface ImageDigests {
  manifest: string;
  config: string;
  layers: string[];
  manifestBytes: Uint8Array;
}

const enc = new TextEncoder();

/** Starts a {@linkcode FakeUpstream} on a free port of 127.0.0.1. */
export function fakeUpstream(): FakeUpstream {
  const requests: string[] = [];
  const tags = new Map<string, Map<string, string>>();
  const manifests = new Map<string, { bytes: Uint8Array; mediaType: string }>();
  const blobs = new Map<string, Uint8Array>();
  const corrupt = new Map<string, Uint8Array>();
  const state: { basic?: string; failWith?: number } = {};
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    if (state.basic !== undefined) {
      const want = `Basic ${btoa(state.basic)}`;
      if (req.headers.get("authorization") !== want) {
        return new Response(
          JSON.stringify({
            errors: [{ code: "UNAUTHORIZED", message: "authentication required" }],
          }),
          { status: 401, headers: { "www-authenticate": 'Basic realm="fake"' } },
        );
      }
    }
    if (url.pathname === "/v2/") return new Response("{}");
    requests.push(`${req.method} ${url.pathname}`);
    if (state.failWith) return new Response("down", { status: state.failWith });
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) return new Response("", { status: 404 });
    const [, repo, kind, ref] = m;
    const head = req.method === "HEAD";
    if (kind === "manifests") {
      const digest = ref.includes(":") ? ref : tags.get(repo)?.get(ref);
      const found = digest && manifests.get(digest);
      if (!digest || !found) {
        return new Response(
          JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] }),
          { status: 404 },
        );
      }
      return new Response(head ? null : found.bytes as Uint8Array<ArrayBuffer>, {
        headers: {
          "content-type": found.mediaType,
          "docker-content-digest": digest,
          "content-length": String(found.bytes.length),
        },
      });
    }
    const real = blobs.get(ref);
    if (!real) return new Response("", { status: 404 });
    const bytes = corrupt.get(ref) ?? real;
    return new Response(head ? null : bytes as Uint8Array<ArrayBuffer>, {
      headers: { "content-length": String(bytes.length), "docker-content-digest": ref },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    tags,
    manifests,
    blobs,
    corrupt,
    get basic() {
      return state.basic;
    },
    set basic(v) {
      state.basic = v;
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(v) {
      state.failWith = v;
    },
    push(repository, tag, layers) {
      const config = enc.encode(JSON.stringify({ architecture: "amd64", os: "linux", tag }));
      const configDigest = digestOf(config);
      blobs.set(configDigest, config);
      const layerDigests = layers.map((l) => {
        const d = digestOf(l);
        blobs.set(d, l);
        return d;
      });
      const manifestBytes = enc.encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPE_OCI_MANIFEST,
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: configDigest,
          size: config.length,
        },
        layers: layers.map((l, i) => ({
          mediaType: "application/vnd.oci.image.layer.v1.tar",
          digest: layerDigests[i],
          size: l.length,
        })),
      }));
      const manifest = digestOf(manifestBytes);
      manifests.set(manifest, { bytes: manifestBytes, mediaType: MEDIA_TYPE_OCI_MANIFEST });
      if (!tags.has(repository)) tags.set(repository, new Map());
      tags.get(repository)!.set(tag, manifest);
      return Promise.resolve({
        manifest,
        config: configDigest,
        layers: layerDigests,
        manifestBytes,
      });
    },
    close: () => server.shutdown(),
  };
}

/** An in-memory {@linkcode FallbackStore} that verifies blobs and manifest digests. */
export class MemoryStore implements FallbackStore {
  readonly blobs = new Map<string, Uint8Array>();
  readonly manifests = new Map<string, StoredManifest>();
  /** `repository:tag` -> digest. */
  readonly tags = new Map<string, string>();
  /** `repository` -> stored manifest digests. */
  readonly repositories = new Map<string, Set<string>>();
  /** Calls of putManifest with their allowMissing. */
  readonly manifestPuts: Array<{ repository: string; reference: string; allowMissing: boolean }> =
    [];

  async putBlob(
    stream: ReadableStream<Uint8Array>,
    expected: { digest: string; size?: number },
  ): Promise<{ digest: string; size: number }> {
    const check = new ContentCheck(expected, `blob ${expected.digest}`);
    const parts: Uint8Array[] = [];
    for await (const c of stream) {
      check.update(c);
      parts.push(c.slice());
    }
    const r = check.finish();
    const all = new Uint8Array(r.size);
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    this.blobs.set(r.digest, all);
    return r;
  }

  statBlob(digest: string): Promise<{ size: number } | undefined> {
    const b = this.blobs.get(digest);
    return Promise.resolve(b && { size: b.length });
  }

  putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
    options: { allowMissing?: boolean } = {},
  ): Promise<{ digest: string }> {
    this.manifestPuts.push({ repository, reference, allowMissing: options.allowMissing ?? false });
    const digest = reference.includes(":")
      ? digestOf(bytes, reference.slice(0, reference.indexOf(":")))
      : digestOf(bytes);
    if (reference.includes(":") && digest !== reference) {
      return Promise.reject(new DigestMismatchError("manifest", reference, digest));
    }
    this.manifests.set(digest, { digest, mediaType, bytes });
    if (!this.repositories.has(repository)) this.repositories.set(repository, new Set());
    this.repositories.get(repository)!.add(digest);
    if (!reference.includes(":")) this.tags.set(`${repository}:${reference}`, digest);
    return Promise.resolve({ digest });
  }

  getManifest(repository: string, reference: string): Promise<StoredManifest | undefined> {
    const digest = reference.includes(":")
      ? reference
      : this.tags.get(`${repository}:${reference}`);
    if (!digest || !this.repositories.get(repository)?.has(digest)) {
      return Promise.resolve(undefined);
    }
    return Promise.resolve(this.manifests.get(digest));
  }
}
