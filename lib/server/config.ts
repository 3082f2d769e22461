/**
 * The registry server's settings: defaults, the JSON config file (`serve --config FILE`), and
 * Go-style durations (`90s`, `1h30m`). Flags given on the command line override the file.
 *
 * Config file (every key optional):
 *
 * ```json
 * {
 *   "root": "/var/lib/ocibox/registry",
 *   "addr": "127.0.0.1:5000",
 *   "tls": { "cert": "server.crt", "key": "server.key" },
 *   "readOnly": false,
 *   "log": { "format": "text" },
 *   "gc": { "interval": "1h", "deleteUntagged": false, "minAge": "1h" },
 *   "uploads": { "expiry": "24h", "chunkMinLength": 0, "maxSessions": 1000 },
 *   "limits": { "manifestBytes": 4194304, "bodyIdleTimeout": "60s", "bodyMinRate": 1024,
 *               "maxRequests": 1024 },
 *   "auth": { "htpasswd": "FILE", "anonymousRead": true },
 *   "proxy": [{ "name": "docker.io", "upstream": "https://registry-1.docker.io" }]
 * }
 * ```
 *
 * `auth` and `proxy` belong to lib/server/auth and lib/server/proxy, which read their own keys.
 *
 * @example
 * ```ts
 * import { parseDuration, serverConfigFromJson } from "./config.ts";
 * parseDuration("1h30m"); // 5400000
 * const c = serverConfigFromJson({ addr: "127.0.0.1:0", gc: { interval: "10m" } }, "/r");
 * console.log(c.gcIntervalMs); // 600000
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";

/** Settings of `serve --htpasswd/--anonymous-read/--token-*` (read by lib/server/auth). */
export interface AuthSettings {
  /** htpasswd file with bcrypt entries. */
  htpasswd?: string;
  /** Pulls need no credentials. */
  anonymousRead?: boolean;
  /** Token issuer settings and access rules; lib/server/auth defines their shape. */
  [key: string]: unknown;
}

/** One `serve --proxy NAME=UPSTREAM` (read by lib/server/proxy). */
export interface ProxySettings {
  /** Repositories under `NAME/` are proxied. */
  name: string;
  /** The upstream registry's URL. */
  upstream: string;
  /** More settings (tag recheck age, credentials ...); lib/server/proxy defines them. */
  [key: string]: unknown;
}

/** Everything `ocibox serve` runs with. */
export interface ServerConfig {
  /** Storage root (see registry_store.ts for the layout). */
  root: string;
  /** `host:port` to listen on; port 0 picks a free one. */
  addr: string;
  /** PEM certificate and key files: serve HTTPS. */
  tls?: { cert: string; key: string };
  /** Refuse every write (pushes, deletes) with 405 UNSUPPORTED. */
  readOnly: boolean;
  /** Access log line format. */
  logFormat: "text" | "json";
  /** Run garbage collection this often (ms); 0 = never. */
  gcIntervalMs: number;
  /** Garbage collection also removes untagged manifests (see gc.ts). */
  gcDeleteUntagged: boolean;
  /**
   * Unreferenced blobs younger than this (ms) are kept by garbage collection: the time a
   * client has between its last blob upload and the manifest PUT that references it (gc.ts).
   */
  gcMinAgeMs: number;
  /** Upload sessions untouched this long (ms) are removed. */
  uploadExpiryMs: number;
  /** Sent as `OCI-Chunk-Min-Length` when above 0. */
  chunkMinLength: number;
  /** Upload sessions open at once; more get 429 TOOMANYREQUESTS. */
  maxUploadSessions: number;
  /** Largest manifest accepted (bytes); larger gets 413. */
  maxManifestBytes: number;
  /** A request body that sends nothing for this long (ms) is abandoned. */
  bodyIdleTimeoutMs: number;
  /**
   * A request body slower than this (bytes per second, over each `bodyIdleTimeoutMs` of
   * waiting for it) is abandoned with 408; 0 = no minimum.
   */
  bodyMinRate: number;
  /** Requests in flight at once; more get 429 TOOMANYREQUESTS. */
  maxRequests: number;
  /** Auth settings, when any (lib/server/auth). */
  auth?: AuthSettings;
  /** Pull-through upstreams (lib/server/proxy). */
  proxy?: ProxySettings[];
  /** The config file as parsed, for keys other modules own. */
  file?: Record<string, unknown>;
}

/** Manifests of at least 4 MiB must be accepted (spec.md); that is the default limit. */
export const DEFAULT_MAX_MANIFEST_BYTES = 4 << 20;

/**
 * The default storage root: /var/lib/ocibox/registry as root, else
 * $XDG_DATA_HOME/ocibox/registry (~/.local/share/ocibox/registry).
 *
 * @example
 * ```ts
 * defaultRoot(); // "/var/lib/ocibox/registry" when run as root
 * ```
 */
export function defaultRoot(): string {
  if (Deno.uid() === 0) return "/var/lib/ocibox/registry";
  const xdg = Deno.env.get("XDG_DATA_HOME") ||
    `${Deno.env.get("HOME") ?? "/tmp"}/.local/share`;
  return `${xdg}/ocibox/registry`;
}

/**
 * A config with every default, for `root`.
 *
 * @example
 * ```ts
 * defaultConfig("/tmp/r").addr; // "127.0.0.1:5000"
 * ```
 */
export function defaultConfig(root: string = defaultRoot()): ServerConfig {
  return {
    root,
    addr: "127.0.0.1:5000",
    readOnly: false,
    logFormat: "text",
    gcIntervalMs: 0,
    gcDeleteUntagged: false,
    gcMinAgeMs: 3600_000, // gc.ts' DEFAULT_GC_MIN_AGE_MS (not imported: it loads the store)
    uploadExpiryMs: 24 * 3600_000,
    chunkMinLength: 0,
    maxUploadSessions: 1000,
    maxManifestBytes: DEFAULT_MAX_MANIFEST_BYTES,
    bodyIdleTimeoutMs: 60_000,
    bodyMinRate: 1024,
    maxRequests: 1024,
  };
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000 };

