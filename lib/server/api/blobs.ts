/**
 * Blob endpoints: `GET`/`HEAD /v2/<name>/blobs/<digest>` (end-2, with a single `Range`: 206 or
 * 416) and `DELETE` (end-10). A blob is served only to repositories that may see it (pushed or
 * mounted there, or referenced by their manifests); a repository the pull-through cache
 * handles is also served what the store holds for anyone, then what the cache fetches.
 *
 * @example
 * ```ts
 * import { handleBlob } from "./blobs.ts";
 * // const res = await handleBlob(ctx, req, { endpoint: "blob", name: "a", digest });
 * ```
 * @module
 */

import { errorResponse } from "../../distribution/errors.ts";
import { contentRange, parseRangeHeader } from "../../distribution/range.ts";
import { isDigest } from "../../digest/digest.ts";
import type { ApiContext, ApiRequest } from "./context.ts";
import { emptyResponse, errorForException } from "./respond.ts";

/** The headers of a blob response. */
function blobHeaders(digest: string, length: number): Headers {
  return new Headers({
    "content-type": "application/octet-stream",
    "content-length": String(length),
    "docker-content-digest": digest,
    "accept-ranges": "bytes",
    "etag": `"${digest}"`,
    "cache-control": "max-age=31536000",
  });
}

/**
 * Answers end-2 and end-10.
 *
 * @example
 * ```ts
 * // GET /v2/a/blobs/sha256:…  -> 200 with the bytes, Docker-Content-Digest, Content-Length
 * ```
 */
export async function handleBlob(
  ctx: ApiContext,
  req: ApiRequest,
  route: { name: string; digest: string },
): Promise<Response> {
  const { name, digest } = route;
  if (!isDigest(digest)) {
    return errorResponse("DIGEST_INVALID", "invalid digest in the URL", { digest });
  }
  try {
    if (req.method === "DELETE") {
      const gone = await ctx.store.deleteBlob(name, digest);
      if (!gone) return errorResponse("BLOB_UNKNOWN", undefined, { digest });
      return emptyResponse(202, { "docker-content-digest": digest });
    }
    return await readBlob(ctx, req, name, digest);
  } catch (e) {
    return errorForException(e, "BLOB_UNKNOWN");
  }
}

async function readBlob(
  ctx: ApiContext,
  req: ApiRequest,
  name: string,
  digest: string,
): Promise<Response> {
  const head = req.method === "HEAD";
  const fallback = ctx.hooks.fallback?.handles(name) ? ctx.hooks.fallback : undefined;
  let visible = await ctx.store.repositoryHasBlob(name, digest);
  // A proxied repository sees every stored blob (it came from the upstream or a push); a
  // manifest PUT there links what it references (manifests.ts' putWithFallback).
  if (!visible && fallback) visible = (await ctx.store.statBlob(digest)) !== undefined;
  if (!visible) {
    if (fallback) {
      const served = await fallback.blob({
        repository: name,
        digest,
        method: head ? "HEAD" : "GET",
        signal: req.signal,
      });
      if (served) {
        // The fallback streams the whole blob while storing it; a Range is ignored here, as
        // RFC 9110 allows, and honoured once the blob is in the store.
        const headers = blobHeaders(served.digest, served.size);
        if (head || !served.body) {
          await served.body?.cancel().catch(() => {});
          return new Response(null, { status: 200, headers });
        }
        return new Response(served.body, { status: 200, headers });
      }
    }
    return errorResponse("BLOB_UNKNOWN", undefined, { digest });
  }
  const rangeHeader = head ? null : req.request.headers.get("range");
  if (!rangeHeader) {
    const read = await ctx.store.readBlob(digest, { head });
    if (!read) return errorResponse("BLOB_UNKNOWN", undefined, { digest });
    const headers = blobHeaders(digest, read.size);
    if (head) {
      await read.body?.cancel().catch(() => {});
      return new Response(null, { status: 200, headers });
    }
    return new Response(read.body ?? null, { status: 200, headers });
  }
  const stat = await ctx.store.readBlob(digest, { head: true });
  if (!stat) return errorResponse("BLOB_UNKNOWN", undefined, { digest });
  const range = parseRangeHeader(rangeHeader, stat.size);
  if (range.kind === "unsatisfiable") {
    return emptyResponse(416, {
      "content-range": `bytes */${stat.size}`,
      "docker-content-digest": digest,
    });
  }
  if (range.kind === "whole") {
    const read = await ctx.store.readBlob(digest);
    if (!read) return errorResponse("BLOB_UNKNOWN", undefined, { digest });
    return new Response(read.body ?? null, {
      status: 200,
      headers: blobHeaders(digest, read.size),
    });
  }
  const read = await ctx.store.readBlob(digest, {
    range: { start: range.start, end: range.end },
  });
  if (!read) return errorResponse("BLOB_UNKNOWN", undefined, { digest });
  const headers = blobHeaders(digest, range.end - range.start + 1);
  headers.set("content-range", contentRange(range.start, range.end, read.size));
  return new Response(read.body ?? null, { status: 206, headers });
}
