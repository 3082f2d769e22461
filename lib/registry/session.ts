/**
 * A conversation with one registry host: finds the scheme (`GET /v2/` over https, falling back
 * to http for insecure and loopback hosts), retries what failed in passing, bounds the wait for
 * each answer and each body, follows redirects, and never sends the registry's credentials to
 * another host. What a request carries and what a 401 is answered with (Bearer tokens, Basic
 * credentials) is auth/authenticator.ts' job. The protocol (manifests, blobs, uploads) lives in
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
import { Authenticator, isLoopbackHost, normalizeScope } from "./auth/authenticator.ts";
import { type Challenge, parseChallenges, pickChallenge } from "./auth/challenge.ts";
import type { Credentials } from "./auth/credentials.ts";
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
const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export { isLoopbackHost };

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
  #base?: URL;
  #ping?: Promise<PingResult>;
  readonly #auth: Authenticator;

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
    this.#auth = new Authenticator({
      host: options.host,
      credentials: options.credentials,
      authFile: options.authFile,
      repository: options.repository,
      env: options.env,
      allowHttp: this.#allowHttp,
      base: () => this.#base,
      send: (request, signal) =>
        this.#send(
          { ...request, headers: this.#headers(request.headers, undefined) },
          signal,
          this.#retry.attempts,
        ),
      now: options.now,
    });
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
      this.#auth.learn(res.status === 401 ? pickChallenge(challenges) : undefined);
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
    const sent = own ? await this.#auth.authorization(scope, options.signal) : undefined;
    const res = await this.#send(
      { method, url, headers: this.#headers(options.headers, sent), body: options.body },
      options.signal,
      attempts,
    );
    if (res.status !== 401 || !own) return res;
    const next = await this.#auth.answer(res, scope, sent, options.signal);
    if (next === undefined || !replayable) return res;
    await res.body?.cancel().catch(() => {});
    const again = await this.#send(
      { method, url, headers: this.#headers(options.headers, next), body: options.body },
      options.signal,
      attempts,
    );
    if (again.status === 401 && next.startsWith("Basic ")) {
      await again.body?.cancel().catch(() => {});
      throw this.#auth.wrongCredentials();
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
      const creds = await this.#auth.credentials().catch(() => undefined);
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
    if (res.status === 401 && await this.#auth.credentials()) {
      await res.body?.cancel().catch(() => {});
      throw this.#auth.wrongCredentials();
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
