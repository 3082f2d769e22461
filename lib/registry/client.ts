/**
 * The Distribution Spec from the client side, for one repository: manifests (GET/HEAD/PUT/
 * DELETE with the full Accept list and digest checks), blobs (GET through redirects with
 * resume after a dropped connection, HEAD, chunked/monolithic uploads, cross-repository
 * mounts), tags with pagination, referrers with the tag-schema fallback, and the catalog.
 * Authentication, retries and transports are the session's business.
 * @module
 */
import { parseDigest } from "../digest/digest.ts";
import { createDigester, digestOf } from "../digest/digester.ts";
import { releaseChunk } from "../io/slab_pool.ts";
import {
  DigestMismatchError,
  InvalidImageError,
  OciboxError,
  SizeMismatchError,
  throwIfAborted,
} from "../errors.ts";
import type { Descriptor } from "../image/descriptor.ts";
import { parseImageIndex } from "../image/image_index.ts";
import {
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_DOCKER_SCHEMA1_MANIFEST,
  MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED_MANIFEST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../image/media_types.ts";
import { concatBytes } from "../io/bytes.ts";
import { readAllBytes } from "../io/file_stream.ts";
import type { HttpResponse } from "./http/types.ts";
import type { RegistrySession } from "./session.ts";

/** Every manifest type ocibox reads, best first (schema 1 only to refuse it clearly). */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_DOCKER_MANIFEST,
  `${MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED_MANIFEST};q=0.5`,
  `${MEDIA_TYPE_DOCKER_SCHEMA1_MANIFEST};q=0.5`,
].join(", ");

const MANIFEST_LIMIT = 4 << 20;
/** Blobs up to this size go up in one PUT; larger ones in PATCH chunks. */
const MONOLITHIC_MAX = 4 << 20;
/** PATCH chunk size when chunks are asked for (raised to the registry's OCI-Chunk-Min-Length). */
const CHUNK = 16 << 20;
/** Reconnections allowed while downloading one blob. */
const MAX_RESUMES = 5;

/** A manifest as fetched. */
export interface FetchedManifest {
  bytes: Uint8Array;
  mediaType: string;
  digest: string;
}

/** Upload tuning. */
export interface UploadOptions {
  signal?: AbortSignal;
  /**
   * Send PATCH chunks of this many bytes (at least the registry's minimum) instead of one
   * streamed PATCH; chunks are retried after a failure. Chunks are also used whenever the
   * registry announces OCI-Chunk-Min-Length.
   */
  chunkSize?: number;
  /** Bytes moved so far, for progress. */
  onProgress?: (bytes: number) => void;
}

/** The client for one repository (`library/busybox`) of a registry session. */
export class RepositoryClient {
  constructor(readonly session: RegistrySession, readonly repository: string) {}

  /** The token scope for this repository. */
  scope(push = false): string {
    return `repository:${this.repository}:${push ? "pull,push" : "pull"}`;
  }

