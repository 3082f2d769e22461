/**
 * The server as its own token issuer (`serve --auth token`): the `/token` endpoint of
 * auth-token.md and auth-oauth.md, handing out short-lived signed JWTs (jwt.ts, auth-jwt.md's
 * claims) whose `access` is the intersection of the scopes asked for and what the access rules
 * give the user.
 *
 * - `GET /token?service=S&scope=A&scope=B` with optional Basic credentials (docker, podman,
 *   skopeo, ocibox). Wrong credentials: 401. No credentials: an anonymous token (it holds what
 *   anonymous requests may do, maybe nothing; refusing is the registry's job, not this one's).
 *   `offline_token=true` with credentials adds a `refresh_token`.
 * - `POST /token` (form): `grant_type=password` (`username`, `password`; `access_type=offline`
 *   adds a refresh token: docker login's identity token) and `grant_type=refresh_token` (the
 *   same refresh token comes back). Errors are OAuth2's (RFC 6749 section 5.2).
 * - `GET /token/keys`: the public key as a JWK set, for a registry that should trust these
 *   tokens.
 *
 * Refresh tokens are JWTs too (`token_use: "refresh"`, never accepted as access tokens), bound
 * to the user's htpasswd entry: a changed password or a removed user ends them.
 *
 * @example
 * ```ts
 * import { TokenIssuer } from "./token_issuer.ts";
 * import { generateTokenKey } from "./jwt.ts";
 * import { AccessPolicy } from "./access_rules.ts";
 * const issuer = new TokenIssuer({
 *   key: await generateTokenKey(),
 *   policy: AccessPolicy.fromJson(undefined, { anonymousRead: true }),
 *   service: "ocibox",
 *   issuer: "ocibox",
 * });
 * const res = await issuer.handle(
 *   new Request("http://127.0.0.1:5000/token?service=ocibox&scope=repository:a:pull"),
 * );
 * (await res.json()).token; // "eyJ..."
 * ```
 * @module
 */
import { errorBody } from "../../distribution/errors.ts";
import type { AccessPolicy } from "./access_rules.ts";
import { presentedCredentials } from "./authorization_header.ts";
import type { PasswordCheck } from "./basic_auth.ts";
import { type JwtClaims, signJwt, type TokenKey, verifyJwt } from "./jwt.ts";
import { basicChallenge } from "./responses.ts";
import { ALL_ACTIONS, formatScope, parseScopes, type ResourceScope } from "./scope.ts";

/** The users a token issuer knows: passwords, and a fingerprint of each user's entry. */
export interface UserDirectory extends PasswordCheck {
  fingerprint(user: string): Promise<string | undefined>;
}

/** Options of {@linkcode TokenIssuer}. */
export interface TokenIssuerOptions {
  key: TokenKey;
  /** The htpasswd users; none: anonymous tokens only. */
  users?: UserDirectory;
  policy: AccessPolicy;
  /** `aud` of the tokens; requests naming another service are refused. */
  service: string;
  /** `iss` of the tokens. */
  issuer: string;
  /** Access token lifetime in seconds (default 300). */
  expirySeconds?: number;
  /** Refresh token lifetime in seconds (default 30 days). */
  refreshExpirySeconds?: number;
  /** The Basic realm named when credentials are refused. */
  basicRealm?: string;
  /** Clock in ms (tests). */
  now?: () => number;
}

/** A signed access token. */
export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: string;
  access: ResourceScope[];
}

/** A token request carries at most this many scopes; the rest are ignored. */
const MAX_SCOPES = 100;
/** Largest form body of a POST. */
const MAX_FORM_BYTES = 64 * 1024;

/** The claims that mark a refresh token. */
const REFRESH_USE = "refresh";

class GrantError extends Error {
  constructor(
    readonly status: number,
    readonly oauthError: string,
    message: string,
  ) {
    super(message);
  }
}

/** Reads at most `limit` bytes of a body. */
async function readLimited(request: Request, limit: number): Promise<string | undefined> {
  if (!request.body) return "";
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      parts.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new TextDecoder().decode(all);
}

function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return text(JSON.stringify(body), status, headers);
}

function text(body: string, status: number, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json");
  h.set("cache-control", "no-store");
  return new Response(body, { status, headers: h });
}

