/**
 * The client's side of registry authentication for one host: which Authorization a request
 * carries (from the last challenge: Basic credentials, or a Bearer token cached per scope until
 * it expires), what to answer a 401 with (a new token, widened to the scope the registry asked
 * for), and the token server conversation (OAuth2 POST with a refresh or identity token, else
 * GET with Basic credentials; token.ts builds and parses those messages). The session
 * (../session.ts) owns the connection side — scheme, retries, deadlines, redirects — and hands
 * this class a way to send.
 *
 * @example
 * ```ts
 * import { Authenticator } from "./authenticator.ts";
 * const auth = new Authenticator({
 *   host: "localhost:5000",
 *   allowHttp: true,
 *   base: () => new URL("http://localhost:5000/"),
 *   send: (request, signal) => fetch(request.url, { ...request, signal }) as never,
 * });
 * const authorization = await auth.authorization("repository:x:pull");
 * ```
 * @module
 */
import { RegistryError } from "../../errors.ts";
import type { HttpRequest, HttpResponse } from "../../http/types.ts";
import { quote } from "../../report/safe_text.ts";
import { registryErrorFrom } from "../response_error.ts";
import { type Challenge, parseChallenges, pickChallenge } from "./challenge.ts";
import type { Credentials } from "./credentials.ts";
import type { BearerToken } from "./token.ts";

// The auth files, credential helpers and the token messages are loaded when a registry asks for
// authentication: an anonymous pull or inspect needs none of them.
const tokenModule = () => import("./token.ts");

const TOKEN_BODY_LIMIT = 1 << 20;

/** What an {@linkcode Authenticator} needs from its session. */
export interface AuthenticatorOptions {
  /** The registry host as given (for credentials and messages). */
  host: string;
  /** Credentials to use; when absent they are looked up on first need. */
  credentials?: Credentials;
  /** `--authfile` for the lookup. */
  authFile?: string;
  /** Repository path for namespace-specific credentials. */
  repository?: string;
  /** Environment for credential lookups. */
  env?: (name: string) => string | undefined;
  /** Plain http is allowed for this registry (loopback or --tls-verify=false). */
  allowHttp: boolean;
  /** The registry's base URL once known (token realms are resolved against it). */
  base: () => URL | undefined;
  /** Sends a request to the token server (with the session's retries and time bounds). */
  send: (request: HttpRequest, signal?: AbortSignal) => Promise<HttpResponse>;
  /** Clock for token lifetimes, ms since the epoch (default Date.now). */
  now?: () => number;
}