  #path(kind: "manifests" | "blobs" | "tags/list" | "blobs/uploads/" | "referrers", ref = "") {
    return `/v2/${this.repository}/${kind}${ref ? `/${ref}` : ""}`;
  }

  /** GET a manifest by tag or digest, verified against the digest asked for or announced. */
  async getManifest(reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const path = this.#path("manifests", reference);
    const res = await this.session.request("GET", path, {
      headers: { Accept: MANIFEST_ACCEPT },
      scope: this.scope(),
      signal,
    });
    await this.session.expect(res, [200], "GET", path);
    const bytes = await readAllBytes(res.body!, MANIFEST_LIMIT, `manifest ${reference}`);
    const mediaType = (res.headers.get("content-type") ?? "").split(";")[0].trim();
    const expected = reference.includes(":") ? reference : res.headers.get("docker-content-digest");
    const algorithm = expected ? parseDigest(expected).algorithm : "sha256";
    const digest = digestOf(bytes, algorithm);
    if (expected && digest !== expected) {
      throw new DigestMismatchError(`${this.#where()}: manifest ${reference}`, expected, digest);
    }
    return { bytes, mediaType, digest: algorithm === "sha256" ? digest : digestOf(bytes) };
  }

  /** HEAD a manifest: its digest, media type and size, or undefined when absent. */
  async headManifest(
    reference: string,
    signal?: AbortSignal,
  ): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    const path = this.#path("manifests", reference);
    const res = await this.session.request("HEAD", path, {
      headers: { Accept: MANIFEST_ACCEPT },
      scope: this.scope(),
      signal,
    });
    await res.body?.cancel();
    if (res.status === 404) return undefined;
    await this.session.expect(res, [200], "HEAD", path);
    const digest = res.headers.get("docker-content-digest");
    if (!digest) {
      // Not all registries announce it on HEAD: fetch the bytes to know.
      const m = await this.getManifest(reference, signal);
      return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
    }
    return {
      digest,
      mediaType: (res.headers.get("content-type") ?? "").split(";")[0].trim(),
      size: Number(res.headers.get("content-length") ?? 0),
    };
  }

  /** PUT a manifest under a tag or its digest; returns the digest the registry computed. */
  async putManifest(
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const path = this.#path("manifests", reference);
    const res = await this.session.request("PUT", path, {
      headers: { "Content-Type": mediaType },
      body: bytes,
      scope: this.scope(true),
      signal,
    });
    await this.session.expect(res, [201, 200, 202], "PUT", path);
    await res.body?.cancel();
    const ours = digestOf(bytes);
    const theirs = res.headers.get("docker-content-digest");
    if (theirs && theirs !== ours && parseDigest(theirs).algorithm === "sha256") {
      throw new DigestMismatchError(`${this.#where()}: manifest stored as`, ours, theirs);
    }
    return ours;
  }

  /** DELETE a manifest by digest. */
  async deleteManifest(digest: string, signal?: AbortSignal): Promise<void> {
    const path = this.#path("manifests", digest);
    const res = await this.session.request("DELETE", path, { scope: this.scope(true), signal });
    await this.session.expect(res, [202, 200], "DELETE", path);
    await res.body?.cancel();
  }

  /** HEAD a blob: its size, or undefined when the repository does not have it. */
  async statBlob(digest: string, signal?: AbortSignal): Promise<{ size: number } | undefined> {
    const path = this.#path("blobs", digest);
    const res = await this.session.request("HEAD", path, { scope: this.scope(), signal });
    await res.body?.cancel();
    if (res.status === 404) return undefined;
    if (res.status >= 300 && res.status < 400) return { size: -1 }; // redirected: it exists
    await this.session.expect(res, [200], "HEAD", path);
    return { size: Number(res.headers.get("content-length") ?? -1) };
  }

  /**
   * A blob's bytes, not yet verified (callers check digest and size as they read). Redirects
   * to other hosts are followed without the registry's credentials; a connection dropped in
   * the middle is resumed with a Range request.
   */
  async getBlob(desc: { digest: string; size: number }, signal?: AbortSignal) {
    const path = this.#path("blobs", desc.digest);
    const open = async (offset: number): Promise<HttpResponse> => {
      const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
      const res = await this.session.get(path, { headers, scope: this.scope(), signal });
      await this.session.expect(res, offset > 0 ? [200, 206] : [200], "GET", path);
      return res;
    };
    const first = await open(0);
    return resumableBody(first, open, desc.size, signal);
  }

  /** Mounts a blob from another repository of the same registry; false if it could not. */
  async mountBlob(digest: string, from: string, signal?: AbortSignal): Promise<boolean> {
    const path = `${this.#path("blobs/uploads/")}?mount=${encodeURIComponent(digest)}&from=${
      encodeURIComponent(from)
    }`;
    const res = await this.session.request("POST", path, {
      scope: `${this.scope(true)} repository:${from}:pull`,
      signal,
    });
    await res.body?.cancel();
    if (res.status === 201) return true;
    if (res.status === 202) {
      // An upload session was opened instead; close it so it does not linger.
      const location = res.headers.get("location");
      if (location) {
        const del = await this.session.request("DELETE", location, {
          scope: this.scope(true),
          signal,
        });
        await del.body?.cancel();
      }
      return false;
    }
    await this.session.expect(res, [201, 202], "POST", path);
    return false;
  }

  /**
   * Uploads a blob from a stream: one PUT when it is small and its size is known, else PATCH
   * chunks (each at least the registry's OCI-Chunk-Min-Length) then a closing PUT with the
   * digest. The digest is computed on the way and checked against `info.digest` when given.
   */
  async uploadBlob(
    stream: ReadableStream<Uint8Array>,
    info: { digest?: string; size?: number },
    options: UploadOptions = {},
  ): Promise<{ digest: string; size: number }> {
    const { signal } = options;
    const start = this.#path("blobs/uploads/");
    const opened = await this.session.request("POST", start, { scope: this.scope(true), signal });
    await this.session.expect(opened, [202], "POST", start);
    await opened.body?.cancel();
    const location = this.#location(opened, start);
    try {
      return await this.#upload(location, opened, stream, info, options);
    } catch (e) {
      // Leave no half-done upload session behind (best effort: the registry expires them too).
      await this.session.request("DELETE", location, { scope: this.scope(true) })
        .then((r) => r.body?.cancel(), () => {});
      throw e;
    }
  }

  async #upload(
    first: string,
    opened: HttpResponse,
    stream: ReadableStream<Uint8Array>,
    info: { digest?: string; size?: number },
    options: UploadOptions,
  ): Promise<{ digest: string; size: number }> {
    const { signal } = options;
    let location = first;
    const minChunk = Number(opened.headers.get("oci-chunk-min-length") ?? 0);
    const chunkSize = Math.max(options.chunkSize ?? CHUNK, minChunk || 0);
    const hasher = createDigester(info.digest ? parseDigest(info.digest).algorithm : "sha256");
    const what = `${this.#where()}: upload ${info.digest ?? ""}`.trim();
    const check = () => {
      if (info.size !== undefined && hasher.size !== info.size) {
        throw new SizeMismatchError(what, info.size, hasher.size);
      }
      const digest = hasher.digest();
      if (info.digest !== undefined && digest !== info.digest) {
        throw new DigestMismatchError(what, info.digest, digest);
      }
      return digest;
    };

    let sent = 0;
    let pending: Uint8Array | undefined;
    if (
      (info.size === undefined || info.size > MONOLITHIC_MAX) && !minChunk && !options.chunkSize
    ) {
      // One streamed PATCH, as skopeo does: the registry receives while we read and hash, with
      // no pause between pieces. (A stream cannot be sent twice, so this is not retried.)
      const counted = stream.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            hasher.update(chunk);
            if (info.size !== undefined && hasher.size > info.size) {
              throw new SizeMismatchError(what, info.size, hasher.size);
            }
            options.onProgress?.(hasher.size);
            controller.enqueue(chunk);
          },
        }),
      );
      // With the size known it goes as Content-Length, not chunked (no framing per piece).
      const res = await this.session.request("PATCH", location, {
        headers: {
          "Content-Type": "application/octet-stream",
          ...(info.size !== undefined ? { "Content-Length": String(info.size) } : {}),
        },
        body: counted,
        scope: this.scope(true),
        signal,
      });
      await this.session.expect(res, [202], "PATCH", new URL(location).pathname);
      await res.body?.cancel();
      location = this.#location(res, location);
      sent = hasher.size;
    } else if (info.size !== undefined && info.size <= MONOLITHIC_MAX) {
      // Small and known: all of it goes with the closing PUT.
      const parts: Uint8Array[] = [];
      for await (const c of stream) {
        hasher.update(c);
        if (hasher.size > info.size) throw new SizeMismatchError(what, info.size, hasher.size);
        parts.push(c);
      }
      pending = concatBytes(parts);
    } else {
      for await (const chunk of rechunk(stream, chunkSize)) {
        throwIfAborted(signal);
        hasher.update(chunk);
        if (info.size !== undefined && hasher.size > info.size) {
          throw new SizeMismatchError(what, info.size, hasher.size);
        }
        location = await this.#patch(location, chunk, sent, signal);
        sent += chunk.length;
        options.onProgress?.(sent);
      }
    }
    const digest = check();
    const url = new URL(location);
    url.searchParams.set("digest", digest);
    const body = pending ?? new Uint8Array(0);
    const put = await this.session.request("PUT", url, {
      headers: {
        "Content-Type": "application/octet-stream",
        ...(body.length ? { "Content-Range": `${sent}-${sent + body.length - 1}` } : {}),
      },
      body,
      scope: this.scope(true),
      signal,
    });
    await this.session.expect(put, [201, 204], "PUT", url.pathname);
    await put.body?.cancel();
    options.onProgress?.(hasher.size);
    return { digest, size: hasher.size };
  }

  /** Sends one chunk; on failure asks the registry how much it has and sends the rest again. */
  async #patch(location: string, chunk: Uint8Array, offset: number, signal?: AbortSignal) {
    for (let attempt = 0;; attempt++) {
      try {
        const res = await this.session.request("PATCH", location, {
          headers: {
            "Content-Type": "application/octet-stream",
            "Content-Range": `${offset}-${offset + chunk.length - 1}`,
          },
          body: chunk,
          scope: this.scope(true),
          signal,
        });
        await this.session.expect(res, [202], "PATCH", new URL(location).pathname);
        await res.body?.cancel();
        return this.#location(res, location);
      } catch (e) {
        if (attempt >= 2 || signal?.aborted || !(e instanceof OciboxError)) throw e;
        // Where is the upload really? Ask, then send what is missing of this chunk.
        const status = await this.session.request("GET", location, {
          scope: this.scope(true),
          signal,
        });
        await status.body?.cancel();
        if (status.status !== 204) throw e;
        const end = rangeEnd(status.headers.get("range"));
        const have = end + 1;
        if (have < offset || have > offset + chunk.length) throw e;
        location = this.#location(status, location);
        chunk = chunk.subarray(have - offset);
        offset = have;
        if (chunk.length === 0) return location;
      }
    }
  }

  /** Tags, all of them, following `Link` pagination (`n` per page). */
  async *listTags(options: { n?: number; signal?: AbortSignal } = {}): AsyncGenerator<string> {
    let url: string | URL = this.#path("tags/list") + (options.n ? `?n=${options.n}` : "");
    for (;;) {
      const res = await this.session.request("GET", url, {
        scope: this.scope(),
        signal: options.signal,
      });
      await this.session.expect(res, [200], "GET", this.#path("tags/list"));
      const body = JSON.parse(new TextDecoder().decode(await readAllBytes(res.body!, 16 << 20)));
      for (const t of (body?.tags ?? []) as string[]) yield t;
      const next = nextLink(res.headers.get("link"));
      if (!next) return;
      url = new URL(next, this.session.base);
    }
  }

  /**
   * The manifests whose `subject` is `digest`: the referrers API, or where the registry lacks
   * it, the `<alg>-<hex>` tag schema index.
   */
  async referrers(digest: string, artifactType?: string, signal?: AbortSignal) {
    const path = this.#path("referrers", digest) +
      (artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : "");
    const res = await this.session.request("GET", path, {
      headers: { Accept: MEDIA_TYPE_OCI_INDEX },
      scope: this.scope(),
      signal,
    });
    let manifests: Descriptor[];
    if (res.status === 404 || res.status === 405) {
      await res.body?.cancel();
      const { algorithm, encoded } = parseDigest(digest);
      try {
        const m = await this.getManifest(`${algorithm}-${encoded}`, signal);
        manifests = parseImageIndex(JSON.parse(new TextDecoder().decode(m.bytes))).manifests;
      } catch (e) {
        if (e instanceof OciboxError && "status" in e && e.status === 404) return [];
        throw e;
      }
    } else {
      await this.session.expect(res, [200], "GET", path);
      const bytes = await readAllBytes(res.body!, MANIFEST_LIMIT);
      manifests = parseImageIndex(JSON.parse(new TextDecoder().decode(bytes))).manifests;
    }
    return artifactType ? manifests.filter((d) => d.artifactType === artifactType) : manifests;
  }

  #location(res: HttpResponse, fallback: string): string {
    const loc = res.headers.get("location");
    if (!loc) {
      throw new InvalidImageError(
        this.#where(),
        `the registry gave no upload location (${fallback})`,
      );
    }
    return new URL(loc, this.session.base).href;
  }

  #where(): string {
    return `${this.session.host}/${this.repository}`;
  }
}

