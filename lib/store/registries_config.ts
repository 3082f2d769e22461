/**
 * Where short image names go: the registries config files and `OCIBOX_REGISTRY`.
 *
 * Files, read in this order, later ones overriding earlier ones key by key:
 * `/etc/ocibox/registries.json`, then `$XDG_CONFIG_HOME/ocibox/registries.json` (default
 * `~/.config/ocibox/registries.json`). Format:
 *
 * ```json
 * { "registries": ["localhost:5000", "docker.io"],
 *   "mirrors": { "docker.io": ["mirror.example:5000"] } }
 * ```
 *
 * `registries` (a later file's list replaces an earlier one's) is the search list for short
 * names; `mirrors` maps a registry to registries tried before it (a later file's entry for a
 * registry replaces an earlier one's). `OCIBOX_REGISTRY` (one registry, or several separated
 * by commas) replaces the search list of the files. Nothing configured: `docker.io`.
 *
 * Parsing and merging are pure; {@linkcode loadRegistriesConfig} does the reading.
 * @module
 */
import { ConfigInvalidError } from "../errors.ts";
import { DEFAULT_SEARCH_REGISTRIES, type NameResolution } from "../image/short_names.ts";

/** What one config file says; absent keys leave the earlier files' values. */
export interface RegistriesFile {
  registries?: string[];
  mirrors?: Record<string, string[]>;
}

/** The system-wide config file. */
export const SYSTEM_REGISTRIES_FILE = "/etc/ocibox/registries.json";

const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;

function hostList(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.some((h) => typeof h !== "string")) {
    throw new ConfigInvalidError(where, "must be a list of registry host names");
  }
  for (const h of v as string[]) {
    if (!HOST.test(h)) {
      throw new ConfigInvalidError(where, `${JSON.stringify(h)} is not a registry host[:port]`);
    }
  }
  return v as string[];
}

/**
 * Parses one config file's text; `where` names it in errors.
 *
 * @throws {ConfigInvalidError} for anything but the format above (unknown keys included, so a
 *   typo does not go unnoticed).
 * @example
 * ```ts
 * parseRegistriesFile('{"registries": ["localhost:5000"]}', "registries.json");
 * // { registries: ["localhost:5000"] }
 * ```
 */
export function parseRegistriesFile(text: string, where: string): RegistriesFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigInvalidError(where, `is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigInvalidError(where, "must hold a JSON object");
  }
  const obj = json as Record<string, unknown>;
  const out: RegistriesFile = {};
  for (const key of Object.keys(obj)) {
    if (key !== "registries" && key !== "mirrors") {
      throw new ConfigInvalidError(
        where,
        `unknown key ${JSON.stringify(key)} (known: registries, mirrors)`,
      );
    }
  }
  if (obj.registries !== undefined) {
    out.registries = hostList(obj.registries, `${where}: registries`);
  }
  if (obj.mirrors !== undefined) {
    const m = obj.mirrors;
    if (typeof m !== "object" || m === null || Array.isArray(m)) {
      throw new ConfigInvalidError(`${where}: mirrors`, "must map a registry to a list of mirrors");
    }
    out.mirrors = {};
    for (const [registry, list] of Object.entries(m)) {
      if (!HOST.test(registry)) {
        throw new ConfigInvalidError(
          `${where}: mirrors`,
          `${JSON.stringify(registry)} is not a registry host[:port]`,
        );
      }
      out.mirrors[registry] = hostList(list, `${where}: mirrors.${registry}`);
    }
  }
  return out;
}

/**
 * Merges config files (earliest first) and `OCIBOX_REGISTRY` into the resolution to use.
 *
 * @example
 * ```ts
 * mergeRegistriesConfig([{ registries: ["a.io"] }, { mirrors: { "docker.io": ["m.io"] } }]);
 * // { registries: ["a.io"], mirrors: { "docker.io": ["m.io"] } }
 * mergeRegistriesConfig([{ registries: ["a.io"] }], "localhost:5000");
 * // { registries: ["localhost:5000"], mirrors: {} }
 * ```
 */
export function mergeRegistriesConfig(
  files: readonly RegistriesFile[],
  envRegistry?: string,
): NameResolution {
  let registries: readonly string[] = DEFAULT_SEARCH_REGISTRIES;
  const mirrors: Record<string, readonly string[]> = {};
  for (const f of files) {
    if (f.registries !== undefined) registries = f.registries;
    for (const [registry, list] of Object.entries(f.mirrors ?? {})) mirrors[registry] = list;
  }
  const env = envRegistry?.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (env && env.length) registries = hostList(env, "OCIBOX_REGISTRY");
  return { registries: [...registries], mirrors };
}

/** The user's config file: `$XDG_CONFIG_HOME/ocibox/registries.json` (default ~/.config). */
export function userRegistriesFile(env: (name: string) => string | undefined): string | undefined {
  const xdg = env("XDG_CONFIG_HOME");
  if (xdg) return `${xdg}/ocibox/registries.json`;
  const home = env("HOME");
  return home ? `${home}/.config/ocibox/registries.json` : undefined;
}

/**
 * Reads the config files that exist and `OCIBOX_REGISTRY`.
 *
 * @throws {ConfigInvalidError} for a config file that is not in the format above.
 * @example
 * ```ts
 * const { registries, mirrors } = await loadRegistriesConfig();
 * ```
 */
export async function loadRegistriesConfig(
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<NameResolution> {
  const paths = [SYSTEM_REGISTRIES_FILE, userRegistriesFile(env)].filter((p) => p !== undefined);
  const files: RegistriesFile[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) continue;
      throw e;
    }
    files.push(parseRegistriesFile(text, path));
  }
  return mergeRegistriesConfig(files, env("OCIBOX_REGISTRY"));
}
