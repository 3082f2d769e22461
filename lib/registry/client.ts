/**
 * The Distribution Spec from the client side, for one repository: manifests (GET/HEAD/PUT/
 * DELETE with the full Accept list and digest checks), blobs (GET through redirects with
 * resume after a dropped connection, HEAD, chunked/monolithic uploads, cross-repository
 * mounts), tags with pagination, referrers with the tag-schema fallback, and the catalog.
 * Authentication, retries and transports are the session's business.
 * @module
 */
import { isDigest, parseDigest } from "../digest/digest.ts";
import { createDigester, digestOf } from "../digest/digester.ts";
import { releaseChunk } from "../io/slab_pool.ts";
import {
  DigestMismatchError,
  InvalidImageError,
  LimitExceededError,
  NetworkError,
  OciboxError,
  RegistryError,
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
import type { HttpResponse } from "../http/types.ts";
import { nextLink } from "../distribution/link.ts";
import { hasUnsafeText, quote, safeText } from "../report/safe_text.ts";
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
    const mediaType = mediaTypeOf(res);
    const expected = reference.includes(":") ? reference : this.#announcedDigest(res, "GET", path);
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
    const digest = this.#announcedDigest(res, "HEAD", path);
    if (!digest) {
      // Not all registries announce it on HEAD: fetch the bytes to know.
      const m = await this.getManifest(reference, signal);
      return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
    }
    return {
      digest,
      mediaType: mediaTypeOf(res),
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
    const theirs = this.#announcedDigest(res, "PUT", path);
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
      const header = res.headers.get("location");
      const location = header === null ? undefined : resolveUrl(header, this.session.base);
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

  /**
   * Tags, all of them, following `Link` pagination (`n` per page) within
   * {@linkcode LIST_LIMITS}.
   *
   * @throws {LimitExceededError} when the pages loop or go past the limits.
   * @throws {RegistryError} for an answer that is not a tag list.
   */
  listTags(
    options: { n?: number; signal?: AbortSignal; limits?: Partial<ListLimits> } = {},
  ): AsyncGenerator<string> {
    return listing(this.session, this.#path("tags/list"), "tags", this.scope(), options);
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
        manifests = this.#referrersIndex(m.bytes, `${algorithm}-${encoded}`);
      } catch (e) {
        if (e instanceof OciboxError && "status" in e && e.status === 404) return [];
        throw e;
      }
    } else {
      await this.session.expect(res, [200], "GET", path);
      const bytes = await readAllBytes(res.body!, MANIFEST_LIMIT);
      manifests = this.#referrersIndex(bytes, path);
    }
    return artifactType ? manifests.filter((d) => d.artifactType === artifactType) : manifests;
  }

  #referrersIndex(bytes: Uint8Array, from: string): Descriptor[] {
    const doc = parseJson(bytes);
    if (doc === undefined) {
      throw new InvalidImageError(`${this.#where()}: referrers (${from})`, "not JSON");
    }
    return parseImageIndex(doc).manifests;
  }

  #location(res: HttpResponse, fallback: string): string {
    const loc = res.headers.get("location");
    if (!loc) {
      throw new InvalidImageError(
        this.#where(),
        `the registry gave no upload location (${fallback})`,
      );
    }
    const url = resolveUrl(loc, this.session.base);
    if (!url) {
      throw new InvalidImageError(
        this.#where(),
        `the registry gave an upload location that is not an http(s) URL: ${quote(loc)}`,
      );
    }
    return url.href;
  }

  /**
   * The response's Docker-Content-Digest, if any.
   *
   * @throws {RegistryError} when it is not a digest (it is shown quoted: it could be anything).
   */
  #announcedDigest(res: HttpResponse, method: string, path: string): string | undefined {
    const value = res.headers.get("docker-content-digest");
    if (!value) return undefined;
    if (isDigest(value)) return value;
    throw new RegistryError(
      this.session.host,
      res.status,
      undefined,
      `registry ${this.session.host}: ${method} ${path}: Docker-Content-Digest ${
        quote(value)
      } is not a digest`,
    );
  }

  #where(): string {
    return `${this.session.host}/${this.repository}`;
  }
}

/**
 * Repositories of the registry (`_catalog`), following pagination within
 * {@linkcode LIST_LIMITS}.
 *
 * @throws {LimitExceededError} when the pages loop or go past the limits.
 * @throws {RegistryError} for an answer that is not a repository list.
 */
export function catalog(
  session: RegistrySession,
  options: { n?: number; signal?: AbortSignal; limits?: Partial<ListLimits> } = {},
): AsyncGenerator<string> {
  return listing(session, "/v2/_catalog", "repositories", "registry:catalog:*", options);
}

/** How far {@linkcode listing} follows a registry's pages. */
export interface ListLimits {
  /** Pages read at most. */
  pages: number;
  /** Entries (tags, repositories) yielded at most. */
  entries: number;
}

/**
 * The bounds of one listing. Real listings stay far below them: 100k tags come in one page
 * from docker-registry (which sends all unless asked for `n`) and in 2,000 pages at Quay's 50
 * a page; a million entries of at most 255 characters stay within a few hundred MB. A registry
 * whose `Link` leads on for ever (one that drove a tag listing to 1 GB in 25 s) is stopped at
 * the first page seen twice, or at these caps when every URL is new.
 */
export const LIST_LIMITS: Readonly<ListLimits> = { pages: 10_000, entries: 1_000_000 };