/** True for names that reach this machine only (`localhost:5000`, `127.0.0.1`, `[::1]:5000`). */
export function isLoopbackHost(host: string): boolean {
  let name = host;
  if (name.startsWith("[")) name = name.slice(1, name.indexOf("]"));
  else if (name.split(":").length === 2) name = name.slice(0, name.indexOf(":"));
  name = name.toLowerCase();
  return name === "localhost" || name.endsWith(".localhost") || name === "::1" ||
    /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** `scope` with duplicates and extra spaces removed (the token cache's key). */
export function normalizeScope(scope: string | undefined): string {
  if (!scope) return "";
  return [...new Set(scope.split(/\s+/).filter(Boolean))].join(" ");
}

function union(scope: string, extra: string | undefined): string[] {
  const all = [...scope.split(" "), ...(extra ?? "").split(/\s+/)].filter(Boolean);
  return [...new Set(all)];
}

/** Authentication with one registry host (see the module doc). */
export class Authenticator {
  readonly #options: AuthenticatorOptions;
  readonly #now: () => number;
  /** The challenge requests must answer (undefined: none seen yet, or none needed). */
  #challenge?: Challenge;
  #credentials?: Promise<Credentials | undefined>;
  readonly #tokens = new Map<string, BearerToken>();
  readonly #pendingTokens = new Map<string, Promise<BearerToken>>();
  /** A refresh token the server gave in exchange for the password (offline_token). */
  #refreshToken?: string;
  /** The token server refused the OAuth2 POST: use GET from now on. */
  #noPost = false;

  constructor(options: AuthenticatorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Takes the challenge of the registry's ping (a 401's, or none for a 200). */
  learn(challenge: Challenge | undefined): void {
    this.#challenge = challenge;
  }

  /** The credentials for this host: given, or looked up once in the auth files. */
  credentials(): Promise<Credentials | undefined> {
    const o = this.#options;
    this.#credentials ??= o.credentials
      ? Promise.resolve(o.credentials)
      : import("./credentials.ts").then(({ lookupCredentials }) =>
        lookupCredentials(o.host, { authFile: o.authFile, repository: o.repository, env: o.env })
      );
    return this.#credentials;
  }

  /** `unauthorized: wrong username or password for HOST` (or the identity token's wording). */
  wrongCredentials(identityToken = false): RegistryError {
    const host = this.#options.host;
    return new RegistryError(
      host,
      401,
      "UNAUTHORIZED",
      identityToken
        ? `unauthorized: the identity token for ${host} was refused; log in again`
        : `unauthorized: wrong username or password for ${host}`,
    );
  }

  /** The Authorization to send before any 401, from what the last challenge asked for. */
  async authorization(scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const challenge = this.#challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === "basic") {
      const creds = await this.credentials();
      if (!creds || !("password" in creds)) return undefined;
      return (await tokenModule()).basicHeader(creds.username, creds.password);
    }
    const cached = this.#tokens.get(scope);
    if (cached && cached.expiresAt > this.#now()) return `Bearer ${cached.token}`;
    return `Bearer ${(await this.#token(scope, challenge, undefined, signal)).token}`;
  }

  /**
   * The Authorization to try after the 401 `res` to a request that carried `sent`
   * (undefined: nothing better to offer).
   *
   * @throws {RegistryError} when the same Basic credentials were already refused.
   */
  async answer(
    res: HttpResponse,
    scope: string,
    sent: string | undefined,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    // Some registries (gcr.io) send 401 without a challenge: the ping's one still applies.
    const challenge = pickChallenge(parseChallenges(res.headers.get("www-authenticate"))) ??
      this.#challenge;
    if (!challenge) return undefined;
    this.#challenge = challenge;
    if (challenge.scheme === "basic") {
      const creds = await this.credentials();
      if (!creds || !("password" in creds)) return undefined;
      const header = (await tokenModule()).basicHeader(creds.username, creds.password);
      if (header === sent) {
        await res.body?.cancel().catch(() => {});
        throw this.wrongCredentials();
      }
      return header;
    }
    // Expired or revoked, or the registry wants more scope than we asked for: a new token.
    this.#tokens.delete(scope);
    const token = await this.#token(scope, challenge, challenge.params.scope, signal);
    return `Bearer ${token.token}`;
  }

  /** A fresh token for `scope`, shared by concurrent requests that need the same one. */
  #token(
    scope: string,
    challenge: Challenge,
    extra: string | undefined,
    signal?: AbortSignal,
  ): Promise<BearerToken> {
    const pending = this.#pendingTokens.get(scope);
    if (pending) return pending;
    const p = this.#fetchToken(challenge, union(scope, extra), signal)
      .then((token) => {
        this.#tokens.set(scope, token);
        return token;
      })
      .finally(() => this.#pendingTokens.delete(scope));
    this.#pendingTokens.set(scope, p);
    return p;
  }

  async #fetchToken(
    challenge: Challenge,
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<BearerToken> {
    const host = this.#options.host;
    const base = this.#options.base();
    const realmText = challenge.params.realm;
    let realm: URL;
    try {
      if (!realmText) throw new Error("missing");
      realm = new URL(realmText, base);
      if (realm.protocol !== "https:" && realm.protocol !== "http:") throw new Error("scheme");
    } catch {
      throw new RegistryError(
        host,
        401,
        "UNAUTHORIZED",
        `registry ${host}: the Bearer challenge has no usable realm (${quote(realmText ?? "")})`,
      );
    }
    const creds = await this.credentials();
    if (
      creds && realm.protocol === "http:" && !this.#options.allowHttp &&
      !isLoopbackHost(realm.host) && base?.protocol !== "http:"
    ) {
      throw new RegistryError(
        host,
        401,
        "UNAUTHORIZED",
        `registry ${host}: refusing to send credentials to ${realm.origin} over plain http`,
      );
    }
    const { tokenGetRequest, tokenPostRequest } = await tokenModule();
    const params = { service: challenge.params.service, scopes };
    const identityToken = creds && "identityToken" in creds ? creds.identityToken : undefined;
    const refresh = identityToken ?? this.#refreshToken;
    if (refresh && !this.#noPost) {
      const req = tokenPostRequest(realm, params, refresh);
      const res = await this.#options.send(
        { method: "POST", url: req.url, headers: new Headers(req.headers), body: req.body },
        signal,
      );
      if (res.status === 200) return this.#readToken(res, realm);
      // auth-oauth.md: servers without OAuth2 answer the POST with 404; fall back to GET.
      const unsupported = res.status === 404 || res.status === 405;
      if (!unsupported && identityToken) {
        if (res.status === 401 || res.status === 400) {
          await res.body?.cancel().catch(() => {});
          throw this.wrongCredentials(true);
        }
        throw await registryErrorFrom(host, "POST", realm.href, res, "getting a token");
      }
      await res.body?.cancel().catch(() => {});
      if (unsupported) this.#noPost = true;
      // A refresh token we got in exchange for the password may be stale: forget it.
      this.#refreshToken = undefined;
    }
    const basic = creds && "password" in creds ? creds : undefined;
    const req = tokenGetRequest(realm, params, basic);
    const res = await this.#options.send(
      { method: "GET", url: req.url, headers: new Headers(req.headers) },
      signal,
    );
    if (res.status === 200) return this.#readToken(res, realm);
    const where = `${realm.origin}${realm.pathname}`;
    if (res.status === 401 || res.status === 403) {
      if (basic) {
        await res.body?.cancel().catch(() => {});
        throw this.wrongCredentials();
      }
      throw await registryErrorFrom(
        host,
        "GET",
        where,
        res,
        `the token server wants credentials; try ocibox login ${host}`,
      );
    }
    throw await registryErrorFrom(host, "GET", where, res, "getting a token");
  }

  async #readToken(res: HttpResponse, realm: URL): Promise<BearerToken> {
    const parts: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      for await (const chunk of res.body) {
        size += chunk.length;
        if (size > TOKEN_BODY_LIMIT) {
          const host = this.#options.host;
          throw new RegistryError(
            host,
            res.status,
            undefined,
            `registry ${host}: token server ${realm.origin} answered more than 1 MiB`,
          );
        }
        parts.push(chunk);
      }
    }
    const body = new Uint8Array(size);
    let off = 0;
    for (const p of parts) {
      body.set(p, off);
      off += p.length;
    }
    const { parseTokenResponse } = await tokenModule();
    const token = parseTokenResponse(body, this.#now(), `${realm.origin}${realm.pathname}`);
    if (token.refreshToken) this.#refreshToken = token.refreshToken;
    return token;
  }
}
