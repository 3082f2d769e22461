/**
 * The API's request handler: route (router.ts), refuse writes in read-only mode, authorize
 * (the hooks' {@linkcode Authorize} with the scope the route needs), then the endpoint module.
 * Requests outside `/v2/` go to the extra routes hook. Every `/v2/` response carries
 * `Docker-Distribution-API-Version: registry/2.0`.
 *
 * @example
 * ```ts
 * import { handleApiRequest } from "./handler.ts";
 * // const { response, principal } = await handleApiRequest(ctx, request, { remoteAddr: "127.0.0.1" });
 * ```
 * @module
 */

import { errorResponse } from "../../distribution/errors.ts";
import { ANONYMOUS, type Principal } from "../hooks.ts";
import { handleBlob } from "./blobs.ts";
import type { ApiContext, ApiRequest } from "./context.ts";
import { handleBase, handleCatalog, handleReferrers, handleTags } from "./listings.ts";
import { handleManifest } from "./manifests.ts";
import { API_VERSION_HEADER, errorForException } from "./respond.ts";
import { isWrite, matchRoute, rawPath, rawQuery, type Route } from "./router.ts";
import { handleUpload, handleUploadStart } from "./uploads.ts";

/** A handled request: the response and who it ran as (for the access log). */
export interface Handled {
  response: Response;
  principal: Principal;
}

function dispatch(ctx: ApiContext, req: ApiRequest, route: Route): Promise<Response> | Response {
  switch (route.endpoint) {
    case "base":
      return handleBase();
    case "catalog":
      return handleCatalog(ctx, req);
    case "tags":
      return handleTags(ctx, req, route);
    case "manifest":
      return handleManifest(ctx, req, route);
    case "blob":
      return handleBlob(ctx, req, route);
    case "upload-start":
      return handleUploadStart(ctx, req, route);
    case "upload":
      return handleUpload(ctx, req, route);
    case "referrers":
      return handleReferrers(ctx, req, route);
  }
}

/**
 * The request an endpoint gets. A class rather than an object literal with a `signal` getter:
 * a getter closure made per request kept V8's young generation growing under load (wrk on
 * manifest GETs: the server's peak RSS 140 MB instead of 75 MB).
 */
class EndpointRequest implements ApiRequest {
  readonly query: URLSearchParams;
  readonly #signal: AbortSignal | undefined;

  constructor(
    readonly request: Request,
    readonly method: string,
    readonly principal: Principal,
    signal: AbortSignal | undefined,
  ) {
    this.query = new URLSearchParams(rawQuery(request.url));
    this.#signal = signal;
  }

  /**
   * Read only when an endpoint needs it. deno.json opts in to "no-legacy-abort": the signal
   * fires when the client goes away before the response is done, never after a success
   * (Deno's legacy behaviour, which it warns about on first use without the opt-in).
   */
  get signal(): AbortSignal {
    return this.#signal ?? this.request.signal;
  }
}

async function discard(request: Request): Promise<void> {
  if (request.body && !request.bodyUsed) await request.body.cancel().catch(() => {});
}

/**
 * Handles one request.
 *
 * @example
 * ```ts
 * // (await handleApiRequest(ctx, new Request("http://x/v2/"), { remoteAddr: "" })).response.status; // 200
 * ```
 */
export async function handleApiRequest(
  ctx: ApiContext,
  request: Request,
  info: { remoteAddr: string },
  signal?: AbortSignal,
): Promise<Handled> {
  const method = request.method.toUpperCase();
  const path = rawPath(request.url);
  const match = matchRoute(method, path);
  if (match.kind === "outside") {
    const response = (await ctx.hooks.routes?.(request, info)) ??
      errorResponse("UNSUPPORTED", "no such endpoint", { path }, { status: 404 });
    return { response, principal: ANONYMOUS };
  }
  const withVersion = (response: Response, principal: Principal): Handled => {
    try {
      response.headers.set(API_VERSION_HEADER[0], API_VERSION_HEADER[1]);
    } catch {
      // Immutable headers (a Response from fetch() handed through): leave them.
    }
    return { response, principal };
  };
  if (match.kind !== "route") {
    await discard(request);
    if (match.kind === "unknown") {
      return withVersion(
        errorResponse("UNSUPPORTED", "no such endpoint", { path }, { status: 404 }),
        ANONYMOUS,
      );
    }
    if (match.kind === "method") {
      return withVersion(
        errorResponse("UNSUPPORTED", `${method} is not allowed here`, { path }, {
          status: 405,
          headers: { allow: match.allow.join(", ") },
        }),
        ANONYMOUS,
      );
    }
    return withVersion(
      errorResponse("NAME_INVALID", match.reason, { name: match.name.slice(0, 300) }),
      ANONYMOUS,
    );
  }
  if (ctx.config.readOnly && isWrite(method)) {
    await discard(request);
    return withVersion(
      errorResponse("UNSUPPORTED", "the registry is in read-only mode", undefined, {
        status: 405,
      }),
      ANONYMOUS,
    );
  }
  let principal: Principal;
  try {
    const auth = await ctx.authorize(request, match.scope);
    if (auth instanceof Response) {
      await discard(request);
      return withVersion(auth, ANONYMOUS);
    }
    principal = auth;
  } catch (e) {
    await discard(request);
    return withVersion(errorForException(e, "NAME_UNKNOWN"), ANONYMOUS);
  }
  const req: ApiRequest = new EndpointRequest(request, method, principal, signal);
  let response: Response;
  try {
    response = await dispatch(ctx, req, match.route);
  } catch (e) {
    await discard(request);
    response = errorForException(e, "NAME_UNKNOWN");
  }
  return withVersion(response, principal);
}