/** A page of a listing (the spec's answers are small; 100k tags are ~3 MB). */
const LIST_PAGE_BYTES = 16 << 20;
/**
 * Longest next-page link followed: servers refuse longer request lines (nginx and Apache stop
 * at 8 KiB), and it bounds what remembering the pages read costs.
 */
const MAX_LINK_LENGTH = 8192;
/**
 * Longest entry accepted: a repository name may have 255 characters (a tag 128). It bounds
 * the memory a listing can take to entries x this.
 */
const MAX_ENTRY_LENGTH = 255;

/**
 * The entries of a paginated listing (`field` of each page's JSON), following `Link: <url>;
 * rel="next"`. Stops with a {@linkcode LimitExceededError} at a page already read (the link
 * loops) or past `limits`; entries must be strings safe to print.
 */
async function* listing(
  session: RegistrySession,
  path: string,
  field: "tags" | "repositories",
  scope: string,
  options: { n?: number; signal?: AbortSignal; limits?: Partial<ListLimits> },
): AsyncGenerator<string> {
  const limits = { ...LIST_LIMITS, ...options.limits };
  const where = `registry ${session.host}: GET ${path}`;
  const seen = new Set<string>();
  let url: string | URL = path + (options.n ? `?n=${options.n}` : "");
  let entries = 0;
  for (let page = 1;; page++) {
    const res = await session.request("GET", url, { scope, signal: options.signal });
    await session.expect(res, [200], "GET", path);
    seen.add(res.url.href);
    const bytes = await readAllBytes(res.body!, LIST_PAGE_BYTES, `${where}: page ${page}`);
    const list = listOf(parseJson(bytes), field);
    if (list === undefined) {
      throw new RegistryError(
        session.host,
        res.status,
        undefined,
        `${where}: the answer is not a JSON object with a ${field} list`,
      );
    }
    for (const entry of list) {
      if (typeof entry !== "string" || entry.length > MAX_ENTRY_LENGTH || hasUnsafeText(entry)) {
        const shown = typeof entry === "string"
          ? quote(entry.length > 64 ? `${entry.slice(0, 64)}...` : entry)
          : `of type ${entry === null ? "null" : typeof entry}`;
        throw new RegistryError(
          session.host,
          res.status,
          undefined,
          `${where}: entry ${shown} is not a name (${field} are strings of at most ` +
            `${MAX_ENTRY_LENGTH} printable characters)`,
        );
      }
      if (++entries > limits.entries) {
        throw new LimitExceededError(
          where,
          limits.entries,
          `more than ${limits.entries} ${field}; stopped (ocibox reads at most ` +
            `${limits.entries} ${field} in ${limits.pages} pages)`,
        );
      }
      yield entry;
    }
    const link = nextLink(res.headers.get("link"));
    if (link === undefined) return;
    if (link.length > MAX_LINK_LENGTH) {
      throw new LimitExceededError(
        where,
        MAX_LINK_LENGTH,
        `the next-page link of page ${page} is longer than ${MAX_LINK_LENGTH} characters`,
      );
    }
    const next = resolveUrl(link, res.url);
    if (next === undefined) {
      throw new RegistryError(
        session.host,
        res.status,
        undefined,
        `${where}: the next-page link of page ${page} is not an http(s) URL: ${quote(link)}`,
      );
    }
    if (seen.has(next.href)) {
      throw new LimitExceededError(
        where,
        undefined,
        `the next-page link of page ${page} leads back to a page already read ` +
          `(${safeText(next.href)}); stopped`,
      );
    }
    if (page >= limits.pages) {
      throw new LimitExceededError(
        where,
        limits.pages,
        `more than ${limits.pages} pages; stopped (ocibox reads at most ` +
          `${limits.pages} pages and ${limits.entries} ${field})`,
      );
    }
    url = next;
  }
}

/** JSON text as a value, or undefined (the parser's message would quote the raw text). */
function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

/** `doc[field]` when `doc` is an object and it is an array (a missing or null list is empty). */
function listOf(doc: unknown, field: string): unknown[] | undefined {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return undefined;
  const list = (doc as Record<string, unknown>)[field];
  if (list === undefined || list === null) return [];
  return Array.isArray(list) ? list : undefined;
}

/**
 * `ref` (a Link target, a Location) resolved against `base`; undefined unless it parses as an
 * http(s) URL. The URL parser's own error would repeat the raw text.
 */
function resolveUrl(ref: string, base: URL | string): URL | undefined {
  let url: URL;
  try {
    url = new URL(ref, base);
  } catch {
    return undefined;
  }
  return url.protocol === "https:" || url.protocol === "http:" ? url : undefined;
}

/**
 * The media type a response's Content-Type names. One that would be unsafe to print is kept
 * quoted: it names no media type ocibox knows, and whoever reports it shows it harmlessly.
 */
function mediaTypeOf(res: HttpResponse): string {
  return safeText((res.headers.get("content-type") ?? "").split(";")[0].trim());
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

/** `e` from the last of `resumes` reconnections, saying that it was the last. */
function gaveUp(e: unknown, resumes: number): unknown {
  if (!(e instanceof NetworkError) || resumes === 0) return e;
  const reason = e.message.startsWith(`${e.url}: `) ? e.message.slice(e.url.length + 2) : e.message;
  return new NetworkError(e.kind, e.url, `${reason} (gave up after ${resumes} resumes)`, {
    cause: e,
    temporary: e.temporary,
  });
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
          if (signal?.aborted || received >= size) throw e;
          if (resumes >= MAX_RESUMES) throw gaveUp(e, resumes);
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
