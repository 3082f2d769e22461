/**
 * Where `ocibox serve` gets its auth and pull-through hooks from: the flags they add, how those
 * flags land in the {@linkcode ServerConfig}, and the {@linkcode ServerHooks} built from it.
 *
 * This file is the one place lib/server/auth and lib/server/proxy hook into the command:
 * lib/cli/serve.ts spreads {@linkcode PLUGIN_FLAGS} into its flags, appends
 * {@linkcode PLUGIN_FLAG_HELP} to its help, calls {@linkcode applyPluginFlags} after the config
 * file is read (flags win), and serves with the hooks {@linkcode buildHooks} returns. Only the
 * flag tables (auth/flags.ts, proxy/flags.ts) are imported statically; each plugin's module
 * is imported (`await import(...)`) when its flags or config keys are present, so a server
 * without them loads none of their code (plugins_test.ts checks the static side).
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
import { AUTH_FLAG_HELP, AUTH_FLAGS } from "./auth/flags.ts";
import { PROXY_FLAG_HELP, PROXY_FLAGS } from "./proxy/flags.ts";

/** Flags of `ocibox serve` that belong to auth and the proxy (`--htpasswd`, `--proxy` ...). */
export const PLUGIN_FLAGS: Readonly<Record<string, FlagOption>> = {
  ...AUTH_FLAGS,
  ...PROXY_FLAGS,
};

/** Help lines for {@linkcode PLUGIN_FLAGS}, each starting with two spaces and ending in "\n". */
export const PLUGIN_FLAG_HELP = "" +
  AUTH_FLAG_HELP +
  PROXY_FLAG_HELP;

/** Whether any of `flags` was given (parseFlags leaves absent ones undefined or false). */
function given(values: Readonly<Record<string, unknown>>, flags: object): boolean {
  return Object.keys(flags).some((k) => {
    const v = values[k];
    return v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0);
  });
}

/**
 * Copies the plugin flags' values (as parseFlags returned them) into `config`, loading a
 * plugin's module only when one of its flags was given.
 *
 * @throws {UsageError} for bad values.
 */
export async function applyPluginFlags(
  values: Readonly<Record<string, unknown>>,
  config: ServerConfig,
): Promise<void> {
  if (given(values, AUTH_FLAGS)) {
    const { applyAuthFlags } = await import("./auth/plugin.ts");
    applyAuthFlags(values, config);
  }
  if (given(values, PROXY_FLAGS)) {
    const { applyProxyFlags } = await import("./proxy/plugin.ts");
    applyProxyFlags(values, config);
  }
}

/**
 * The hooks `config` asks for: `authorize` from `config.auth`, `fallback` from `config.proxy`,
 * `routes` for a token endpoint. `store` is what a fallback writes through. A plugin whose
 * settings are absent is not loaded at all.
 */
export async function buildHooks(
  config: ServerConfig,
  store: FallbackStore,
): Promise<ServerHooks> {
  const parts: ServerHooks[] = [];
  if (config.auth !== undefined) {
    const { buildAuthHooks } = await import("./auth/plugin.ts");
    parts.push(await buildAuthHooks(config));
  }
  if (config.proxy?.length) {
    const { buildProxyHooks } = await import("./proxy/plugin.ts");
    parts.push(await buildProxyHooks(config, store));
  }
  return mergeHooks(parts);
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