/** The token issuer: grants, signing, and the `/token` endpoint. */
export class TokenIssuer {
  readonly #o: Required<Omit<TokenIssuerOptions, "users">> & { users?: UserDirectory };

  constructor(options: TokenIssuerOptions) {
    this.#o = {
      expirySeconds: 300,
      refreshExpirySeconds: 30 * 24 * 3600,
      basicRealm: "ocibox",
      now: Date.now,
      ...options,
    };
  }

  /** The key tokens are signed with. */
  get key(): TokenKey {
    return this.#o.key;
  }

  /** The service (audience) tokens are for. */
  get service(): string {
    return this.#o.service;
  }

  /** The issuer tokens name. */
  get issuer(): string {
    return this.#o.issuer;
  }

  /**
   * What `user` (undefined: anonymous) gets of `requested`: per repository the requested
   * actions (`*`: all three) the rules give; `registry:catalog:*` when the catalog is theirs.
   * Other resources are left out, as are resources with no action left.
   *
   * @example
   * ```ts
   * // issuer.grant("alice", parseScopes("repository:team/a:pull,push,delete"))
   * // -> [{ type: "repository", name: "team/a", actions: ["pull", "push"] }]
   * ```
   */
  grant(user: string | undefined, requested: readonly ResourceScope[]): ResourceScope[] {
    const out: ResourceScope[] = [];
    for (const scope of requested.slice(0, MAX_SCOPES)) {
      if (scope.type === "repository") {
        const have = this.#o.policy.actionsFor(user, scope.name);
        const wanted = scope.actions.includes("*") ? ALL_ACTIONS : scope.actions;
        const actions = wanted.filter((a) => have.has(a as typeof ALL_ACTIONS[number]));
        if (actions.length) out.push({ type: "repository", name: scope.name, actions });
      } else if (scope.type === "registry" && scope.name === "catalog") {
        if (scope.actions.includes("*") && this.#o.policy.catalogAllowed(user)) {
          out.push({ type: "registry", name: "catalog", actions: ["*"] });
        }
      }
    }
    return out;
  }

  /** An access token for `user` ("" for anonymous) holding `access`. */
  async issue(user: string, access: ResourceScope[]): Promise<IssuedToken> {
    const nowMs = this.#o.now();
    const now = Math.floor(nowMs / 1000);
    const claims: JwtClaims = {
      iss: this.#o.issuer,
      sub: user,
      aud: this.#o.service,
      exp: now + this.#o.expirySeconds,
      nbf: now,
      iat: now,
      jti: crypto.randomUUID(),
      access,
    };
    return {
      token: await signJwt(this.#o.key, claims),
      expiresIn: this.#o.expirySeconds,
      issuedAt: new Date(now * 1000).toISOString(),
      access,
    };
  }

  async #refreshToken(user: string): Promise<string> {
    const now = Math.floor(this.#o.now() / 1000);
    const stamp = await this.#o.users?.fingerprint(user);
    return await signJwt(this.#o.key, {
      iss: this.#o.issuer,
      sub: user,
      aud: this.#o.service,
      exp: now + this.#o.refreshExpirySeconds,
      iat: now,
      jti: crypto.randomUUID(),
      token_use: REFRESH_USE,
      ...(stamp ? { pwd: stamp } : {}),
    });
  }

  /** The user of a refresh token, or throws a GrantError. */
  async #refreshUser(token: string): Promise<string> {
    const invalid = new GrantError(400, "invalid_grant", "invalid or expired refresh token");
    let claims: JwtClaims;
    try {
      claims = await verifyJwt(this.#o.key, token, {
        issuer: this.#o.issuer,
        audience: this.#o.service,
        now: Math.floor(this.#o.now() / 1000),
      });
    } catch {
      throw invalid;
    }
    if (claims.token_use !== REFRESH_USE || typeof claims.sub !== "string" || !claims.sub) {
      throw invalid;
    }
    const stamp = await this.#o.users?.fingerprint(claims.sub);
    if (stamp === undefined || stamp !== claims.pwd) throw invalid;
    return claims.sub;
  }

  async #checkPassword(user: string, password: string): Promise<boolean> {
    return this.#o.users ? await this.#o.users.verify(user, password) : false;
  }

  /**
   * Answers a request to the token endpoint: `GET`/`POST /token`, `GET /token/keys` (the
   * caller routes only those paths here).
   */
  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/token/keys") {
      if (request.method !== "GET" && request.method !== "HEAD") return methodNotAllowed("GET");
      return json({ keys: [this.#o.key.publicJwk] });
    }
    if (request.method === "GET" || request.method === "HEAD") return await this.#get(request, url);
    if (request.method === "POST") return await this.#post(request);
    return methodNotAllowed("GET, POST");
  }

  async #get(request: Request, url: URL): Promise<Response> {
    const service = url.searchParams.get("service");
    if (service && service !== this.#o.service) {
      return text(
        errorBody([{
          code: "DENIED",
          message: `this token server issues tokens for service ${
            JSON.stringify(this.#o.service)
          }, not ${JSON.stringify(service)}`,
        }]),
        400,
      );
    }
    const presented = presentedCredentials(request.headers.get("authorization"));
    let user: string | undefined;
    if (presented.kind === "basic") {
      if (!(await this.#checkPassword(presented.user, presented.password))) {
        return this.#unauthorized("invalid username or password");
      }
      user = presented.user;
    } else if (presented.kind !== "none") {
      return this.#unauthorized(
        presented.kind === "invalid"
          ? presented.reason
          : "the token server takes Basic credentials",
      );
    }
    const issued = await this.issue(
      user ?? "",
      this.grant(user, parseScopes(...url.searchParams.getAll("scope"))),
    );
    const offline = url.searchParams.get("offline_token") === "true";
    const refresh = offline && user !== undefined ? await this.#refreshToken(user) : undefined;
    return json({
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt,
      ...(refresh ? { refresh_token: refresh } : {}),
    });
  }

  async #post(request: Request): Promise<Response> {
    try {
      const type = request.headers.get("content-type") ?? "";
      if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
        throw new GrantError(400, "invalid_request", "the body must be form-urlencoded");
      }
      const text = await readLimited(request, MAX_FORM_BYTES);
      if (text === undefined) throw new GrantError(400, "invalid_request", "form too large");
      const form = new URLSearchParams(text);
      const service = form.get("service");
      if (service && service !== this.#o.service) {
        throw new GrantError(400, "invalid_request", `unknown service ${JSON.stringify(service)}`);
      }
      const grant = form.get("grant_type");
      let user: string;
      let refresh: string | undefined;
      if (grant === "password") {
        const name = form.get("username") ?? "";
        const password = form.get("password") ?? "";
        if (!name || !(await this.#checkPassword(name, password))) {
          throw new GrantError(401, "invalid_grant", "invalid username or password");
        }
        user = name;
        if (form.get("access_type") === "offline") refresh = await this.#refreshToken(user);
      } else if (grant === "refresh_token") {
        refresh = form.get("refresh_token") ?? "";
        user = await this.#refreshUser(refresh);
      } else {
        throw new GrantError(
          400,
          "unsupported_grant_type",
          `grant_type ${JSON.stringify(grant ?? "")}: use password or refresh_token`,
        );
      }
      const issued = await this.issue(user, this.grant(user, parseScopes(form.get("scope") ?? "")));
      return json({
        access_token: issued.token,
        token: issued.token,
        scope: issued.access.map(formatScope).join(" "),
        expires_in: issued.expiresIn,
        issued_at: issued.issuedAt,
        ...(refresh ? { refresh_token: refresh } : {}),
      });
    } catch (e) {
      if (!(e instanceof GrantError)) throw e;
      return json(
        { error: e.oauthError, error_description: e.message },
        e.status,
        e.status === 401 ? { "www-authenticate": basicChallenge(this.#o.basicRealm) } : {},
      );
    }
  }

  #unauthorized(message: string): Response {
    return text(
      errorBody([{ code: "UNAUTHORIZED", message }]),
      401,
      { "www-authenticate": basicChallenge(this.#o.basicRealm) },
    );
  }
}

function methodNotAllowed(allow: string): Response {
  return text(
    errorBody([{ code: "UNSUPPORTED", message: "method not allowed" }]),
    405,
    { allow },
  );
}
