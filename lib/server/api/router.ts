/**
 * Which endpoint of spec.md's table a request is for, from its raw path: the repository name
 * (with slashes, checked against the spec's grammar), the reference, digest or upload id, and
 * the access scope the request needs (hooks.ts' table). Pure: no store, no I/O.
 *
 * The path is taken from the raw request target, never through `new URL()`, whose dot-segment
 * removal would turn `/v2/a/../b/...` (or `%2e%2e`) into another repository's path instead of
 * the NAME_INVALID it deserves.
 *
 * @example
 * ```ts
 * import { matchRoute } from "./router.ts";
 * const m = matchRoute("GET", "/v2/library/busybox/manifests/latest");
 * // { kind: "route", route: { endpoint: "manifest", name: "library/busybox", reference: "latest" }, ... }
 * ```
 * @module
 */

import type { AccessScope, Action } from "../hooks.ts";
import { checkRepositoryName } from "../../distribution/names.ts";

/** An endpoint of the API, with what its path names. */
export type Route =
  | { endpoint: "base" }
  | { endpoint: "catalog" }
  | { endpoint: "tags"; name: string }
  | { endpoint: "manifest"; name: string; reference: string }
  | { endpoint: "blob"; name: string; digest: string }
  | { endpoint: "upload-start"; name: string }
  | { endpoint: "upload"; name: string; id: string }
  | { endpoint: "referrers"; name: string; digest: string };

/** The methods each endpoint answers (HEAD only where spec.md has it). */
export const ROUTE_METHODS: Readonly<Record<Route["endpoint"], readonly string[]>> = {
  base: ["GET", "HEAD"],
  catalog: ["GET"],
  tags: ["GET"],
  manifest: ["GET", "HEAD", "PUT", "DELETE"],
  blob: ["GET", "HEAD", "DELETE"],
  "upload-start": ["POST"],
  upload: ["GET", "PATCH", "PUT", "DELETE"],
  referrers: ["GET"],
};

/** The outcome of {@linkcode matchRoute}. */
export type RouteMatch =
  /** An endpoint, its method allowed. */
  | { kind: "route"; route: Route; scope: AccessScope }
  /** Not under `/v2/`: for the extra routes hook. */
  | { kind: "outside" }
  /** Under `/v2/` but no endpoint: 404. */
  | { kind: "unknown" }
  /** An endpoint that does not take this method: 405 with `Allow`. */
  | { kind: "method"; allow: readonly string[] }
  /** The path's repository name breaks the grammar: 400 NAME_INVALID. */
  | { kind: "name-invalid"; name: string; reason: string };

/**
 * The path (still percent-encoded, without query) of a request URL string, taken as sent.
 *
 * @example
 * ```ts
 * rawPath("http://h:5000/v2/a/../b?x=1"); // "/v2/a/../b"
 * ```
 */
export function rawPath(url: string): string {
  const scheme = url.indexOf("://");
  const start = scheme < 0 ? 0 : url.indexOf("/", scheme + 3);
  if (start < 0) return "/";
  let end = url.length;
  const q = url.indexOf("?", start);
  if (q >= 0) end = q;
  const h = url.indexOf("#", start);
  if (h >= 0 && h < end) end = h;
  return url.slice(start, end);
}

/** The query string of a request URL string (without `?`), or "". */
export function rawQuery(url: string): string {
  const q = url.indexOf("?");
  if (q < 0) return "";
  const h = url.indexOf("#", q);
  return url.slice(q + 1, h < 0 ? undefined : h);
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

const PATTERNS: readonly [RegExp, (m: RegExpExecArray, name: string) => Route | undefined][] = [
  [/^(.+)\/tags\/list$/, (_m, name) => ({ endpoint: "tags", name })],
  [/^(.+)\/manifests\/([^/]+)$/, (m, name) => {
    const reference = decode(m[2]);
    return reference === undefined ? undefined : { endpoint: "manifest", name, reference };
  }],
  [/^(.+)\/referrers\/([^/]+)$/, (m, name) => {
    const digest = decode(m[2]);
    return digest === undefined ? undefined : { endpoint: "referrers", name, digest };
  }],
  [/^(.+)\/blobs\/uploads\/?$/, (_m, name) => ({ endpoint: "upload-start", name })],
  [/^(.+)\/blobs\/uploads\/([^/]+)$/, (m, name) => {
    const id = decode(m[2]);
    return id === undefined ? undefined : { endpoint: "upload", name, id };
  }],
  [/^(.+)\/blobs\/([^/]+)$/, (m, name) => {
    const digest = decode(m[2]);
    return digest === undefined ? undefined : { endpoint: "blob", name, digest };
  }],
];

/**
 * The access `route` needs when called with `method` (hooks.ts' scope table).
 *
 * @example
 * ```ts
 * scopeFor({ endpoint: "blob", name: "a", digest: "sha256:…" }, "DELETE");
 * // { type: "repository", name: "a", actions: ["delete"] }
 * ```
 */
export function scopeFor(route: Route, method: string): AccessScope {
  if (route.endpoint === "base") return { type: "base", name: "", actions: [] };
  if (route.endpoint === "catalog") return { type: "registry", name: "catalog", actions: ["*"] };
  let actions: Action[];
  if (route.endpoint === "upload-start" || route.endpoint === "upload") {
    actions = ["pull", "push"];
  } else if (method === "DELETE") actions = ["delete"];
  else if (method === "PUT") actions = ["pull", "push"];
  else actions = ["pull"];
  return { type: "repository", name: route.name, actions };
}

/** True for methods that change the store (refused in read-only mode). */
export function isWrite(method: string): boolean {
  return method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE";
}

/**
 * Matches a method and raw path against the API's endpoints.
 *
 * @example
 * ```ts
 * matchRoute("GET", "/v2/a/%2e%2e/b/tags/list").kind; // "name-invalid"
 * matchRoute("POST", "/v2/a/blobs/uploads/").kind; // "route"
 * matchRoute("GET", "/token").kind; // "outside"
 * ```
 */
export function matchRoute(method: string, path: string): RouteMatch {
  if (path !== "/v2" && !path.startsWith("/v2/")) return { kind: "outside" };
  const rest = path.slice(4);
  let route: Route | undefined;
  if (rest === "") route = { endpoint: "base" };
  else if (rest === "_catalog") route = { endpoint: "catalog" };
  else {
    for (const [re, make] of PATTERNS) {
      const m = re.exec(rest);
      if (!m) continue;
      const rawName = m[1];
      const name = decode(rawName) ?? rawName;
      const reason = checkRepositoryName(name);
      if (reason !== undefined) return { kind: "name-invalid", name, reason };
      route = make(m, name);
      break;
    }
  }
  if (!route) return { kind: "unknown" };
  const allow = ROUTE_METHODS[route.endpoint];
  if (!allow.includes(method)) return { kind: "method", allow };
  return { kind: "route", route, scope: scopeFor(route, method) };
}
