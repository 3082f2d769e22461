/**
 * What every endpoint module is given: the store, the config, the hooks, and the request with
 * its parsed query and the signal that fires when the client goes away or the server stops.
 *
 * @example
 * ```ts
 * import type { ApiContext, ApiRequest } from "./context.ts";
 * function handler(_ctx: ApiContext, req: ApiRequest): Response {
 *   return new Response(req.method);
 * }
 * ```
 * @module
 */

import type { ServerConfig } from "../config.ts";
import type { Authorize, Principal, ServerHooks } from "../hooks.ts";
import type { RegistryStore } from "../storage/registry_store_api.ts";

/** The server-wide state endpoint modules read. */
export interface ApiContext {
  readonly store: RegistryStore;
  readonly config: ServerConfig;
  readonly hooks: ServerHooks;
  /** hooks.authorize, or allow-all. */
  readonly authorize: Authorize;
}

/** One request as endpoint modules see it. */
export interface ApiRequest {
  readonly request: Request;
  readonly method: string;
  /** The parsed query string. */
  readonly query: URLSearchParams;
  /** Fires when the client disconnects or the server shuts down. */
  readonly signal: AbortSignal;
  /** Who the request runs as. */
  readonly principal: Principal;
}

/**
 * The URL path of a repository's endpoint (names hold only URL-safe characters).
 *
 * @example
 * ```ts
 * repoPath("a/b", "blobs", "sha256:00"); // "/v2/a/b/blobs/sha256:00"
 * ```
 */
export function repoPath(name: string, ...rest: string[]): string {
  return `/v2/${name}/${rest.map(encodeURIComponent).join("/")}`
    .replaceAll("%3A", ":");
}
