/**
 * The listing endpoints: `GET /v2/` (end-1), `GET /v2/<name>/tags/list` (end-8a/b, `n`,
 * `last`, `Link`), `GET /v2/_catalog` (same pagination; 1000 entries a page by default) and
 * `GET /v2/<name>/referrers/<digest>` (end-12a/b, an image index, `artifactType` filter with
 * `OCI-Filters-Applied`; an empty index for a digest nothing refers to).
 *
 * @example
 * ```ts
 * import { handleTags } from "./listings.ts";
 * // GET /v2/a/tags/list?n=2 -> {"name":"a","tags":["v1","v2"]} + Link: </v2/a/tags/list?n=2&last=v2>; rel="next"
 * ```
 * @module
 */

import { errorResponse } from "../../distribution/errors.ts";
import { isDigest } from "../../digest/digest.ts";
import { MEDIA_TYPE_OCI_INDEX } from "../../image/media_types.ts";
import { type ApiContext, type ApiRequest, repoPath } from "./context.ts";
import { paginate } from "./pagination.ts";
import { errorForException, jsonResponse } from "./respond.ts";

/** Catalog entries per page when the request gives no `n` (distribution's maximum). */
export const CATALOG_PAGE = 1000;

/** Answers end-1: `{}` with 200. */
export function handleBase(): Response {
  return jsonResponse({});
}

/** Answers end-8a and end-8b; 404 NAME_UNKNOWN for a repository that does not exist. */
export async function handleTags(
  ctx: ApiContext,
  req: ApiRequest,
  route: { name: string },
): Promise<Response> {
  try {
    const tags = await ctx.store.listTags(route.name);
    if (tags === undefined) {
      return errorResponse("NAME_UNKNOWN", undefined, { name: route.name });
    }
    const page = paginate(tags, req.query, repoPath(route.name, "tags", "list"));
    return jsonResponse(
      { name: route.name, tags: page.items },
      { headers: page.link ? { link: page.link } : undefined },
    );
  } catch (e) {
    return errorForException(e, "NAME_UNKNOWN");
  }
}

/** Answers `GET /v2/_catalog`. */
export async function handleCatalog(ctx: ApiContext, req: ApiRequest): Promise<Response> {
  try {
    const repositories = await ctx.store.listRepositories();
    const page = paginate(repositories, req.query, "/v2/_catalog", CATALOG_PAGE);
    return jsonResponse(
      { repositories: page.items },
      { headers: page.link ? { link: page.link } : undefined },
    );
  } catch (e) {
    return errorForException(e, "NAME_UNKNOWN");
  }
}

/** Answers end-12a and end-12b. */
export async function handleReferrers(
  ctx: ApiContext,
  req: ApiRequest,
  route: { name: string; digest: string },
): Promise<Response> {
  if (!isDigest(route.digest)) {
    return errorResponse("DIGEST_INVALID", "invalid digest in the URL", { digest: route.digest });
  }
  try {
    const entries = await ctx.store.referrers(route.name, route.digest);
    const filter = req.query.getAll("artifactType").filter((t) => t !== "");
    const kept = filter.length === 0
      ? entries
      : entries.filter((e) => e.artifactType !== undefined && filter.includes(e.artifactType));
    const manifests = kept.map((e) => ({
      mediaType: e.mediaType,
      digest: e.digest,
      size: e.size,
      ...(e.artifactType !== undefined ? { artifactType: e.artifactType } : {}),
      ...(e.annotations && Object.keys(e.annotations).length > 0
        ? { annotations: e.annotations }
        : {}),
    }));
    return jsonResponse(
      { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests },
      {
        contentType: MEDIA_TYPE_OCI_INDEX,
        headers: filter.length > 0 ? { "oci-filters-applied": "artifactType" } : undefined,
      },
    );
  } catch (e) {
    return errorForException(e, "NAME_UNKNOWN");
  }
}
