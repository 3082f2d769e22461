/**
 * An authenticated conversation with one registry host: finds the scheme (`GET /v2/` over
 * https, falling back to http for insecure and loopback hosts), answers 401 challenges (Bearer
 * tokens from the token server, cached per scope until they expire or are refused; or Basic),
 * retries what failed in passing, bounds the wait for each answer, and never sends the
 * registry's credentials to another host. The protocol (manifests, blobs, uploads) lives in
 * client.ts on top of {@linkcode RegistrySession.request}.
 *
 * @example
 * ```ts
 * import { RegistrySession } from "./session.ts";
 * const s = new RegistrySession({ host: "localhost:5000" });
 * const res = await s.get("/v2/library/busybox/manifests/latest", {
 *   headers: { Accept: "application/vnd.oci.image.index.v1+json" },
 *   scope: "repository:library/busybox:pull",
 * });
 * await s.expect(res, [200], "GET", "/v2/library/busybox/manifests/latest");
 * s.close();
 * ```
 * @module
 */
import { AbortedError, NetworkError, RegistryError } from "../errors.ts";
import { apiHost } from "../image/docker_reference.ts";
import { type Challenge, parseChallenges, pickChallenge } from "./auth/challenge.ts";
import { type Credentials, lookupCredentials } from "./auth/credentials.ts";
import {
  basicHeader,
  type BearerToken,
  parseTokenResponse,
  tokenGetRequest,
  tokenPostRequest,
} from "./auth/token.ts";
import { defaultCertDir } from "../http/cert_dir.ts";
import { Deadline } from "../http/deadline.ts";
import { defaultTransport } from "../http/default_transport.ts";
import { DEFAULT_RETRY, withRetry } from "../http/retry.ts";
import type {
  HttpRequest,
  HttpResponse,
  HttpTransport,
  RetryOptions,
  TlsOptions,
} from "../http/types.ts";
import { registryErrorFrom } from "./response_error.ts";
import { quote } from "../report/safe_text.ts";

/** How to reach one registry. */
export interface RegistrySessionOptions {
  /** Registry host as in references: `localhost:5000`, `docker.io` (sent to its API host). */
  host: string;
  /** Certificate checks and trust; `verify: false` also allows plain http. */
  tls?: TlsOptions;
  /** Credentials to use; when absent they are looked up in the auth files on first need. */
  credentials?: Credentials;
  /** `--authfile` for the lookup. */
  authFile?: string;
  /** Repository path for namespace-specific credentials (`library/busybox`). */
  repository?: string;
  /** Retry policy for connection failures, 5xx and 429. */
  retry?: RetryOptions;
  /** Longest wait for a response's headers, in ms (default 60 s; see {@linkcode request}). */
  timeoutMs?: number;
  /**
   * Longest wait for the next bytes of a response body, in ms (default: `OCIBOX_BODY_TIMEOUT_MS`
   * from `env`, else 60 s; see {@linkcode request}).
   */
  bodyTimeoutMs?: number;
  /** User-Agent header (default `ocibox/VERSION`). */
  userAgent?: string;
  /** Try http when https cannot connect (default: only for loopback hosts or verify=false). */
  allowHttp?: boolean;
  /** A transport to use instead of the one `tls` implies (it is closed with the session). */
  transport?: HttpTransport;
  /** Environment for credential lookups (default Deno.env). */
  env?: (name: string) => string | undefined;
  /** Clock for token lifetimes, ms since the epoch (default Date.now). */
  now?: () => number;
}

/** Per-request choices. */
export interface SessionRequestOptions {
  headers?: HeadersInit;
  /** Bytes can be sent again (after a retry or a 401); a stream only once. */
  body?: Uint8Array | ReadableStream<Uint8Array>;
  /** Token scope(s), space-separated: `repository:library/busybox:pull,push`. */
  scope?: string;
  signal?: AbortSignal;
  /** Retry connection failures, 5xx and 429 (default true; never for stream bodies). */
  retry?: boolean;
}

/** What `GET /v2/` told. */
export interface PingResult {
  /** `https://host/` or `http://host/`. */
  base: URL;
  /** 200 (no authentication needed) or 401. */
  status: number;
  /** The challenges of a 401. */
  challenges: Challenge[];
}

/** The version in the default User-Agent. */
const VERSION = "0.1.0";
const DEFAULT_TIMEOUT_MS = 60_000;
/**
 * A body that sends nothing for this long is taken for a dropped connection; the same bound as
 * the wait for headers. A slow registry or CDN still sends something every few seconds, while
 * one that stalled mid-blob would otherwise be waited on for ever.
 */
