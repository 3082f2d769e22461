/**
 * One upstream registry as the pull-through cache sees it: the registry client of
 * lib/registry (its session answers 401 challenges with tokens or Basic credentials from the
 * auth files or the config, retries what failed in passing, bounds every wait, resumes a blob
 * whose connection dropped) reduced to the four questions the cache asks. "Not there" is
 * `undefined`; every other failure is thrown as the error the server should answer with
 * ({@linkcode upstreamFailure}).
 *
 * @example
 * ```ts
 * import { Upstream } from "./upstream.ts";
 * import { upstreamSettings } from "./proxy_settings.ts";
 * const up = new Upstream(upstreamSettings({ name: "ghcr.io", upstream: "https://ghcr.io" }));
 * // const m = await up.getManifest("owner/app", "latest");
 * up.close();
 * ```
 * @module
 */

import {
  AbortedError,
  DigestMismatchError,
  InvalidImageError,
  LimitExceededError,
  NetworkError,
  RegistryError,
  SizeMismatchError,
} from "../../errors.ts";
import type { HttpTransport } from "../../http/types.ts";
import { type FetchedManifest, RepositoryClient } from "../../registry/client.ts";
import { RegistrySession } from "../../registry/session.ts";
import type { UpstreamSettings } from "./proxy_settings.ts";

/** A blob's bytes from upstream, not yet verified (the store checks them as they stream). */
export interface UpstreamBlob {
  readonly size: number;
  readonly body: ReadableStream<Uint8Array>;
}

/** What a manifest HEAD upstream told. */
export interface UpstreamManifestHead {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
}

/** Test seams and tuning for {@linkcode Upstream}. */
export interface UpstreamOptions {
  /** A transport to use instead of the one the settings imply. */
  transport?: HttpTransport;
  /** Environment for credential lookups (default Deno.env). */
  env?: (name: string) => string | undefined;
  /** Attempts per request for connection failures, 5xx and 429 (default 3). */
  attempts?: number;
}

/**
 * Few quick retries: a client is waiting, and when the upstream is down a stored copy should
 * be served soon rather than after the client library's longer patience.
 */
const RETRY = { attempts: 3, baseDelayMs: 100, maxDelayMs: 2000 };

/**
 * The error the server answers with for an upstream failure, as a {@linkcode RegistryError}
 * whose `status` and `registryCode` the router sends (hooks.ts: "the error's registry status"):
 * - the upstream refused us (401, 403): 403 DENIED, since the client cannot fix the proxy's
 *   credentials by authenticating to this server;
 * - the upstream throttles (429): 429 TOOMANYREQUESTS;
 * - unreachable, 5xx, wrong bytes, anything else from upstream: 502 (no spec code fits; the
 *   message says what happened).
 * Errors that are not the upstream's (aborts, the store's own) pass through unchanged.
 *
 * @example
 * ```ts
 * import { NetworkError } from "../../errors.ts";
 * upstreamFailure(new NetworkError("connect", "https://x/v2/", "refused"), "x").status; // 502
 * ```
 */
export function upstreamFailure(e: unknown, host: string): unknown {
  const say = (status: number, code: string | undefined, what: string) =>
    new RegistryError(host, status, code, `upstream ${host}: ${what}`, { cause: e });
  if (e instanceof RegistryError) {
    const text = e.message;
    if (e.status === 401 || e.status === 403) return say(403, "DENIED", text);
    if (e.status === 429) return say(429, "TOOMANYREQUESTS", text);
    return say(502, undefined, text);
  }
  if (e instanceof NetworkError) return say(502, undefined, `unreachable: ${e.message}`);
  if (
    e instanceof DigestMismatchError || e instanceof SizeMismatchError ||
    e instanceof InvalidImageError || e instanceof LimitExceededError
  ) {
    return say(502, undefined, `sent bad content: ${e.message}`);
  }
  return e;
}

