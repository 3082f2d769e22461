/**
 * Where `ocibox serve` gets its auth and pull-through hooks from: the flags they add, how those
 * flags land in the {@linkcode ServerConfig}, and the {@linkcode ServerHooks} built from it.
 *
 * This file is the one place lib/server/auth and lib/server/proxy hook into the command:
 * lib/cli/serve.ts spreads {@linkcode PLUGIN_FLAGS} into its flags, appends
 * {@linkcode PLUGIN_FLAG_HELP} to its help, calls {@linkcode applyPluginFlags} after the config
 * file is read (flags win), and serves with the hooks {@linkcode buildHooks} returns. Import
 * auth and proxy modules lazily (`await import(...)`) inside buildHooks, so a server without
 * them loads none of their code.
 *
 * @example
 * ```ts
 * import { buildHooks } from "./plugins.ts";
 * import { defaultConfig } from "./config.ts";
 * // const hooks = await buildHooks(defaultConfig("/tmp/r"), store);
 * ```
 * @module
 */

import type { FlagOption } from "../cli/args.ts";
import type { ServerConfig } from "./config.ts";
import type { FallbackStore, ServerHooks } from "./hooks.ts";
import { applyAuthFlags, AUTH_FLAG_HELP, AUTH_FLAGS, buildAuthHooks } from "./auth/plugin.ts";
import { applyProxyFlags, buildProxyHooks, PROXY_FLAG_HELP, PROXY_FLAGS } from "./proxy/plugin.ts";

/** Flags of `ocibox serve` that belong to auth and the proxy (`--htpasswd`, `--proxy` ...). */
export const PLUGIN_FLAGS: Readonly<Record<string, FlagOption>> = {
  ...AUTH_FLAGS,
  ...PROXY_FLAGS,
};

/** Help lines for {@linkcode PLUGIN_FLAGS}, each starting with two spaces and ending in "\n". */
export const PLUGIN_FLAG_HELP = "" +
  AUTH_FLAG_HELP +
  PROXY_FLAG_HELP;

/**
 * Copies the plugin flags' values (as parseFlags returned them) into `config`.
 *
 * @throws {UsageError} for bad values.
 */
export function applyPluginFlags(
  values: Readonly<Record<string, unknown>>,
  config: ServerConfig,
): void {
  applyAuthFlags(values, config);
  applyProxyFlags(values, config);
}

/**
 * The hooks `config` asks for: `authorize` from `config.auth`, `fallback` from `config.proxy`,
 * `routes` for a token endpoint. `store` is what a fallback writes through.
 */
export async function buildHooks(
  config: ServerConfig,
  store: FallbackStore,
): Promise<ServerHooks> {
  return mergeHooks([
    await buildAuthHooks(config),
    await buildProxyHooks(config, store),
  ]);
}

/**
 * One set of hooks from several plugins' (each hook given by at most one of them; every
 * `close` runs).
 */
export function mergeHooks(parts: readonly ServerHooks[]): ServerHooks {
  const merged: ServerHooks = Object.assign({}, ...parts);
  const closers = parts.flatMap((p) => (p.close ? [p.close] : []));
  if (closers.length > 1) {
    merged.close = async () => {
      for (const close of closers) await close();
    };
  }
  return merged;
}
