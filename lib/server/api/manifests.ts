/**
 * Manifest endpoints: `GET`/`HEAD /v2/<name>/manifests/<tag-or-digest>` (end-3, with content
 * negotiation), `PUT` (end-7a, end-7b with `?tag=`) and `DELETE` by tag or digest (end-9).
 *
 * Content negotiation: manifests are served exactly as pushed (no conversion). A request by
 * tag whose `Accept` admits neither the manifest's media type nor a wildcard gets 404
 * MANIFEST_UNKNOWN naming the type, as distribution answers; a request by digest, or without
 * `Accept`, gets the manifest whatever its type. OCI and Docker schema 2 types are both taken.
 *
 * @example
 * ```ts
 * import { handleManifest } from "./manifests.ts";
 * // PUT /v2/a/manifests/v1 (Content-Type = the manifest's mediaType) -> 201, Location,
 * // Docker-Content-Digest, OCI-Subject when the manifest has a subject
 * ```
 * @module
 */

import { acceptsMediaType, mediaTypeOf, parseAccept } from "../../distribution/accept.ts";
import { errorResponse } from "../../distribution/errors.ts";
import { isTag, parseReferenceSegment } from "../../distribution/names.ts";
import type { ServedManifest } from "../hooks.ts";
import { BodyTooLargeError, contentLength, guardedBody, readCapped } from "./body.ts";
import { type ApiContext, type ApiRequest, repoPath } from "./context.ts";
import { emptyResponse, errorForException, fallbackErrorResponse } from "./respond.ts";
import { ManifestRejectedError } from "../storage/store_errors.ts";
import type { PutManifestResult } from "../storage/registry_store_api.ts";

/** More `?tag=` parameters than this on one PUT get 414 (spec.md asks for at least 10). */
export const MAX_TAGS_PER_PUT = 100;

/**
 * Answers end-3, end-7 and end-9.
 */
export async function handleManifest(
  ctx: ApiContext,
  req: ApiRequest,
  route: { name: string; reference: string },
): Promise<Response> {
  const ref = parseReferenceSegment(route.reference);
  if (ref.kind === "invalid") {
    if (req.request.body) await req.request.body.cancel().catch(() => {});
    if (route.reference.includes(":")) {
      return errorResponse("DIGEST_INVALID", ref.reason, { reference: route.reference });
    }
    if (req.method === "PUT") {
      return errorResponse("MANIFEST_INVALID", `invalid tag: ${ref.reason}`, {
        reference: route.reference,
      });
    }
    return errorResponse("MANIFEST_UNKNOWN", `invalid tag: ${ref.reason}`, {
      reference: route.reference,
    });
  }
  try {
    if (req.method === "PUT") return await putManifest(ctx, req, route.name, route.reference);
    if (req.method === "DELETE") {
      if (!await ctx.store.deleteManifest(route.name, route.reference)) {
        return errorResponse("MANIFEST_UNKNOWN", undefined, { reference: route.reference });
      }
      return emptyResponse(202);
    }
    return await getManifest(ctx, req, route.name, route.reference, ref.kind === "tag");
  } catch (e) {
    return errorForException(e, "MANIFEST_UNKNOWN");
  }
}

async function getManifest(
  ctx: ApiContext,
  req: ApiRequest,
  name: string,
  reference: string,
  byTag: boolean,
): Promise<Response> {
  const acceptValues = req.request.headers.get("accept");
  const accept = parseAccept(acceptValues ? [acceptValues] : []);
  let manifest: ServedManifest | undefined = await ctx.store.getManifest(name, reference);
  const fallback = ctx.hooks.fallback;
  if (fallback?.handles(name)) {
    try {
      const served = await fallback.manifest({
        repository: name,
        reference,
        method: req.method === "HEAD" ? "HEAD" : "GET",
        accept,
        stored: manifest,
        signal: req.signal,
      });
      if (served) manifest = served;
    } catch (e) {
      if (!manifest) return fallbackErrorResponse(e);
    }
  }
  if (!manifest) return errorResponse("MANIFEST_UNKNOWN", undefined, { reference });
  if (byTag && !acceptsMediaType(accept, manifest.mediaType)) {
    return errorResponse(
      "MANIFEST_UNKNOWN",
      `the manifest is ${manifest.mediaType}, which the Accept header does not list`,
      { reference, mediaType: manifest.mediaType },
    );
  }
  const headers = new Headers({
    "content-type": manifest.mediaType,
    "content-length": String(manifest.bytes.length),
    "docker-content-digest": manifest.digest,
    "etag": `"${manifest.digest}"`,
  });
  if (req.method === "HEAD") return new Response(null, { status: 200, headers });
  return new Response(manifest.bytes as Uint8Array<ArrayBuffer>, { status: 200, headers });
}

/** The manifest's own `mediaType`, "" when it has none, undefined when it is not a JSON object. */
function declaredMediaType(bytes: Uint8Array): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  const mt = (json as { mediaType?: unknown }).mediaType;
  if (mt === undefined) return "";
  return typeof mt === "string" ? mt : undefined;
}

