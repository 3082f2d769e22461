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
  const result = await ctx.store.putManifest(name, reference, bytes, mediaType);
  for (const tag of extraTags) await ctx.store.putManifest(name, tag, bytes, mediaType);
  const headers = new Headers({
    location: repoPath(name, "manifests", result.digest),
    "docker-content-digest": result.digest,
  });
  if (result.subject) headers.set("oci-subject", result.subject);
  if (extraTags.length > 0) headers.set("oci-tag", [...new Set(extraTags)].join(", "));
  return emptyResponse(201, headers);
}
