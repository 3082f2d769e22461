/**
 * The flags of `ocibox serve` that belong to the pull-through cache, and their help: a table
 * only, so that `serve --help` and a server without `--proxy` load no proxy code
 * (lib/server/plugins.ts imports ./plugin.ts only when one of these flags or the config file's
 * `proxy` asks for it).
 *
 * @example
 * ```ts
 * import { PROXY_FLAGS } from "./flags.ts";
 * PROXY_FLAGS.proxy.multiple; // true
 * ```
 * @module
 */
import type { FlagOption } from "../../cli/args.ts";

/** The flags of `ocibox serve` that belong to the pull-through cache. */
export const PROXY_FLAGS = {
  proxy: { type: "string", multiple: true },
  "proxy-tag-ttl": { type: "string" },
  "proxy-authfile": { type: "string" },
} as const satisfies Readonly<Record<string, FlagOption>>;

/** Help lines of {@linkcode PROXY_FLAGS}. */
export const PROXY_FLAG_HELP = "" +
  "  --proxy NAME=UPSTREAM    pull-through cache: pulls of NAME/REPO that miss the store come\n" +
  "                           from REPO at UPSTREAM (e.g. docker.io=https://registry-1.docker.io;\n" +
  "                           single names get library/ there) and are kept; repeatable\n" +
  "  --proxy-tag-ttl D        serve a cached tag this long before asking upstream again\n" +
  "                           (default 5m; digests are never asked again)\n" +
  "  --proxy-authfile FILE    upstream credentials (ocibox login's auth file format)\n";
