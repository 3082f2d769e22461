/**
 * The pull-through cache's settings, checked: `serve --proxy NAME=UPSTREAM` (repeatable),
 * `--proxy-tag-ttl D`, `--proxy-authfile F`, and the config file's `proxy` list; and the rule
 * that maps a repository of this server to an upstream and the repository there.
 *
 * Config file entries (every key but `name` and `upstream` optional):
 *
 * ```json
 * { "proxy": [{
 *   "name": "docker.io", "upstream": "https://registry-1.docker.io",
 *   "tagTtl": "5m", "username": "me", "password": "secret", "authFile": "/etc/ocibox/auth.json",
 *   "tlsVerify": true, "certDir": "/etc/ocibox/certs.d/ghcr.io", "timeout": "20s"
 * }] }
 * ```
 *
 * Pure: nothing here reads files or the network.
 *
 * @example
 * ```ts
 * import { parseProxyFlag, routeRepository } from "./proxy_settings.ts";
 * const hub = parseProxyFlag("docker.io=https://registry-1.docker.io");
 * routeRepository([hub], "docker.io/busybox")?.remote; // "library/busybox"
 * ```
 * @module
 */

import { UsageError } from "../../errors.ts";
import { checkRepositoryName } from "../../distribution/names.ts";
import {
  DEFAULT_DOMAIN,
  DOCKER_HUB_API_HOST,
  LEGACY_DEFAULT_DOMAIN,
  OFFICIAL_REPO_PREFIX,
} from "../../image/docker_reference.ts";
import { parseDuration, type ProxySettings } from "../config.ts";

/** How long a cached tag is served before it is checked upstream again (5 minutes). */
export const DEFAULT_TAG_TTL_MS = 5 * 60_000;

/**
 * How long to wait for an upstream's answer: short enough that a dead upstream still lets a
 * stored copy be served in a reasonable time.
 */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 20_000;

/** One upstream, checked and normalised. */
export interface UpstreamSettings {
  /** Repositories `NAME/...` of this server are proxied. */
  readonly name: string;
  /** The upstream's base URL as given (`https://registry-1.docker.io`), origin only. */
  readonly url: URL;
  /**
   * The host the registry client is opened for: `docker.io` for Docker Hub (so credentials
   * saved by `ocibox login docker.io` apply), the URL's host otherwise.
   */
  readonly sessionHost: string;
  /** Plain http allowed (the URL says http, or `tlsVerify` is false). */
  readonly allowHttp: boolean;
  /** Certificate checks (false: any certificate, and http allowed). */
  readonly tlsVerify: boolean;
  /** skopeo-style certificate directory for the upstream. */
  readonly certDir?: string;
  /** Single names (`busybox`) get `library/` upstream: Docker Hub's official images. */
  readonly officialPrefix: boolean;
  /** How long a cached tag is trusted before it is rechecked upstream (ms). */
  readonly tagTtlMs: number;
  /** Longest wait for an upstream's answer (ms). */
  readonly timeoutMs: number;
  /** Credentials for the upstream; without them the auth files are searched. */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** The auth file to search first (like `--authfile`). */
  readonly authFile?: string;
}

/** Where a repository of this server is fetched from. */
export interface UpstreamRoute {
  readonly upstream: UpstreamSettings;
  /** The repository's name upstream (`library/busybox` for `docker.io/busybox`). */
  readonly remote: string;
}

function isDockerHub(host: string): boolean {
  return host === DOCKER_HUB_API_HOST || host === DEFAULT_DOMAIN ||
    host === LEGACY_DEFAULT_DOMAIN;
}

function where(index: number | undefined): string {
  return index === undefined ? "--proxy" : `config: proxy[${index}]`;
}

/**
 * The upstream URL of `--proxy NAME=UPSTREAM`: `https://host[:port]` or `http://...`; a bare
 * `host[:port]` means https. Only an origin: the registry API lives at `/v2/` of the host.
 *
 * @throws {UsageError} for anything else.
 * @example
 * ```ts
 * parseUpstreamUrl("ghcr.io").href; // "https://ghcr.io/"
 * ```
 */
export function parseUpstreamUrl(text: string, context = "--proxy"): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`${context}: ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(
      `${context}: the upstream must be an http or https URL, not ${url.protocol}`,
    );
  }
  if (
    (url.pathname !== "/" && url.pathname !== "/v2/" && url.pathname !== "/v2") ||
    url.search || url.hash || url.username || url.password
  ) {
    throw new UsageError(
      `${context}: the upstream is a registry's origin (https://host[:port]), without path, ` +
        "query or credentials; give credentials in the auth file or the config file",
    );
  }
  return new URL(`${url.protocol}//${url.host}/`);
}

/** What {@linkcode upstreamSettings} takes: a ProxySettings plus defaults from the flags. */
export interface UpstreamDefaults {
  /** `--proxy-tag-ttl` (ms); default {@linkcode DEFAULT_TAG_TTL_MS}. */
  tagTtlMs?: number;
  /** `--proxy-authfile`. */
  authFile?: string;
}

