/**
 * How the pull-through cache plugs into `ocibox serve` (merged by lib/server/plugins.ts, one
 * line each): its flags (declared in ./flags.ts, re-exported here), copying them into the config,
 * and building the hooks. plugins.ts imports this module only when a flag or the config file
 * names an upstream; the registry client is imported by {@linkcode buildProxyHooks}.
 *
 * | flag                      | config key (`proxy[]`)  | meaning                               |
 * | ------------------------- | ----------------------- | ------------------------------------- |
 * | `--proxy NAME=UPSTREAM`   | `name`, `upstream`      | pull `NAME/...` through from UPSTREAM  |
 * | `--proxy-tag-ttl D`       | `tagTtl`                | recheck a cached tag after D (5m)     |
 * | `--proxy-authfile F`      | `authFile`              | upstream credentials file to search first |
 * |                           | `username`, `password`  | upstream credentials                  |
 * |                           | `tlsVerify`, `certDir`, `timeout` | TLS and patience per upstream |
 *
 * @example
 * ```ts
 * import { applyProxyFlags } from "./plugin.ts";
 * import { defaultConfig } from "../config.ts";
 * const config = defaultConfig("/tmp/r");
 * applyProxyFlags({ proxy: ["docker.io=https://registry-1.docker.io"], "proxy-tag-ttl": "1m" }, config);
 * config.proxy; // [{ name: "docker.io", upstream: "https://registry-1.docker.io", tagTtl: "1m" }]
 * ```
 * @module
 */
import { UsageError } from "../../errors.ts";
import { parseDuration, type ProxySettings, type ServerConfig } from "../config.ts";
import type { FallbackStore, ServerHooks } from "../hooks.ts";
import { checkUpstreams, parseProxyFlag } from "./proxy_settings.ts";

export { PROXY_FLAG_HELP, PROXY_FLAGS } from "./flags.ts";

function all(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  return typeof v === "string" ? [v] : [];
}

function last(v: unknown): string | undefined {
  const a = all(v);
  return a.length ? a[a.length - 1] : undefined;
}

/**
 * Copies the proxy flags' values (as parseFlags returned them) into `config.proxy`, over the
 * config file: a `--proxy` whose NAME the file has replaces that entry, others are added;
 * `--proxy-tag-ttl` and `--proxy-authfile` apply to every entry.
 *
 * @throws {UsageError} for a malformed `--proxy` or duration.
 */
export function applyProxyFlags(
  values: Readonly<Record<string, unknown>>,
  config: ServerConfig,
): void {
  const flags = all(values.proxy).map(parseProxyFlag);
  const ttl = last(values["proxy-tag-ttl"]);
  const authFile = last(values["proxy-authfile"]);
  if (ttl !== undefined) parseDuration(ttl);
  if (!flags.length && ttl === undefined && authFile === undefined) return;
  const names = new Set(flags.map((f) => f.name));
  const entries: ProxySettings[] = [
    ...(config.proxy ?? []).filter((e) => !names.has(e.name)),
    ...flags,
  ].map((e) => ({
    ...e,
    ...(ttl !== undefined ? { tagTtl: ttl } : {}),
    ...(authFile !== undefined ? { authFile } : {}),
  }));
  if (!entries.length) {
    throw new UsageError("--proxy-tag-ttl and --proxy-authfile need at least one --proxy");
  }
  // Bad entries are reported now, each named as the flag or the file's entry it came from.
  checkUpstreams(config.proxy ?? [], {}, true);
  checkUpstreams(flags);
  checkUpstreams(entries);
  config.proxy = entries;
}

/**
 * The hooks `config.proxy` asks for: the pull-through cache as `fallback`, and `close` to stop
 * its upstream work. None when no upstream is configured. `store` is what the cache writes
 * through; `log` gets one line per event worth an operator's attention (default: stderr, as
 * JSON when the server logs JSON).
 *
 * @throws {UsageError} for bad proxy settings.
 */
export async function buildProxyHooks(
  config: ServerConfig,
  store: FallbackStore,
  log?: (line: string) => void,
): Promise<ServerHooks> {
  const entries = config.proxy ?? [];
  if (!entries.length) return {};
  const upstreams = checkUpstreams(entries, {}, config.file?.proxy !== undefined);
  const { PullThroughCache } = await import("./pull_through.ts");
  const cache = new PullThroughCache(upstreams, store, {
    log: log ?? ((line) => {
      if (config.logFormat === "json") {
        console.error(JSON.stringify({ time: new Date().toISOString(), level: "warn", msg: line }));
      } else console.error(line);
    }),
  });
  return { fallback: cache, close: () => cache.close() };
}