/** Repositories of the registry (`_catalog`), following pagination. */
export async function* catalog(
  session: RegistrySession,
  options: { n?: number; signal?: AbortSignal } = {},
): AsyncGenerator<string> {
  let url: string | URL = `/v2/_catalog${options.n ? `?n=${options.n}` : ""}`;
  for (;;) {
    const res = await session.request("GET", url, {
      scope: "registry:catalog:*",
      signal: options.signal,
    });
    await session.expect(res, [200], "GET", "/v2/_catalog");
    const body = JSON.parse(new TextDecoder().decode(await readAllBytes(res.body!, 16 << 20)));
    for (const r of (body?.repositories ?? []) as string[]) yield r;
    const next = nextLink(res.headers.get("link"));
    if (!next) return;
    url = new URL(next, session.base);
  }
}

/** The target of `Link: <url>; rel="next"`, if any. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(part);
    if (m) return m[1];
  }
  return undefined;
}

/** The last byte offset of a `Range: 0-N` upload status header (-1 when none). */
function rangeEnd(header: string | null): number {
  const m = header ? /^(?:bytes=)?0-(\d+)$/.exec(header.trim()) : null;
  return m ? Number(m[1]) : -1;
}

/** Re-chunks a stream into pieces of exactly `size` bytes (the last may be shorter). */
async function* rechunk(
  stream: ReadableStream<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(size);
  let fill = 0;
  for await (const chunk of stream) {
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(size - fill, chunk.length - off);
      buf.set(chunk.subarray(off, off + take), fill);
      fill += take;
      off += take;
      if (fill === size) {
        yield buf;
        buf = new Uint8Array(size);
        fill = 0;
      }
    }
  }
  if (fill > 0) yield buf.subarray(0, fill);
}