const DEFAULT_BODY_TIMEOUT_MS = 60_000;
/** Sets the body timeout in ms (tests make it short; a slow link may want it longer). */
const BODY_TIMEOUT_ENV = "OCIBOX_BODY_TIMEOUT_MS";
// A body in bytes extends the wait for headers as if sent at no less than this many bytes/ms.
const SLOWEST_UPLOAD_BYTES_PER_MS = 64;
const TOKEN_BODY_LIMIT = 1 << 20;
const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** True for names that reach this machine only (`localhost:5000`, `127.0.0.1`, `[::1]:5000`). */
export function isLoopbackHost(host: string): boolean {
  let name = host;
  if (name.startsWith("[")) name = name.slice(1, name.indexOf("]"));
  else if (name.split(":").length === 2) name = name.slice(0, name.indexOf(":"));
  name = name.toLowerCase();
  return name === "localhost" || name.endsWith(".localhost") || name === "::1" ||
    /^127\.\d+\.\d+\.\d+$/.test(name);
}

function normalizeScope(scope: string | undefined): string {
  if (!scope) return "";
  return [...new Set(scope.split(/\s+/).filter(Boolean))].join(" ");
}

function union(scope: string, extra: string | undefined): string[] {
  const all = [...scope.split(" "), ...(extra ?? "").split(/\s+/)].filter(Boolean);
  return [...new Set(all)];
}