/**
 * Parses a Go-style duration (`300ms`, `90s`, `10m`, `1h30m`, `0`) into milliseconds.
 *
 * @throws {UsageError} for anything else.
 * @example
 * ```ts
 * parseDuration("2h"); // 7200000
 * ```
 */
export function parseDuration(s: string): number {
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) break;
    total += Number(m[1]) * UNITS[m[2]];
    at = re.lastIndex;
  }
  if (at !== s.length || s.length === 0) {
    throw new UsageError(
      `invalid duration ${JSON.stringify(s)}: use numbers with ms, s, m or h (e.g. 90s, 1h30m)`,
    );
  }
  return Math.round(total);
}

function section(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = obj[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) {
    throw new UsageError(`config: ${key} must be an object`);
  }
  return v as Record<string, unknown>;
}

function str(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new UsageError(`config: ${where}${key} must be a string`);
  return v;
}

function num(obj: Record<string, unknown>, key: string, where: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new UsageError(`config: ${where}${key} must be a non-negative integer`);
  }
  return v;
}

function bool(obj: Record<string, unknown>, key: string, where: string): boolean | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new UsageError(`config: ${where}${key} must be true or false`);
  return v;
}

function duration(obj: Record<string, unknown>, key: string, where: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && v >= 0) return v * 1000;
  if (typeof v !== "string") {
    throw new UsageError(`config: ${where}${key} must be a duration such as "90s"`);
  }
  return parseDuration(v);
}

/**
 * A config from a parsed config file, on top of the defaults for `root` (the file's own
 * `root` wins).
 *
 * @throws {UsageError} for keys of the wrong type.
 * @example
 * ```ts
 * serverConfigFromJson({ readOnly: true }, "/srv/registry").readOnly; // true
 * ```
 */
export function serverConfigFromJson(json: unknown, root?: string): ServerConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new UsageError("config: the file must hold a JSON object");
  }
  const obj = json as Record<string, unknown>;
  const c = defaultConfig(str(obj, "root", "") ?? root);
  c.file = obj;
  c.addr = str(obj, "addr", "") ?? c.addr;
  const tls = section(obj, "tls");
  const cert = str(tls, "cert", "tls.");
  const key = str(tls, "key", "tls.");
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError("config: tls needs both cert and key");
  }
  if (cert !== undefined && key !== undefined) c.tls = { cert, key };
  c.readOnly = bool(obj, "readOnly", "") ?? c.readOnly;
  const log = section(obj, "log");
  const format = str(log, "format", "log.");
  if (format !== undefined) c.logFormat = logFormat(format);
  const gc = section(obj, "gc");
  c.gcIntervalMs = duration(gc, "interval", "gc.") ?? c.gcIntervalMs;
  c.gcDeleteUntagged = bool(gc, "deleteUntagged", "gc.") ?? c.gcDeleteUntagged;
  c.gcMinAgeMs = duration(gc, "minAge", "gc.") ?? c.gcMinAgeMs;
  const uploads = section(obj, "uploads");
  c.uploadExpiryMs = duration(uploads, "expiry", "uploads.") ?? c.uploadExpiryMs;
  c.chunkMinLength = num(uploads, "chunkMinLength", "uploads.") ?? c.chunkMinLength;
  c.maxUploadSessions = num(uploads, "maxSessions", "uploads.") ?? c.maxUploadSessions;
  const limits = section(obj, "limits");
  c.maxManifestBytes = num(limits, "manifestBytes", "limits.") ?? c.maxManifestBytes;
  c.bodyIdleTimeoutMs = duration(limits, "bodyIdleTimeout", "limits.") ?? c.bodyIdleTimeoutMs;
  c.bodyMinRate = num(limits, "bodyMinRate", "limits.") ?? c.bodyMinRate;
  c.maxRequests = num(limits, "maxRequests", "limits.") ?? c.maxRequests;
  if (obj.auth !== undefined) c.auth = section(obj, "auth") as AuthSettings;
  if (obj.proxy !== undefined) {
    if (!Array.isArray(obj.proxy)) throw new UsageError("config: proxy must be a list");
    c.proxy = obj.proxy.map((p, i) => {
      const e = (typeof p === "object" && p !== null ? p : {}) as Record<string, unknown>;
      const name = str(e, "name", `proxy[${i}].`);
      const upstream = str(e, "upstream", `proxy[${i}].`);
      if (!name || !upstream) throw new UsageError(`config: proxy[${i}] needs name and upstream`);
      return { ...e, name, upstream };
    });
  }
  return c;
}

/**
 * Checks a log format name.
 *
 * @throws {UsageError} unless it is `text` or `json`.
 * @example
 * ```ts
 * logFormat("json"); // "json"
 * ```
 */
export function logFormat(s: string): "text" | "json" {
  if (s === "text" || s === "json") return s;
  throw new UsageError(`log format must be text or json, not ${JSON.stringify(s)}`);
}

/**
 * Splits `host:port` (`[::1]:5000` for IPv6) for Deno.serve.
 *
 * @throws {UsageError} when it is not such an address.
 * @example
 * ```ts
 * parseAddr("127.0.0.1:5000"); // { hostname: "127.0.0.1", port: 5000 }
 * ```
 */
export function parseAddr(addr: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new UsageError(`invalid address ${JSON.stringify(addr)}: use HOST:PORT`);
  }
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}
