/**
 * A token server for registry tests, after the Docker token authentication spec
 * (auth-token.md, auth-jwt.md, auth-oauth.md): `GET /token?service=..&scope=..` with optional
 * Basic credentials, and the OAuth2 `POST /token` with `grant_type=password` or
 * `grant_type=refresh_token`. Tokens are ES256 JWTs signed with WebCrypto by a key whose
 * certificate the registry trusts (`auth.token.rootcertbundle`); the JOSE header names the key
 * by `x5c` (default), `kid` (libtrust fingerprint) or `jwk`, all three of which distribution
 * v2.8 accepts. Every request is recorded so tests can count token fetches, check scopes, and
 * see refreshes happen.
 *
 * Note that distribution v2.8 accepts a token up to 60 s after its `exp` (clock-skew leeway):
 * a short `expiresIn` makes clients renew early but does not make the registry reject the old
 * token. Set `settings.issueExpired` to issue tokens the registry rejects right away.
 *
 * @example
 * ```ts
 * import { startTokenServer } from "./token_server.ts";
 * const ts = await startTokenServer({ signing, service: "registry.test" });
 * // registry config: auth.token.realm = ts.realm, service = ts.service, issuer = ts.issuer
 * await ts.stop();
 * ```
 * @module
 */
import { pemBody, pemToDer, type SigningCert } from "./certs.ts";

/** A user of the token server. */
export interface TokenUser {
  name: string;
  password: string;
}

/** A permission: `subject` may do `actions` on resources of `type` named like `name`. */
export interface Grant {
  /** A user name, or "*" for everyone, anonymous clients included. */
  subject: string;
  /** Resource type; default "repository". */
  type?: string;
  /** Resource name pattern; `*` matches any run of characters, `/` included. */
  name: string;
  /** Granted actions; "*" grants whatever is asked. */
  actions: string[];
}

/** One entry of a token's `access` claim. */
export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

/** How the JOSE header identifies the signing key. */
export type KeyHeader = "x5c" | "kid" | "jwk";

/** Settings a test may change while the server runs. */
export interface TokenServerSettings {
  /** Lifetime of new tokens in seconds (`expires_in` and `exp - iat`); default 300. */
  expiresIn: number;
  /** How new tokens name their key; default "x5c". */
  keyHeader: KeyHeader;
  /** Issue tokens whose `exp` is already past the registry's 60 s leeway; default false. */
  issueExpired: boolean;
  /** Answer OAuth2 POSTs; when false, POST gets 404 (clients must fall back to GET). */
  oauth: boolean;
  /** Omit `issued_at` from responses. */
  omitIssuedAt: boolean;
}

/** Options for {@linkcode startTokenServer}. */
export interface TokenServerOptions {
  /** The key and certificate tokens are signed with. */
  signing: SigningCert;
  /** The `service` (token audience) the registry is configured with; default "ocibox-registry". */
  service?: string;
  /** The `iss` of tokens; default "ocibox-token-server". */
  issuer?: string;
  /** Users; default {@linkcode DEFAULT_USERS}. */
  users?: TokenUser[];
  /** Permissions; default {@linkcode DEFAULT_GRANTS}. */
  grants?: Grant[];
  /** Initial settings. */
  settings?: Partial<TokenServerSettings>;
  /** Serve HTTPS with this certificate instead of plain HTTP. */
  tls?: { certPem: string; keyPem: string };
}

/** What the server saw and did for one request. */
export interface TokenRequestRecord {
  method: string;
  /** Path and query as received. */
  path: string;
  /** "password" or "refresh_token" for POST; undefined for GET. */
  grantType?: string;
  /** The authenticated user, "" for anonymous, undefined when authentication failed. */
  user?: string;
  service?: string;
  /** Requested scopes, one entry per scope (POST's space-separated list split). */
  scopes: string[];
  clientId?: string;
  /** A refresh token was asked for (GET `offline_token=true`, POST `access_type=offline`). */
  offline: boolean;
  /** The refresh token presented (grant_type=refresh_token). */
  refreshToken?: string;
  status: number;
  /** The access granted in the issued token. */
  granted: AccessEntry[];
  /** The JWT issued, if any. */
  token?: string;
  /** `Date.now()` when it was answered. */
  time: number;
}

