/**
 * The server's auth settings as lib/server/auth reads them: the config file's `auth` object
 * (with `serve` flags copied on top by plugin.ts), checked and given their defaults.
 *
 * ```json
 * "auth": {
 *   "mode": "token",
 *   "htpasswd": "/etc/ocibox/htpasswd",
 *   "anonymousRead": false,
 *   "realm": "ocibox",
 *   "token": {
 *     "realm": "https://registry.example.com/token",
 *     "service": "registry.example.com",
 *     "issuer": "ocibox",
 *     "key": "/etc/ocibox/token-key.pem",
 *     "expiry": "5m",
 *     "refreshExpiry": "720h"
 *   },
 *   "access": [{ "repository": "team/*", "users": ["alice"], "actions": ["pull", "push"] }]
 * }
 * ```
 *
 * `mode` is `basic` (the default when there is an htpasswd file), `token` or `none`; `realm`
 * is the Basic realm; `token.realm` defaults to `/token` on the host and scheme a request came
 * in on; `access` is read by access_rules.ts.
 *
 * @example
 * ```ts
 * import { authOptions } from "./settings.ts";
 * authOptions({ htpasswd: "/etc/htpasswd" })?.mode; // "basic"
 * authOptions(undefined); // undefined: no auth
 * ```
 * @module
 */
import { ConfigInvalidError } from "../../errors.ts";
import type { AuthSettings } from "../config.ts";
import { parseDuration } from "../config.ts";

/** How requests authenticate. */
export type AuthMode = "basic" | "token";

/** Settings of the token issuer. */
export interface TokenOptions {
  /** The `realm` of Bearer challenges; undefined: `/token` on the request's own origin. */
  realm?: string;
  /** The `service` of challenges and the `aud` of tokens. */
  service: string;
  /** The `iss` of tokens. */
  issuer: string;
  /** PEM private key file (EC P-256/P-384 or RSA); undefined: a P-256 key made at start. */
  key?: string;
  /** Lifetime of access tokens, in seconds (at least 60, as auth-token.md asks). */
  expirySeconds: number;
  /** Lifetime of refresh tokens, in seconds. */
  refreshExpirySeconds: number;
}

/** Everything lib/server/auth runs with. */
export interface AuthOptions {
  mode: AuthMode;
  /** The htpasswd file; absent in token mode with anonymous access only. */
  htpasswd?: string;
  anonymousRead: boolean;
  /** The Basic realm. */
  realm: string;
  token: TokenOptions;
  /** The config file's `access` list, unparsed (access_rules.ts reads it). */
  access?: unknown;
}

/** Default `service` (and `aud`) of tokens. */
export const DEFAULT_SERVICE = "ocibox";
/** Default access token lifetime: 5 minutes. */
export const DEFAULT_TOKEN_EXPIRY_S = 300;
/** Default refresh token lifetime: 30 days. */
export const DEFAULT_REFRESH_EXPIRY_S = 30 * 24 * 3600;

const KEYS = ["mode", "htpasswd", "anonymousRead", "realm", "token", "access"];
const TOKEN_KEYS = ["realm", "service", "issuer", "key", "expiry", "refreshExpiry"];

function fail(reason: string): never {
  throw new ConfigInvalidError("config", reason);
}

function str(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" || v === "") fail(`${where}${key} must be a non-empty string`);
  return v;
}

function seconds(obj: Record<string, unknown>, key: string, where: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && v > 0) return v;
  if (typeof v !== "string") fail(`${where}${key} must be a duration such as "5m"`);
  return Math.floor(parseDuration(v) / 1000);
}

function unknownKeys(obj: Record<string, unknown>, known: string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) fail(`${where}: unknown key ${JSON.stringify(k)}`);
  }
}

/**
 * The checked auth options of `settings`, or undefined when they ask for no auth (no htpasswd
 * file and no mode, or mode `none`).
 *
 * @throws {ConfigInvalidError} for unknown keys, wrong types, basic mode without an htpasswd
 * file, token mode with neither users nor anonymous access, a realm that is no http(s) URL, or
 * an access token lifetime under 60 seconds.
 * @example
 * ```ts
 * authOptions({ mode: "token", anonymousRead: true })?.token.service; // "ocibox"
 * ```
 */
export function authOptions(settings: AuthSettings | undefined): AuthOptions | undefined {
  if (!settings) return undefined;
  const s = settings as Record<string, unknown>;
  unknownKeys(s, KEYS, "auth");
  const mode = str(s, "mode", "auth.");
  if (mode !== undefined && mode !== "basic" && mode !== "token" && mode !== "none") {
    fail(`auth.mode must be basic, token or none, not ${JSON.stringify(mode)}`);
  }
  const htpasswd = str(s, "htpasswd", "auth.");
  const anonymousRead = s.anonymousRead ?? false;
  if (typeof anonymousRead !== "boolean") fail("auth.anonymousRead must be true or false");
  if (mode === "none") return undefined;
  if (mode === undefined && htpasswd === undefined) {
    if (anonymousRead || s.access !== undefined) {
      fail("auth.anonymousRead and auth.access need users: give an htpasswd file");
    }
    return undefined;
  }
  const effective: AuthMode = mode ?? "basic";
  if (effective === "basic" && htpasswd === undefined) {
    fail("basic auth needs an htpasswd file (auth.htpasswd, --htpasswd)");
  }
  if (effective === "token" && htpasswd === undefined && !anonymousRead && !s.access) {
    fail(
      "token auth without an htpasswd file can only grant anonymous pulls: add --anonymous-read",
    );
  }
  const t = s.token ?? {};
  if (typeof t !== "object" || t === null || Array.isArray(t)) fail("auth.token must be an object");
  const tok = t as Record<string, unknown>;
  unknownKeys(tok, TOKEN_KEYS, "auth.token");
  const realm = str(tok, "realm", "auth.token.");
  if (realm !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(realm);
    } catch { /* reported below */ }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      fail(`auth.token.realm must be an http(s) URL, not ${JSON.stringify(realm)}`);
    }
  }
  const expirySeconds = seconds(tok, "expiry", "auth.token.") ?? DEFAULT_TOKEN_EXPIRY_S;
  if (expirySeconds < 60) fail("auth.token.expiry must be at least 60s (auth-token.md)");
  const refreshExpirySeconds = seconds(tok, "refreshExpiry", "auth.token.") ??
    DEFAULT_REFRESH_EXPIRY_S;
  const service = str(tok, "service", "auth.token.") ?? DEFAULT_SERVICE;
  if (/["\\]/.test(service)) fail("auth.token.service must not hold quotes or backslashes");
  const basicRealm = str(s, "realm", "auth.") ?? "ocibox";
  if (/["\\]/.test(basicRealm)) fail("auth.realm must not hold quotes or backslashes");
  return {
    mode: effective,
    ...(htpasswd !== undefined ? { htpasswd } : {}),
    anonymousRead,
    realm: basicRealm,
    token: {
      ...(realm !== undefined ? { realm } : {}),
      service,
      issuer: str(tok, "issuer", "auth.token.") ?? service,
      ...(str(tok, "key", "auth.token.") !== undefined ? { key: tok.key as string } : {}),
      expirySeconds,
      refreshExpirySeconds,
    },
    ...(s.access !== undefined ? { access: s.access } : {}),
  };
}