function optionalString(
  e: ProxySettings,
  key: string,
  context: string,
): string | undefined {
  const v = e[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new UsageError(`${context}.${key} must be a string`);
  return v;
}

function optionalDuration(e: ProxySettings, key: string, context: string): number | undefined {
  const v = e[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v * 1000;
  if (typeof v !== "string") {
    throw new UsageError(`${context}.${key} must be a duration such as "5m"`);
  }
  return parseDuration(v);
}

/**
 * Checks one {@linkcode ProxySettings} (from a flag or the config file) and fills in defaults.
 *
 * @param index the entry's place in the config file's list, for messages (none for flags).
 * @throws {UsageError} naming the entry and the key at fault.
 * @example
 * ```ts
 * upstreamSettings({ name: "ghcr.io", upstream: "https://ghcr.io", tagTtl: "1m" }).tagTtlMs;
 * // 60000
 * ```
 */
export function upstreamSettings(
  entry: ProxySettings,
  defaults: UpstreamDefaults = {},
  index?: number,
): UpstreamSettings {
  const context = where(index);
  const nameProblem = checkRepositoryName(entry.name);
  if (nameProblem) {
    throw new UsageError(
      `${context}: NAME ${JSON.stringify(entry.name)} must be a repository name prefix ` +
        `(such as docker.io or mirror/ghcr.io): ${nameProblem}`,
    );
  }
  const url = parseUpstreamUrl(entry.upstream, context);
  const tlsVerifyValue = entry.tlsVerify;
  if (tlsVerifyValue !== undefined && typeof tlsVerifyValue !== "boolean") {
    throw new UsageError(`${context}.tlsVerify must be true or false`);
  }
  const tlsVerify = tlsVerifyValue ?? true;
  const username = optionalString(entry, "username", context);
  const password = optionalString(entry, "password", context);
  if ((username === undefined) !== (password === undefined)) {
    throw new UsageError(`${context}: username and password go together`);
  }
  const hub = isDockerHub(url.hostname) && (url.port === "" || url.port === "443");
  const officialValue = entry.officialPrefix;
  if (officialValue !== undefined && typeof officialValue !== "boolean") {
    throw new UsageError(`${context}.officialPrefix must be true or false`);
  }
  return {
    name: entry.name,
    url,
    sessionHost: hub ? DEFAULT_DOMAIN : url.host,
    allowHttp: url.protocol === "http:" || !tlsVerify,
    tlsVerify,
    certDir: optionalString(entry, "certDir", context),
    officialPrefix: officialValue ?? (hub || entry.name === DEFAULT_DOMAIN),
    tagTtlMs: optionalDuration(entry, "tagTtl", context) ?? defaults.tagTtlMs ??
      DEFAULT_TAG_TTL_MS,
    timeoutMs: optionalDuration(entry, "timeout", context) || DEFAULT_UPSTREAM_TIMEOUT_MS,
    credentials: username !== undefined && password !== undefined
      ? { username, password }
      : undefined,
    authFile: optionalString(entry, "authFile", context) ?? defaults.authFile,
  };
}

/**
 * One `--proxy NAME=UPSTREAM` as {@linkcode ProxySettings}.
 *
 * @throws {UsageError} when there is no `=`, or either side is empty.
 * @example
 * ```ts
 * parseProxyFlag("ghcr.io=https://ghcr.io"); // { name: "ghcr.io", upstream: "https://ghcr.io" }
 * ```
 */
export function parseProxyFlag(value: string): ProxySettings {
  const eq = value.indexOf("=");
  const name = eq < 0 ? "" : value.slice(0, eq).trim();
  const upstream = eq < 0 ? "" : value.slice(eq + 1).trim();
  if (!name || !upstream) {
    throw new UsageError(
      `--proxy ${
        JSON.stringify(value)
      }: use NAME=UPSTREAM, e.g. docker.io=https://registry-1.docker.io`,
    );
  }
  return { name, upstream };
}

/**
 * Checks a list of proxy entries: each valid, and no NAME given twice (the longest matching
 * NAME wins, so nested names such as `a` and `a/b` may both be given).
 *
 * @throws {UsageError}
 * @example
 * ```ts
 * checkUpstreams([{ name: "a", upstream: "https://a.example" }]).length; // 1
 * ```
 */
export function checkUpstreams(
  entries: readonly ProxySettings[],
  defaults: UpstreamDefaults = {},
  fromFile = false,
): UpstreamSettings[] {
  const seen = new Set<string>();
  return entries.map((e, i) => {
    const s = upstreamSettings(e, defaults, fromFile ? i : undefined);
    if (seen.has(s.name)) {
      throw new UsageError(`${where(fromFile ? i : undefined)}: NAME ${s.name} is given twice`);
    }
    seen.add(s.name);
    return s;
  });
}

/**
 * The upstream `repository` is pulled from, and its name there: the longest NAME that is a
 * whole-component prefix of `repository` wins; the rest is the upstream repository, with
 * `library/` put in front of a single name for Docker Hub. A repository that is NAME itself
 * is not proxied (there is nothing to ask upstream for).
 *
 * @example
 * ```ts
 * const hub = { name: "docker.io", officialPrefix: true } as UpstreamSettings;
 * routeRepository([hub], "docker.io/alpine")?.remote; // "library/alpine"
 * routeRepository([hub], "docker.io/bitnami/redis")?.remote; // "bitnami/redis"
 * routeRepository([hub], "mine/app"); // undefined
 * ```
 */
export function routeRepository(
  upstreams: readonly UpstreamSettings[],
  repository: string,
): UpstreamRoute | undefined {
  let best: UpstreamSettings | undefined;
  for (const u of upstreams) {
    if (!repository.startsWith(`${u.name}/`)) continue;
    if (!best || u.name.length > best.name.length) best = u;
  }
  if (!best) return undefined;
  const rest = repository.slice(best.name.length + 1);
  const remote = best.officialPrefix && !rest.includes("/")
    ? `${OFFICIAL_REPO_PREFIX}${rest}`
    : rest;
  return { upstream: best, remote };
}