/**
 * A response body that reconnects: when the connection drops before `size` bytes arrived, it
 * asks for the rest with `open(offset)` (a Range request) and carries on; a server that ignores
 * Range and starts over has the bytes already seen skipped.
 */
function resumableBody(
  first: HttpResponse,
  open: (offset: number) => Promise<HttpResponse>,
  size: number,
  signal?: AbortSignal,
): ReadableStream<Uint8Array> {
  let reader = first.body!.getReader();
  let received = 0;
  let resumes = 0;
  let skip = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          if (signal?.aborted || resumes >= MAX_RESUMES || received >= size) throw e;
          resumes++;
          const res = await open(received);
          skip = res.status === 200 ? received : 0;
          reader = res.body!.getReader();
          continue;
        }
        if (r.done) {
          if (received < size && resumes < MAX_RESUMES && !signal?.aborted) {
            // The server closed early without an error: ask for the rest.
            resumes++;
            const res = await open(received);
            skip = res.status === 200 ? received : 0;
            reader = res.body!.getReader();
            continue;
          }
          return controller.close();
        }
        let chunk = r.value;
        if (skip > 0) {
          const drop = Math.min(skip, chunk.length);
          skip -= drop;
          if (drop === chunk.length) {
            releaseChunk(chunk);
            continue;
          }
          chunk = chunk.subarray(drop);
        }
        received += chunk.length;
        controller.enqueue(chunk);
        return;
      }
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