function isNotFound(e: unknown): boolean {
  return e instanceof RegistryError && e.status === 404;
}

/** One upstream registry (one session, shared by every repository pulled through it). */
export class Upstream {
  readonly settings: UpstreamSettings;
  readonly session: RegistrySession;

  constructor(settings: UpstreamSettings, options: UpstreamOptions = {}) {
    this.settings = settings;
    this.session = new RegistrySession({
      host: settings.sessionHost,
      tls: { verify: settings.tlsVerify, certDir: settings.certDir },
      credentials: settings.credentials,
      authFile: settings.authFile,
      allowHttp: settings.allowHttp,
      timeoutMs: settings.timeoutMs,
      bodyTimeoutMs: settings.timeoutMs,
      retry: { ...RETRY, attempts: options.attempts ?? RETRY.attempts },
      transport: options.transport,
      env: options.env,
    });
  }

  /** `host` for messages (`registry-1.docker.io`, `127.0.0.1:5000`). */
  get host(): string {
    return this.settings.url.host;
  }

  #repository(remote: string): RepositoryClient {
    return new RepositoryClient(this.session, remote);
  }

  async #ask<T>(what: () => Promise<T>): Promise<T | undefined> {
    try {
      return await what();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      if (e instanceof AbortedError) throw e;
      throw upstreamFailure(e, this.host);
    }
  }

  /**
   * A manifest by tag or digest, verified against a digest reference (or the digest the
   * upstream announced); undefined when the upstream has no such manifest.
   */
  getManifest(
    remote: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<FetchedManifest | undefined> {
    return this.#ask(() => this.#repository(remote).getManifest(reference, signal));
  }

  /** What a tag points at upstream (a HEAD; a GET when the HEAD names no digest). */
  headManifest(
    remote: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<UpstreamManifestHead | undefined> {
    return this.#ask(() => this.#repository(remote).headManifest(reference, signal));
  }

  /** A blob's size upstream; undefined when it has none. */
  async blobSize(remote: string, digest: string, signal?: AbortSignal) {
    const st = await this.#ask(() => this.#repository(remote).statBlob(digest, signal));
    if (!st) return undefined;
    if (st.size >= 0) return st.size;
    // Redirected (a CDN): the GET's Content-Length says.
    const blob = await this.openBlob(remote, digest, undefined, signal);
    await blob?.body.cancel().catch(() => {});
    return blob?.size;
  }

  /**
   * A blob's bytes. With `size` known (from a manifest) the download resumes with Range
   * requests when the connection drops; otherwise the size comes from a HEAD, or failing that
   * from the GET's Content-Length.
   */
  async openBlob(
    remote: string,
    digest: string,
    size: number | undefined,
    signal?: AbortSignal,
  ): Promise<UpstreamBlob | undefined> {
    const repo = this.#repository(remote);
    let known = size;
    if (known === undefined) {
      const st = await this.#ask(() => repo.statBlob(digest, signal));
      if (!st) return undefined;
      if (st.size >= 0) known = st.size;
    }
    if (known !== undefined) {
      const bytes = known;
      const body = await this.#ask(() => repo.getBlob({ digest, size: bytes }, signal));
      return body && { size: bytes, body };
    }
    return await this.#ask(async () => {
      const path = `/v2/${remote}/blobs/${digest}`;
      const res = await this.session.get(path, { scope: repo.scope(), signal });
      await this.session.expect(res, [200], "GET", path);
      const length = res.headers.get("content-length");
      if (length === null || !/^\d+$/.test(length)) {
        await res.body?.cancel().catch(() => {});
        throw new RegistryError(
          this.host,
          502,
          undefined,
          `GET ${path} gave no Content-Length`,
        );
      }
      return { size: Number(length), body: res.body ?? new Blob([]).stream() };
    });
  }

  /** Releases the upstream's connections. */
  close(): void {
    this.session.close();
  }
}