async function putManifest(
  ctx: ApiContext,
  req: ApiRequest,
  name: string,
  reference: string,
): Promise<Response> {
  const limit = ctx.config.maxManifestBytes;
  const extraTags = req.query.getAll("tag");
  const byDigest = reference.includes(":");
  if (extraTags.length > 0) {
    const cancel = () => req.request.body?.cancel().catch(() => {});
    if (!byDigest) {
      await cancel();
      return errorResponse("MANIFEST_INVALID", "tag parameters need a push by digest");
    }
    if (extraTags.length > MAX_TAGS_PER_PUT) {
      await cancel();
      return errorResponse("MANIFEST_INVALID", `more than ${MAX_TAGS_PER_PUT} tags`, undefined, {
        status: 414,
      });
    }
    const bad = extraTags.find((t) => !isTag(t));
    if (bad !== undefined) {
      await cancel();
      return errorResponse("MANIFEST_INVALID", `invalid tag ${JSON.stringify(bad)}`);
    }
  }
  const declaredLength = contentLength(req.request.headers);
  if (declaredLength !== undefined && declaredLength > limit) {
    await req.request.body?.cancel().catch(() => {});
    throw new BodyTooLargeError("manifest", limit);
  }
  const body = req.request.body
    ? guardedBody(req.request.body, {
      idleMs: ctx.config.bodyIdleTimeoutMs,
      minBytesPerSecond: ctx.config.bodyMinRate,
      signal: req.signal,
      what: "manifest",
      length: Number.isNaN(declaredLength) ? undefined : declaredLength,
    })
    : null;
  const bytes = await readCapped(body, limit);
  const declared = declaredMediaType(bytes);
  if (declared === undefined) {
    return errorResponse("MANIFEST_INVALID", "the manifest is not a JSON object");
  }
  let mediaType = mediaTypeOf(req.request.headers.get("content-type"));
  if (mediaType === "") mediaType = declared;
  if (mediaType === "") {
    return errorResponse("MANIFEST_INVALID", "no Content-Type and no mediaType in the manifest");
  }
  if (declared !== "" && declared !== mediaType) {
    return errorResponse(
      "MANIFEST_INVALID",
      `Content-Type ${mediaType} does not match the manifest's mediaType ${declared}`,
      { contentType: mediaType, mediaType: declared },
    );
  }
  const result = await putWithFallback(ctx, req, name, reference, bytes, mediaType);
  for (const tag of extraTags) await ctx.store.putManifest(name, tag, bytes, mediaType);
  const headers = new Headers({
    location: repoPath(name, "manifests", result.digest),
    "docker-content-digest": result.digest,
  });
  if (result.subject) headers.set("oci-subject", result.subject);
  if (extraTags.length > 0) headers.set("oci-tag", [...new Set(extraTags)].join(", "));
  return emptyResponse(201, headers);
}

/** Blobs fetched through the fallback at once for one manifest PUT. */
const FALLBACK_FETCHES = 4;

/** The digests of an index's child manifests (fetched as manifests, not blobs). */
function childManifests(bytes: Uint8Array): Set<string> {
  try {
    const doc = JSON.parse(new TextDecoder().decode(bytes)) as { manifests?: unknown };
    if (!Array.isArray(doc.manifests)) return new Set();
    return new Set(
      doc.manifests.flatMap((m) =>
        typeof m === "object" && m !== null && typeof m.digest === "string" ? [m.digest] : []
      ),
    );
  } catch {
    return new Set();
  }
}

/**
 * Stores a pushed manifest. In a repository the pull-through cache handles, referenced blobs
 * the store lacks are fetched from the upstream first: a pusher's blob HEAD there is answered
 * from the upstream (so that images built on upstream images need not upload their base
 * layers), and the client, told the blob exists, does not upload it. The push then succeeds
 * with every blob in the store, as after a pull; a blob the upstream cannot give leaves the
 * manifest rejected with MANIFEST_BLOB_UNKNOWN as before.
 */
async function putWithFallback(
  ctx: ApiContext,
  req: ApiRequest,
  name: string,
  reference: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<PutManifestResult> {
  try {
    return await ctx.store.putManifest(name, reference, bytes, mediaType);
  } catch (e) {
    const fallback = ctx.hooks.fallback;
    if (
      !(e instanceof ManifestRejectedError) || e.code !== "MANIFEST_BLOB_UNKNOWN" ||
      !fallback?.handles(name)
    ) throw e;
    const missing = (e.detail as { digests?: unknown } | undefined)?.digests;
    if (!Array.isArray(missing) || missing.length === 0) throw e;
    const children = childManifests(bytes);
    const queue = missing.filter((d): d is string => typeof d === "string");
    const fetchOne = async (digest: string) => {
      if (children.has(digest)) {
        await fallback.manifest({
          repository: name,
          reference: digest,
          method: "GET",
          accept: [],
          signal: req.signal,
        });
        return;
      }
      if ((await ctx.store.statBlob(digest)) === undefined) {
        const served = await fallback.blob({
          repository: name,
          digest,
          method: "GET",
          signal: req.signal,
        });
        if (!served?.body) return;
        // The cache stores while it serves and sends the last bytes once stored: drain it.
        for await (const _ of served.body) { /* discard */ }
      }
      await ctx.store.linkBlob(name, digest);
    };
    const workers = Array.from(
      { length: Math.min(FALLBACK_FETCHES, queue.length) },
      async () => {
        for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
          await fetchOne(d).catch(() => {});
        }
      },
    );
    await Promise.all(workers);
    return await ctx.store.putManifest(name, reference, bytes, mediaType);
  }
}