/** A running token server. */
export interface TokenServer {
  /** Base URL, e.g. `http://127.0.0.1:PORT`. */
  url: string;
  /** The realm for the registry's challenge: `${url}/token`. */
  realm: string;
  service: string;
  issuer: string;
  users: TokenUser[];
  grants: Grant[];
  /** Live settings: change them and the next token follows. */
  settings: TokenServerSettings;
  /** Every request so far, oldest first. */
  requests: TokenRequestRecord[];
  /** The refresh tokens issued, mapped to their user. */
  refreshTokens: Map<string, string>;
  /** Issues a token directly (no HTTP), as the server would for `user` and `scopes`. */
  issue(user: string, scopes: string[]): Promise<{ token: string; granted: AccessEntry[] }>;
  /** Stops serving. */
  stop(): Promise<void>;
}

/** alice and bob, with fixed passwords. */
export const DEFAULT_USERS: readonly TokenUser[] = [
  { name: "alice", password: "alice-secret" },
  { name: "bob", password: "bob-secret" },
];

/**
 * Everyone may pull `public/*`; alice may pull, push and delete `alice/*` and `public/*` and
 * list the catalog; bob may pull, push and delete `bob/*`.
 */
export const DEFAULT_GRANTS: readonly Grant[] = [
  { subject: "*", name: "public/*", actions: ["pull"] },
  { subject: "alice", name: "alice/*", actions: ["pull", "push", "delete"] },
  { subject: "alice", name: "public/*", actions: ["pull", "push", "delete"] },
  { subject: "alice", type: "registry", name: "catalog", actions: ["*"] },
  { subject: "bob", name: "bob/*", actions: ["pull", "push", "delete"] },
];

const encoder = new TextEncoder();