/** Counts time only while nothing moves: each chunk pulled from `body` restarts `restart`. */
function touching(
  body: ReadableStream<Uint8Array>,
  restart: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      restart();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * `body`, failing with a timeout {@linkcode NetworkError} when a read waits more than `ms` for
 * the next bytes: then the connection is closed and the failure is the one a dropped
 * connection gives, so a blob download resumes with a Range request. Only reads the consumer
 * asked for are timed: a consumer that is slow to ask is not the server's fault.
 */
function idleBounded(
  body: ReadableStream<Uint8Array>,
  ms: number,
  url: URL,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  // One Deadline for the whole body, moved on at each read: AbortSignal.timeout timers cannot
  // be cancelled, so one per read would pile up on a large blob.
  let deadline: Deadline | undefined;
  let stalled: (() => void) | undefined;
  const stop = () => {
    deadline?.clear();
    deadline = undefined;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!deadline || deadline.signal.aborted) {
        deadline?.clear();
        deadline = new Deadline(ms);
        deadline.signal.addEventListener("abort", () => stalled?.(), { once: true });
      } else deadline.extend(ms);
      const timeout = new Promise<never>((_, reject) => {
        stalled = () =>
          reject(
            new NetworkError("timeout", url.href, `no data for ${ms / 1000} s in the body`),
          );
      });
      try {
        const { done, value } = await Promise.race([reader.read(), timeout]);
        if (done) {
          stop();
          controller.close();
        } else controller.enqueue(value);
      } catch (e) {
        stop();
        // Closes the connection (and ends the read still waiting on it).
        reader.cancel(e).catch(() => {});
        controller.error(e);
      } finally {
        stalled = undefined;
      }
    },
    cancel(reason) {
      stop();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** The body timeout `env` asks for, if it names a positive number of ms. */
function bodyTimeoutFromEnv(env: (name: string) => string | undefined): number | undefined {
  let text: string | undefined;
  try {
    text = env(BODY_TIMEOUT_ENV);
  } catch {
    return undefined; // no permission to read the environment
  }
  const ms = Number(text);
  return text && Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** A session with one registry host. */
export class RegistrySession {
  /** The host as given (`docker.io`, `localhost:5000`): for messages and credentials. */
  readonly host: string;
  /** Where requests go (`registry-1.docker.io` for `docker.io`). */
  readonly apiHost: string;
  readonly #options: RegistrySessionOptions;
  readonly #transport: HttpTransport;
  readonly #retry: Required<RetryOptions>;
  readonly #timeoutMs: number;
  readonly #bodyTimeoutMs: number;
  readonly #userAgent: string;
  readonly #allowHttp: boolean;
  readonly #now: () => number;
  #base?: URL;
  #ping?: Promise<PingResult>;
  /** The challenge requests must answer (undefined: none seen yet, or none needed). */
  #challenge?: Challenge;
  #credentials?: Promise<Credentials | undefined>;
  readonly #tokens = new Map<string, BearerToken>();
  readonly #pendingTokens = new Map<string, Promise<BearerToken>>();
  /** A refresh token the server gave in exchange for the password (offline_token). */
  #refreshToken?: string;
  /** The token server refused the OAuth2 POST: use GET from now on. */
  #noPost = false;

  constructor(options: RegistrySessionOptions) {
    this.#options = options;
    this.host = options.host;
    this.apiHost = apiHost(options.host);
    const tls = options.tls ?? {};
    const certDir = tls.certDir ?? defaultCertDir(options.host, options.env);
    this.#transport = options.transport ?? defaultTransport({ ...tls, certDir }, options.env);
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#bodyTimeoutMs = options.bodyTimeoutMs ??
      bodyTimeoutFromEnv(options.env ?? ((n) => Deno.env.get(n))) ?? DEFAULT_BODY_TIMEOUT_MS;
    this.#userAgent = options.userAgent ?? `ocibox/${VERSION}`;
    this.#allowHttp = options.allowHttp ?? (tls.verify === false || isLoopbackHost(this.apiHost));
    this.#now = options.now ?? Date.now;
  }

  /**
   * `https://host/` or `http://host/`, known after {@linkcode ping} (which every request runs
   * first).
   *
   * @throws {Error} before the first successful ping.
   */
  get base(): URL {
    if (!this.#base) throw new Error(`registry ${this.host}: base URL read before ping()`);
    return new URL(this.#base);
  }

  /**
   * `GET /v2/` once per session: picks the scheme and learns the challenge. A failure is not
   * remembered, so a later call tries again.
   *
   * @throws {NetworkError} when no scheme connects; {@linkcode RegistryError} when the answer is
   * neither 200 nor 401.
   */
  ping(signal?: AbortSignal): Promise<PingResult> {
    this.#ping ??= this.#doPing(signal).catch((e) => {
      this.#ping = undefined;
      throw e;
    });
    return this.#ping;
  }

  async #doPing(signal?: AbortSignal): Promise<PingResult> {
    // A loopback registry is asked over http first: it is usually plain http there, and the
    // first https attempt costs ~30 ms of TLS set-up. Elsewhere https comes first.
    const loopbackFirst = this.#allowHttp && this.#options.tls?.verify !== false &&
      isLoopbackHost(this.apiHost);
    const schemes = !this.#allowHttp
      ? ["https"]
      : loopbackFirst
      ? ["http", "https"]
      : ["https", "http"];
    const failures: NetworkError[] = [];
    // A non-registry answer (an HTTPS server answering http with 400, say), kept for the error.
    let stray: { url: URL; res: HttpResponse } | undefined;
    for (const scheme of schemes) {
      const url = new URL(`${scheme}://${this.apiHost}/v2/`);
      const headers = this.#headers(undefined, undefined);
      let res: HttpResponse;
      try {
        // With a fallback waiting, a failed connection is an answer, not a hiccup.
        const attempts = schemes.length > 1 ? 1 : this.#retry.attempts;
        res = await this.#send({ method: "GET", url, headers }, signal, attempts);
      } catch (e) {
        if (e instanceof NetworkError) {
          failures.push(e);
          continue;
        }
        throw e;
      }
      if (res.status !== 200 && res.status !== 401) {
        if (stray) await res.body?.cancel().catch(() => {});
        else stray = { url, res };
        continue;
      }
      if (stray) await stray.res.body?.cancel().catch(() => {});
      await res.body?.cancel().catch(() => {});
      const challenges = parseChallenges(res.headers.get("www-authenticate"));
      this.#base = new URL(`${scheme}://${this.apiHost}/`);
      this.#challenge = res.status === 401 ? pickChallenge(challenges) : undefined;
      return { base: this.base, status: res.status, challenges };
    }
    if (stray) {
      // A certificate failure is the real problem when the other scheme answered oddly (an
      // HTTPS server answering plain http with 400).
      const tls = failures.find((f) => f.kind === "tls");
      if (tls) {
        await stray.res.body?.cancel().catch(() => {});
        throw tls;
      }
      throw await registryErrorFrom(
        this.host,
        "GET",
        stray.url.pathname,
        stray.res,
        "is it a registry?",
      );
    }
    // https's reason first: a certificate problem is what the user can act on.
    failures.sort((a, b) =>
      Number(b.url.startsWith("https:")) - Number(a.url.startsWith("https:"))
    );
    const first = failures[0];
    if (failures.length === 1) throw first;
    const reasons = failures.map((f) =>
      `${f.url.slice(0, f.url.indexOf(":"))}: ${f.message.slice(f.url.length + 2)}`
    );
    throw new NetworkError(
      failures[failures.length - 1].kind,
      first.url,
      `no answer (${reasons.join("; ")})`,
      { cause: first },
    );
  }

  /**
   * Sends one request to the registry and returns the answer whatever its status (the caller
   * judges it, e.g. with {@linkcode expect}). `pathOrUrl` is a path on the registry
   * (`/v2/...`) or an absolute URL (an upload location); Authorization is only ever added for
   * the registry's own host. A 401 is answered once (new token, or Basic credentials) when the
   * body can be sent again; connection failures, 5xx and 429 are retried likewise. Redirects
   * are returned, not followed (see {@linkcode followRedirects}).
   *
   * The wait for the response's headers is bounded by `timeoutMs`, plus the time a byte body
   * takes at 64 KB/s; a stream body restarts the clock with every chunk it yields. Each read
   * of the response body waits at most `bodyTimeoutMs` for bytes, then fails as a timed-out
   * {@linkcode NetworkError}.
   *
   * @throws {RegistryError} `unauthorized: wrong username or password for HOST` when the
   * registry or its token server refuses the credentials; other token server failures.
   * @throws {NetworkError} when retries did not help; {@linkcode AbortedError} on abort.
   */
  async request(
    method: string,
    pathOrUrl: string | URL,
    options: SessionRequestOptions = {},
  ): Promise<HttpResponse> {
    await this.ping(options.signal);
    const url = new URL(pathOrUrl, this.#base);
    const own = url.host === this.#base!.host;
    const scope = normalizeScope(options.scope);
    const replayable = !(options.body instanceof ReadableStream);
    const attempts = replayable && options.retry !== false ? this.#retry.attempts : 1;
    const sent = own ? await this.#authorization(scope, options.signal) : undefined;
    const res = await this.#send(
      { method, url, headers: this.#headers(options.headers, sent), body: options.body },
      options.signal,
      attempts,
    );
    if (res.status !== 401 || !own) return res;
    const next = await this.#answer(res, scope, sent, options.signal);
    if (next === undefined || !replayable) return res;
    await res.body?.cancel().catch(() => {});
    const again = await this.#send(
      { method, url, headers: this.#headers(options.headers, next), body: options.body },
      options.signal,
      attempts,
    );
    if (again.status === 401 && next.startsWith("Basic ")) {
      await again.body?.cancel().catch(() => {});
      throw this.#wrongCredentials();
    }
    return again;
  }

  /**
   * Follows the redirects of `response` to a GET or HEAD (at most 10): on the registry's host
   * through {@linkcode request} (with its Authorization), elsewhere without any Authorization
   * but with the caller's other headers (Range, Accept). Other methods' responses come back
   * unchanged.
   */
  async followRedirects(
    response: HttpResponse,
    method: string,
    options: SessionRequestOptions = {},
  ): Promise<HttpResponse> {
    let res = response;
    for (let hops = 0; REDIRECTS.has(res.status); hops++) {
      const location = res.headers.get("location");
      if (!location || (method !== "GET" && method !== "HEAD")) return res;
      if (hops >= MAX_REDIRECTS) {
        await res.body?.cancel().catch(() => {});
        throw new RegistryError(
          this.host,
          res.status,
          undefined,
          `registry ${this.host}: ${method} ${res.url.pathname}: more than ${MAX_REDIRECTS} redirects`,
        );
      }
      await res.body?.cancel().catch(() => {});
      let next: URL;
      try {
        next = new URL(location, res.url);
      } catch {
        // The parser's own message would repeat the raw header.
        throw new RegistryError(
          this.host,
          res.status,
          undefined,
          `registry ${this.host}: ${method} ${res.url.pathname}: redirect to an invalid URL ${
            quote(location)
          }`,
        );
      }
      if (next.protocol !== "https:" && next.protocol !== "http:") {
        throw new RegistryError(
          this.host,
          res.status,
          undefined,
          `registry ${this.host}: ${method} ${res.url.pathname}: redirect to ${next.protocol} URL`,
        );
      }
      if (next.host === this.#base?.host) {
        res = await this.request(method, next, { ...options, body: undefined });
      } else {
        const headers = this.#headers(options.headers, undefined);
        headers.delete("authorization");
        res = await this.#send(
          { method, url: next, headers },
          options.signal,
          this.#retry.attempts,
        );
      }
    }
    return res;
  }

  /** GET through redirects: {@linkcode request} then {@linkcode followRedirects}. */
  async get(pathOrUrl: string | URL, options: SessionRequestOptions = {}): Promise<HttpResponse> {
    const res = await this.request("GET", pathOrUrl, options);
    return this.followRedirects(res, "GET", options);
  }

  /**
   * Returns when `response.status` is one of `statuses`; otherwise consumes the body and
   * throws the registry's error as one line (with a login hint for 401/403 without
   * credentials).
   *
   * @throws {RegistryError}
   */
  async expect(
    response: HttpResponse,
    statuses: readonly number[],
    method: string,
    where: string | URL,
  ): Promise<void> {
    if (statuses.includes(response.status)) return;
    throw await this.errorFor(response, method, where);
  }

  /** The one-line {@linkcode RegistryError} for an unexpected response (consumes its body). */
  async errorFor(
    response: HttpResponse,
    method: string,
    where: string | URL,
  ): Promise<RegistryError> {
    let place: string;
    if (typeof where === "string") place = where;
    else {place = where.host === this.#base?.host
        ? where.pathname
        : `${where.origin}${where.pathname}`;}
    let hint: string | undefined;
    if (response.status === 401 || response.status === 403) {
      const creds = await this.#lookup().catch(() => undefined);
      if (!creds) hint = `not logged in; try ocibox login ${this.host}`;
    }
    return registryErrorFrom(this.host, method, place, response, hint);
  }

  /**
   * Checks that the session's credentials are accepted (what `login` does before saving them):
   * `GET /v2/` with authentication. A registry that asks for none accepts anything.
   *
   * @throws {RegistryError} `unauthorized: wrong username or password for HOST`, or the
   * registry's error.
   */
  async verifyCredentials(signal?: AbortSignal): Promise<void> {
    const res = await this.request("GET", "/v2/", { signal });
    if (res.status === 200) {
      await res.body?.cancel().catch(() => {});
      return;
    }
    if (res.status === 401 && await this.#lookup()) {
      await res.body?.cancel().catch(() => {});
      throw this.#wrongCredentials();
    }
    throw await this.errorFor(res, "GET", "/v2/");
  }

  /** Releases the transport's connections. */
  close(): void {
    this.#transport.close();
  }

  #headers(init: HeadersInit | undefined, authorization: string | undefined): Headers {
    const headers = new Headers(init);
    if (!headers.has("user-agent")) headers.set("user-agent", this.#userAgent);
    if (authorization) headers.set("authorization", authorization);
    return headers;
  }

  #lookup(): Promise<Credentials | undefined> {
    this.#credentials ??= this.#options.credentials
      ? Promise.resolve(this.#options.credentials)
      : lookupCredentials(this.host, {
        authFile: this.#options.authFile,
        repository: this.#options.repository,
        env: this.#options.env,
      });
    return this.#credentials;
  }

  #wrongCredentials(identityToken = false): RegistryError {
    return new RegistryError(
      this.host,
      401,
      "UNAUTHORIZED",
      identityToken
        ? `unauthorized: the identity token for ${this.host} was refused; log in again`
        : `unauthorized: wrong username or password for ${this.host}`,
    );
  }

  /** The Authorization to send before any 401, from what the last challenge asked for. */
  async #authorization(scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const challenge = this.#challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === "basic") {
      const creds = await this.#lookup();
      return creds && "password" in creds ? basicHeader(creds.username, creds.password) : undefined;
    }
    const cached = this.#tokens.get(scope);
    if (cached && cached.expiresAt > this.#now()) return `Bearer ${cached.token}`;
    return `Bearer ${(await this.#token(scope, challenge, undefined, signal)).token}`;
  }

  /** The Authorization to try after a 401 (undefined: nothing better to offer). */
  async #answer(
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
      const creds = await this.#lookup();
      if (!creds || !("password" in creds)) return undefined;
      const header = basicHeader(creds.username, creds.password);
      if (header === sent) {
        await res.body?.cancel().catch(() => {});
        throw this.#wrongCredentials();
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
    const realmText = challenge.params.realm;
    let realm: URL;
    try {
      if (!realmText) throw new Error("missing");
      realm = new URL(realmText, this.#base);
      if (realm.protocol !== "https:" && realm.protocol !== "http:") throw new Error("scheme");
    } catch {
      throw new RegistryError(
        this.host,
        401,
        "UNAUTHORIZED",
        `registry ${this.host}: the Bearer challenge has no usable realm (${
          quote(realmText ?? "")
        })`,
      );
    }
    const creds = await this.#lookup();
    if (
      creds && realm.protocol === "http:" && !this.#allowHttp && !isLoopbackHost(realm.host) &&
      this.#base?.protocol !== "http:"
    ) {
      throw new RegistryError(
        this.host,
        401,
        "UNAUTHORIZED",
        `registry ${this.host}: refusing to send credentials to ${realm.origin} over plain http`,
      );
    }
    const params = { service: challenge.params.service, scopes };
    const identityToken = creds && "identityToken" in creds ? creds.identityToken : undefined;
    const refresh = identityToken ?? this.#refreshToken;
    if (refresh && !this.#noPost) {
      const req = tokenPostRequest(realm, params, refresh);
      const res = await this.#send(
        {
          method: "POST",
          url: req.url,
          headers: this.#headers(req.headers, undefined),
          body: req.body,
        },
        signal,
        this.#retry.attempts,
      );
      if (res.status === 200) return this.#readToken(res, realm);
      // auth-oauth.md: servers without OAuth2 answer the POST with 404; fall back to GET.
      const unsupported = res.status === 404 || res.status === 405;
      if (!unsupported && identityToken) {
        if (res.status === 401 || res.status === 400) {
          await res.body?.cancel().catch(() => {});
          throw this.#wrongCredentials(true);
        }
        throw await registryErrorFrom(this.host, "POST", realm.href, res, "getting a token");
      }
      await res.body?.cancel().catch(() => {});
      if (unsupported) this.#noPost = true;
      // A refresh token we got in exchange for the password may be stale: forget it.
      this.#refreshToken = undefined;
    }
    const basic = creds && "password" in creds ? creds : undefined;
    const req = tokenGetRequest(realm, params, basic);
    const res = await this.#send(
      { method: "GET", url: req.url, headers: this.#headers(req.headers, undefined) },
      signal,
      this.#retry.attempts,
    );
    if (res.status === 200) return this.#readToken(res, realm);
    if (res.status === 401 || res.status === 403) {
      if (basic) {
        await res.body?.cancel().catch(() => {});
        throw this.#wrongCredentials();
      }
      throw await registryErrorFrom(
        this.host,
        "GET",
        `${realm.origin}${realm.pathname}`,
        res,
        `the token server wants credentials; try ocibox login ${this.host}`,
      );
    }
    throw await registryErrorFrom(
      this.host,
      "GET",
      `${realm.origin}${realm.pathname}`,
      res,
      "getting a token",
    );
  }

  async #readToken(res: HttpResponse, realm: URL): Promise<BearerToken> {
    const parts: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      for await (const chunk of res.body) {
        size += chunk.length;
        if (size > TOKEN_BODY_LIMIT) {
          throw new RegistryError(
            this.host,
            res.status,
            undefined,
            `registry ${this.host}: token server ${realm.origin} answered more than 1 MiB`,
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
    const token = parseTokenResponse(body, this.#now(), `${realm.origin}${realm.pathname}`);
    if (token.refreshToken) this.#refreshToken = token.refreshToken;
    return token;
  }

  /** Sends through the transport with retries (`attempts`) and the per-request time bound. */
  #send(request: HttpRequest, signal: AbortSignal | undefined, attempts: number) {
    return withRetry(
      () => this.#sendOnce(request, signal),
      { ...this.#retry, attempts },
      signal,
    );
  }

  async #sendOnce(request: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
    if (signal?.aborted) throw new AbortedError();
    const extra = request.body instanceof Uint8Array
      ? request.body.length / SLOWEST_UPLOAD_BYTES_PER_MS
      : 0;
    const deadline = new Deadline(this.#timeoutMs + extra);
    // Once the headers are in, the body may still be read; it must not re-arm the clock.
    let waiting = true;
    const restart = () => {
      if (waiting) deadline.extend(this.#timeoutMs);
    };
    const body = request.body instanceof ReadableStream
      ? touching(request.body, restart)
      : request.body;
    const combined = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
    try {
      const res = await this.#transport.send({ ...request, body }, combined);
      if (!res.body) return res;
      return { ...res, body: idleBounded(res.body, this.#bodyTimeoutMs, request.url) };
    } catch (e) {
      if (deadline.signal.aborted && !signal?.aborted) {
        throw new NetworkError(
          "timeout",
          request.url.href,
          `no response within ${Math.round(this.#timeoutMs / 1000)} s`,
          { cause: e },
        );
      }
      throw e;
    } finally {
      waiting = false;
      deadline.clear();
    }
  }
}
