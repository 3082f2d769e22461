/**
 * Bearer authentication of registry requests in token mode: the token (from token_issuer.ts)
 * must carry a valid signature by the server's key, the right issuer and audience (the
 * service), be inside its `nbf`..`exp` window, not be a refresh token, and its `access` claim
 * must hold every action the request needs. Otherwise the answer is 401 with
 * `WWW-Authenticate: Bearer realm="http(s)://HOST/token",service="...",scope="..."` (with
 * `error="invalid_token"` or `"insufficient_scope"` when a token was presented), or 403 DENIED
 * when the token's user is known and the access rules will never give them the access (asking
 * for a new token would not help).
 *
 * A verified token is remembered until it expires (at most 1000 of them), so a client's
 * hundreds of requests with one token cost one signature check.
 *
 * @example
 * ```ts
 * import { bearerAuthorize } from "./bearer_auth.ts";
 * import { generateTokenKey } from "./jwt.ts";
 * import { AccessPolicy } from "./access_rules.ts";
 * const authorize = bearerAuthorize({
 *   key: await generateTokenKey(),
 *   service: "ocibox",
 *   issuer: "ocibox",
 *   policy: AccessPolicy.fromJson(undefined),
 * });
 * ```
 * @module
 */
import type { AccessScope, Authorize, Principal } from "../hooks.ts";
import type { AccessPolicy } from "./access_rules.ts";
import { presentedCredentials } from "./authorization_header.ts";
import { type TokenKey, verifyJwt } from "./jwt.ts";
import { bearerChallenge, denied, unauthorized } from "./responses.ts";
import { accessClaim, allows, type ResourceScope } from "./scope.ts";

/** Options of {@linkcode bearerAuthorize}. */
export interface BearerAuthOptions {
  key: TokenKey;
  /** Tokens' `aud` must name it; the challenge's `service`. */
  service: string;
  /** Tokens' `iss` must be it. */
  issuer: string;
  policy: AccessPolicy;
  /** The challenge's realm; default `/token` on the request's own scheme and host. */
  realm?: string;
  /** Clock in ms (tests). */
  now?: () => number;
}

interface Verified {
  sub: string;
  access: ResourceScope[];
  /** Seconds since the epoch. */
  exp: number;
}

const CACHE_LIMIT = 1000;

/**
 * The {@linkcode Authorize} of token mode.
 *
 * @example
 * ```ts
 * // const hooks = { authorize: bearerAuthorize({ key, service, issuer, policy }) };
 * ```
 */
export function bearerAuthorize(options: BearerAuthOptions): Authorize {
  const now = options.now ?? Date.now;
  const cache = new Map<string, Verified>();

  const verify = async (token: string): Promise<Verified | undefined> => {
    const t = Math.floor(now() / 1000);
    const hit = cache.get(token);
    if (hit) {
      if (t < hit.exp) return hit;
      cache.delete(token);
      return undefined;
    }
    let claims;
    try {
      claims = await verifyJwt(options.key, token, {
        issuer: options.issuer,
        audience: options.service,
        now: t,
      });
    } catch {
      return undefined;
    }
    if (claims.token_use !== undefined) return undefined; // a refresh token
    const access = accessClaim(claims.access);
    if (!access || typeof claims.sub !== "string") return undefined;
    const v: Verified = { sub: claims.sub, access, exp: claims.exp as number };
    if (cache.size >= CACHE_LIMIT) {
      for (const [k, e] of cache) if (e.exp <= t) cache.delete(k);
      if (cache.size >= CACHE_LIMIT) cache.clear();
    }
    cache.set(token, v);
    return v;
  };

  return async (request: Request, scope: AccessScope): Promise<Principal | Response> => {
    const realm = options.realm ?? new URL("/token", request.url).href;
    const challenge = (error?: "invalid_token" | "insufficient_scope") =>
      bearerChallenge(realm, options.service, scope, error);
    const presented = presentedCredentials(request.headers.get("authorization"));
    if (presented.kind !== "bearer") {
      // Basic credentials or none: the client is to get a token from the realm first.
      return unauthorized(scope, challenge());
    }
    const token = await verify(presented.token);
    if (!token) {
      return unauthorized(scope, challenge("invalid_token"), "invalid or expired token");
    }
    const principal: Principal = token.sub === ""
      ? { name: "", anonymous: true }
      : { name: token.sub };
    if (scope.type === "base") return principal;
    if (scope.actions.every((a) => allows(token.access, scope.type, scope.name, a))) {
      return principal;
    }
    if (token.sub !== "" && !options.policy.permits(token.sub, scope)) {
      return denied(scope, token.sub);
    }
    return unauthorized(scope, challenge("insufficient_scope"), "insufficient scope");
  };
}
