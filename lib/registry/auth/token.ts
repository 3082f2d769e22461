/**
 * The token server's side of Bearer authentication, as pure functions: the GET request of
 * auth-token.md (Basic credentials or anonymous, `service`, one `scope` per entry, and
 * `offline_token` to get a refresh token), the OAuth2 POST of auth-oauth.md
 * (`grant_type=refresh_token`), and reading the answer (`token` or `access_token`,
 * `expires_in` defaulting to 60 s, counted from `issued_at` when given).
 *
 * @example
 * ```ts
 * import { parseTokenResponse, tokenGetRequest } from "./token.ts";
 * const req = tokenGetRequest(new URL("https://auth.docker.io/token"), {
 *   service: "registry.docker.io",
 *   scopes: ["repository:library/busybox:pull"],
 * });
 * req.url.href; // "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3A..."
 * const t = parseTokenResponse(new TextEncoder().encode('{"token":"abc"}'), 0);
 * t.expiresAt; // 60000
 * ```
 * @module
 */
import { OciboxError } from "../../errors.ts";

/** A Bearer token and when to stop using it (ms since the epoch). */
export interface BearerToken {
  token: string;
  expiresAt: number;
  /** A refresh token, when the server gave one (offline_token / access_type=offline). */
  refreshToken?: string;
}

/** A token server's answer that holds no usable token. */
export class TokenResponseError extends OciboxError {
  constructor(readonly realm: string, reason: string) {
    super("TOKEN_INVALID", `token server ${realm}: ${reason}`);
  }
}

/** The client_id ocibox names itself with (auth-token.md and auth-oauth.md ask for one). */
export const CLIENT_ID = "ocibox";

/** When a token says nothing about its lifetime (auth-token.md). */
export const DEFAULT_TOKEN_LIFETIME_S = 60;

/** What a token request asks for. */
export interface TokenRequestParams {
  service?: string;
  /** Resource scopes, e.g. `repository:library/busybox:pull`; may be empty. */
  scopes: readonly string[];
}

/** The `Authorization: Basic` value for a user name and password (UTF-8, RFC 7617). */
export function basicHeader(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * The GET token request: `realm?service=S&scope=A&scope=B`, with Basic credentials (plus
 * `account`, and `offline_token=true` with `client_id` so the server may hand out a refresh
 * token) when given. Query parameters already in the realm are kept.
 */
export function tokenGetRequest(
  realm: URL,
  params: TokenRequestParams,
  basic?: { username: string; password: string },
): { url: URL; headers: Headers } {
  const url = new URL(realm);
  if (params.service) url.searchParams.set("service", params.service);
  for (const scope of params.scopes) url.searchParams.append("scope", scope);
  const headers = new Headers();
  if (basic) {
    url.searchParams.set("account", basic.username);
    url.searchParams.set("offline_token", "true");
    url.searchParams.set("client_id", CLIENT_ID);
    headers.set("authorization", basicHeader(basic.username, basic.password));
  }
  return { url, headers };
}

/**
 * The OAuth2 POST token request with `grant_type=refresh_token`; the scopes go in one
 * space-separated `scope` field as auth-oauth.md asks.
 */
export function tokenPostRequest(
  realm: URL,
  params: TokenRequestParams,
  refreshToken: string,
): { url: URL; headers: Headers; body: Uint8Array } {
  const form = new URLSearchParams();
  form.set("grant_type", "refresh_token");
  form.set("refresh_token", refreshToken);
  if (params.service) form.set("service", params.service);
  form.set("client_id", CLIENT_ID);
  if (params.scopes.length) form.set("scope", params.scopes.join(" "));
  const headers = new Headers({ "content-type": "application/x-www-form-urlencoded" });
  return { url: new URL(realm), headers, body: new TextEncoder().encode(form.toString()) };
}

/**
 * Reads a token server's JSON answer received at `now` (ms). `issued_at` (RFC 3339) moves the
 * start of the lifetime when present and sane.
 *
 * @throws {TokenResponseError} when the body is not JSON or holds no token.
 */
export function parseTokenResponse(body: Uint8Array, now: number, realm = "?"): BearerToken {
  let doc: Record<string, unknown>;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(body));
    if (typeof parsed !== "object" || parsed === null) throw new Error("not an object");
    doc = parsed;
  } catch {
    throw new TokenResponseError(realm, "the answer is not a JSON object");
  }
  const pick = (k: string) => typeof doc[k] === "string" && doc[k] !== "" ? doc[k] as string : "";
  const token = pick("token") || pick("access_token");
  if (!token) throw new TokenResponseError(realm, "the answer holds no token");
  const expiresIn = typeof doc.expires_in === "number" && doc.expires_in > 0
    ? doc.expires_in
    : DEFAULT_TOKEN_LIFETIME_S;
  let start = now;
  const issued = pick("issued_at");
  if (issued) {
    const t = Date.parse(issued);
    // A server clock far off ours would make every token look expired (or eternal).
    if (!Number.isNaN(t) && Math.abs(t - now) < 10 * 60_000) start = t;
  }
  const refreshToken = pick("refresh_token");
  return {
    token,
    expiresAt: start + expiresIn * 1000,
    ...(refreshToken ? { refreshToken } : {}),
  };
}