/** URL-safe base64 without padding (JOSE). */
export function base64Url(bytes: Uint8Array | string): string {
  const b = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  let bin = "";
  for (const x of b) bin += String.fromCharCode(x);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Decodes URL-safe base64 with or without padding. */
export function fromBase64Url(text: string): Uint8Array {
  const std = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(std + "=".repeat((4 - (std.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** The header and claims of a JWT, unverified (for assertions in tests). */
export function decodeJwt(
  token: string,
): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [h, c] = token.split(".");
  const dec = new TextDecoder();
  return {
    header: JSON.parse(dec.decode(fromBase64Url(h))),
    claims: JSON.parse(dec.decode(fromBase64Url(c))),
  };
}

function base32(bytes: Uint8Array): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/**
 * The libtrust key ID of a public key (what distribution v2.8 matches `kid` against): SHA-256
 * of the DER SubjectPublicKeyInfo, first 240 bits, base32, in 12 colon-separated groups of 4.
 */
export async function libtrustKeyId(spkiDer: Uint8Array<ArrayBuffer>): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", spkiDer));
  const s = base32(hash.slice(0, 30));
  return s.match(/.{1,4}/g)!.join(":");
}

/** A parsed scope `type[(class)]:name:actions`. */
export interface ParsedScope {
  type: string;
  name: string;
  actions: string[];
}

/** Parses one scope; the name may contain colons (the actions follow the last one). */
export function parseScope(scope: string): ParsedScope | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first < 0 || last === first) return undefined;
  const type = scope.slice(0, first).replace(/\(.*\)$/, "");
  const actions = scope.slice(last + 1).split(",").filter((a) => a !== "");
  return { type, name: scope.slice(first + 1, last), actions };
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

/** The intersection of what `user` ("" = anonymous) asks in `scopes` with what `grants` allow. */
export function grantedAccess(
  grants: readonly Grant[],
  user: string,
  scopes: readonly string[],
): AccessEntry[] {
  const merged = new Map<string, AccessEntry>();
  for (const scope of scopes) {
    const p = parseScope(scope);
    if (!p) continue;
    const key = `${p.type}:${p.name}`;
    const entry = merged.get(key) ?? { type: p.type, name: p.name, actions: [] };
    merged.set(key, entry);
    for (const action of p.actions) {
      const allowed = grants.some((g) =>
        (g.subject === "*" || (user !== "" && g.subject === user)) &&
        (g.type ?? "repository") === p.type && globToRegExp(g.name).test(p.name) &&
        (g.actions.includes("*") || g.actions.includes(action))
      );
      if (allowed && !entry.actions.includes(action)) entry.actions.push(action);
    }
  }
  return [...merged.values()];
}

function parseBasic(header: string | null): { name: string; password: string } | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  try {
    const text = new TextDecoder().decode(
      Uint8Array.from(atob(header.slice(6).trim()), (c) => c.charCodeAt(0)),
    );
    const i = text.indexOf(":");
    if (i < 0) return undefined;
    return { name: text.slice(0, i), password: text.slice(i + 1) };
  } catch {
    return undefined;
  }
}

function randomToken(bytes = 24): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** Starts a token server on 127.0.0.1 (a free port). */
export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const service = options.service ?? "ocibox-registry";
  const issuer = options.issuer ?? "ocibox-token-server";
  const users = [...(options.users ?? DEFAULT_USERS)];
  const grants = [...(options.grants ?? DEFAULT_GRANTS)];
  const settings: TokenServerSettings = {
    expiresIn: 300,
    keyHeader: "x5c",
    issueExpired: false,
    oauth: true,
    omitIssuedAt: false,
    ...options.settings,
  };
  const requests: TokenRequestRecord[] = [];
  const refreshTokens = new Map<string, string>();

  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    pemToDer(options.signing.keyPem),
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign"],
  );
  const publicJwk = await crypto.subtle.exportKey("jwk", privateKey);
  const publicKey = await crypto.subtle.importKey(
    "jwk",
    { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y },
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["verify"],
  );
  const kid = await libtrustKeyId(new Uint8Array(await crypto.subtle.exportKey("spki", publicKey)));
  const x5c = [options.signing.derBase64, pemBody(options.signing.ca.certPem)];

  async function sign(user: string, granted: AccessEntry[]): Promise<string> {
    const header: Record<string, unknown> = { typ: "JWT", alg: "ES256" };
    if (settings.keyHeader === "x5c") header.x5c = x5c;
    else if (settings.keyHeader === "kid") header.kid = kid;
    else header.jwk = { kty: "EC", crv: "P-256", x: publicJwk.x, y: publicJwk.y, kid };
    const now = Math.floor(Date.now() / 1000);
    const exp = settings.issueExpired ? now - 3600 : now + settings.expiresIn;
    const claims = {
      iss: issuer,
      sub: user,
      aud: service,
      exp,
      nbf: settings.issueExpired ? now - 7200 : now,
      iat: settings.issueExpired ? now - 7200 : now,
      jti: randomToken(16),
      access: granted,
    };
    const input = `${base64Url(JSON.stringify(header))}.${base64Url(JSON.stringify(claims))}`;
    const sig = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      privateKey,
      encoder.encode(input),
    );
    return `${input}.${base64Url(new Uint8Array(sig))}`;
  }

  async function issue(user: string, scopes: string[]) {
    const granted = grantedAccess(grants, user, scopes);
    return { token: await sign(user, granted), granted };
  }

  function authenticate(name: string, password: string): boolean {
    return users.some((u) => u.name === name && u.password === password);
  }

  function tokenBody(token: string, extra: Record<string, unknown>): Record<string, unknown> {
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: settings.expiresIn,
      ...extra,
    };
    if (!settings.omitIssuedAt) body.issued_at = new Date().toISOString();
    return body;
  }

  function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
    return Response.json(body, { status, headers });
  }

  async function handleGet(req: Request, url: URL, rec: TokenRequestRecord): Promise<Response> {
    rec.service = url.searchParams.get("service") ?? undefined;
    rec.scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
    rec.clientId = url.searchParams.get("client_id") ?? undefined;
    rec.offline = url.searchParams.get("offline_token") === "true";
    const creds = parseBasic(req.headers.get("authorization"));
    if (creds && !authenticate(creds.name, creds.password)) {
      rec.status = 401;
      return json(401, { details: "incorrect username or password" }, {
        "www-authenticate": 'Basic realm="ocibox-token-server"',
      });
    }
    rec.user = creds?.name ?? "";
    if (rec.service !== undefined && rec.service !== service) {
      rec.status = 400;
      return json(400, { details: `unknown service ${rec.service}` });
    }
    const { token, granted } = await issue(rec.user, rec.scopes);
    rec.token = token;
    rec.granted = granted;
    const extra: Record<string, unknown> = {};
    if (rec.offline && rec.user !== "") {
      const refresh = randomToken();
      refreshTokens.set(refresh, rec.user);
      extra.refresh_token = refresh;
    }
    rec.status = 200;
    return json(200, tokenBody(token, extra));
  }

  async function handlePost(req: Request, rec: TokenRequestRecord): Promise<Response> {
    if (!settings.oauth) {
      rec.status = 404;
      return json(404, { details: "OAuth2 not supported here" });
    }
    const form = new URLSearchParams(await req.text());
    rec.grantType = form.get("grant_type") ?? undefined;
    rec.service = form.get("service") ?? undefined;
    rec.clientId = form.get("client_id") ?? undefined;
    rec.scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
    rec.offline = form.get("access_type") === "offline";
    if (!rec.clientId || !rec.service) {
      rec.status = 400;
      return json(400, { error: "invalid_request", details: "client_id and service required" });
    }
    if (rec.service !== service) {
      rec.status = 400;
      return json(400, { error: "invalid_request", details: `unknown service ${rec.service}` });
    }
    let refresh: string | undefined;
    if (rec.grantType === "password") {
      const name = form.get("username") ?? "";
      if (!authenticate(name, form.get("password") ?? "")) {
        rec.status = 401;
        return json(401, { error: "invalid_grant", details: "incorrect username or password" });
      }
      rec.user = name;
      if (rec.offline) {
        refresh = randomToken();
        refreshTokens.set(refresh, name);
      }
    } else if (rec.grantType === "refresh_token") {
      rec.refreshToken = form.get("refresh_token") ?? undefined;
      const user = rec.refreshToken ? refreshTokens.get(rec.refreshToken) : undefined;
      if (user === undefined) {
        rec.status = 401;
        return json(401, { error: "invalid_grant", details: "unknown refresh token" });
      }
      rec.user = user;
      refresh = rec.refreshToken;
    } else {
      rec.status = 400;
      return json(400, { error: "unsupported_grant_type" });
    }
    const { token, granted } = await issue(rec.user, rec.scopes);
    rec.token = token;
    rec.granted = granted;
    rec.status = 200;
    const scope = granted.flatMap((g) => g.actions.map((a) => `${g.type}:${g.name}:${a}`));
    const body = tokenBody(token, { scope: scope.join(" ") });
    delete body.token;
    if (refresh) body.refresh_token = refresh;
    return json(200, body);
  }

  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      ...(options.tls ? { cert: options.tls.certPem, key: options.tls.keyPem } : {}),
    },
    async (req) => {
      const url = new URL(req.url);
      const rec: TokenRequestRecord = {
        method: req.method,
        path: url.pathname + url.search,
        scopes: [],
        offline: false,
        status: 0,
        granted: [],
        time: 0,
      };
      requests.push(rec);
      let res: Response;
      if (url.pathname !== "/token") {
        rec.status = 404;
        res = json(404, { details: "not found" });
      } else if (req.method === "GET") {
        res = await handleGet(req, url, rec);
      } else if (req.method === "POST") {
        res = await handlePost(req, rec);
      } else {
        rec.status = 405;
        res = json(405, { details: "method not allowed" });
      }
      rec.time = Date.now();
      return res;
    },
  );
  const url = `${options.tls ? "https" : "http"}://127.0.0.1:${server.addr.port}`;
  return {
    url,
    realm: `${url}/token`,
    service,
    issuer,
    users,
    grants,
    settings,
    requests,
    refreshTokens,
    issue,
    async stop() {
      await server.shutdown();
    },
  };
}
