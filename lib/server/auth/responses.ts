/**
 * The answers of the server's auth: `WWW-Authenticate` challenges (RFC 7235 quoting) and the
 * spec's UNAUTHORIZED (401) and DENIED (403) bodies, whose `detail` lists the access the
 * request needed as auth-token.md's example does (`[{Type, Name, Action}]`).
 *
 * @example
 * ```ts
 * import { bearerChallenge, unauthorized } from "./responses.ts";
 * const scope = { type: "repository", name: "app", actions: ["pull", "push"] } as const;
 * const r = unauthorized(scope, bearerChallenge("https://r/token", "ocibox", scope));
 * r.headers.get("www-authenticate");
 * // 'Bearer realm="https://r/token",service="ocibox",scope="repository:app:pull,push"'
 * ```
 * @module
 */
import { errorResponse } from "../../distribution/errors.ts";
import type { AccessScope } from "../hooks.ts";

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, "\\$&")}"`;
}

/**
 * `Basic realm="..."`.
 *
 * @example
 * ```ts
 * basicChallenge("ocibox"); // 'Basic realm="ocibox"'
 * ```
 */
export function basicChallenge(realm: string): string {
  return `Basic realm=${quoted(realm)}`;
}

/** The challenge's scope of `scope`, or undefined for the base endpoint (none needed). */
export function challengeScope(scope: AccessScope): string | undefined {
  if (scope.type === "base") return undefined;
  return `${scope.type}:${scope.name}:${scope.actions.join(",")}`;
}

/**
 * `Bearer realm="...",service="...",scope="..."` (the scope left out for the base endpoint),
 * with `error` when a token was presented and refused (RFC 6750 section 3.1).
 *
 * @example
 * ```ts
 * bearerChallenge("http://h/token", "ocibox", { type: "base", name: "", actions: [] });
 * // 'Bearer realm="http://h/token",service="ocibox"'
 * ```
 */
export function bearerChallenge(
  realm: string,
  service: string,
  scope: AccessScope,
  error?: "invalid_token" | "insufficient_scope",
): string {
  let out = `Bearer realm=${quoted(realm)},service=${quoted(service)}`;
  const s = challengeScope(scope);
  if (s !== undefined) out += `,scope=${quoted(s)}`;
  if (error) out += `,error=${quoted(error)}`;
  return out;
}

function detail(scope: AccessScope): unknown {
  if (scope.type === "base") return undefined;
  return scope.actions.map((a) => ({ Type: scope.type, Name: scope.name, Action: a }));
}

/**
 * 401 UNAUTHORIZED with the challenge.
 *
 * @example
 * ```ts
 * unauthorized({ type: "base", name: "", actions: [] }, basicChallenge("r")).status; // 401
 * ```
 */
export function unauthorized(scope: AccessScope, challenge: string, message?: string): Response {
  return errorResponse(
    "UNAUTHORIZED",
    message ?? "authentication required",
    detail(scope),
    { headers: { "www-authenticate": challenge } },
  );
}

/**
 * 403 DENIED: the user is known, the access is not theirs.
 *
 * @example
 * ```ts
 * denied({ type: "repository", name: "a", actions: ["push"] }, "bob").status; // 403
 * ```
 */
export function denied(scope: AccessScope, user: string): Response {
  const what = scope.type === "repository"
    ? `${scope.actions.join(",")} on repository ${scope.name}`
    : `${scope.type} ${scope.name}`;
  return errorResponse(
    "DENIED",
    `requested access to the resource is denied: user ${user} may not ${what}`,
    detail(scope),
  );
}
