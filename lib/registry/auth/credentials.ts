/**
 * Registry credentials in the files skopeo and podman share, looked up in their order:
 * `--authfile` (or `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`), then
 * `$XDG_CONFIG_HOME/containers/auth.json`, then Docker's `$DOCKER_CONFIG/config.json` (or
 * `~/.docker/config.json`), then the legacy `~/.dockercfg`. In each file: `credHelpers[host]`,
 * then `auths` entries (exact `host/namespace/repo` keys down to `host`, then legacy forms such
 * as `https://host/v1/` and `index.docker.io` for docker.io), then `credsStore`.
 * Written entries keep everything else in the file.
 *
 * @example
 * ```ts
 * import { lookupCredentials, saveCredentials } from "./credentials.ts";
 * await saveCredentials("/tmp/auth.json", "localhost:5000", "me", "secret");
 * await lookupCredentials("localhost:5000", { authFile: "/tmp/auth.json" });
 * // { username: "me", password: "secret" }
 * ```
 * @module
 */
import { OciboxError } from "../../errors.ts";
import { writeFileAtomic } from "../../io/atomic_file.ts";
import { helperErase, helperGet, helperStore } from "./credential_helper.ts";

/** A user name and password, or an OAuth2 identity (refresh) token. */
export type Credentials =
  | { username: string; password: string }
  | { identityToken: string; username?: string };

/** Credentials and where they were found (a file path or `docker-credential-NAME`). */
export interface FoundCredentials {
  credentials: Credentials;
  source: string;
}

/** Where to look and what environment to read. */
export interface CredentialOptions {
  /** `--authfile`: replaces `$REGISTRY_AUTH_FILE` and the default first file. */
  authFile?: string;
  /** Repository path (`library/busybox`) for namespace-specific `auths` keys. */
  repository?: string;
  /** Environment lookup (default Deno.env): HOME, XDG_*, DOCKER_CONFIG, PATH for helpers. */
  env?: (name: string) => string | undefined;
}

/** An auth file that cannot be read or written as JSON. */
export class AuthFileError extends OciboxError {
  constructor(readonly path: string, reason: string, options?: ErrorOptions) {
    super("AUTH_FILE", `auth file ${path}: ${reason}`, options);
  }
}

/** One file of the search path; `legacy` is `.dockercfg`'s format (no `auths` wrapper). */
export interface AuthFilePath {
  path: string;
  legacy: boolean;
}

type Env = (name: string) => string | undefined;
type JsonObject = Record<string, unknown>;

const DOCKER_IO = "docker.io";
const DOCKER_HUB_ALIASES = ["docker.io", "index.docker.io", "registry-1.docker.io"];
const DOCKER_HUB_LEGACY_KEY = "https://index.docker.io/v1/";

function envOf(options: { env?: Env }): Env {
  return options.env ?? ((n) => Deno.env.get(n));
}

function homeOf(env: Env): string {
  const home = env("HOME");
  if (!home) throw new AuthFileError("~", "HOME is not set, so the default auth files are unknown");
  return home;
}

/** Docker Hub has three host names; credentials are filed under `docker.io`. */
function canonicalHost(host: string): string {
  return DOCKER_HUB_ALIASES.includes(host) ? DOCKER_IO : host;
}

/**
 * The file `login` writes and `logout` edits: `--authfile`, else `$REGISTRY_AUTH_FILE`, else
 * `$XDG_RUNTIME_DIR/containers/auth.json`, else `$HOME/.config/containers/auth.json` (as podman
 * does without a runtime directory).
 */
export function defaultAuthFile(options: { authFile?: string; env?: Env } = {}): string {
  if (options.authFile) return options.authFile;
  const env = envOf(options);
  const fromEnv = env("REGISTRY_AUTH_FILE");
  if (fromEnv) return fromEnv;
  const runtime = env("XDG_RUNTIME_DIR");
  if (runtime) return `${runtime}/containers/auth.json`;
  return `${homeOf(env)}/.config/containers/auth.json`;
}

/** The files searched for credentials, in order, without duplicates. */
export function authFileSearchPath(options: CredentialOptions = {}): AuthFilePath[] {
  const env = envOf(options);
  const home = env("HOME");
  const paths: AuthFilePath[] = [];
  const add = (path: string | undefined, legacy = false) => {
    if (path && !paths.some((p) => p.path === path)) paths.push({ path, legacy });
  };
  const runtime = env("XDG_RUNTIME_DIR");
  add(
    options.authFile ?? env("REGISTRY_AUTH_FILE") ??
      (runtime ? `${runtime}/containers/auth.json` : undefined),
  );
  const configHome = env("XDG_CONFIG_HOME") ?? (home ? `${home}/.config` : undefined);
  add(configHome && `${configHome}/containers/auth.json`);
  const dockerConfig = env("DOCKER_CONFIG");
  add(dockerConfig ? `${dockerConfig}/config.json` : home && `${home}/.docker/config.json`);
  add(home && `${home}/.dockercfg`, true);
  return paths;
}

async function readJson(path: string): Promise<JsonObject | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new AuthFileError(path, e instanceof Error ? e.message : String(e), { cause: e });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new AuthFileError(path, `not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new AuthFileError(path, "not a JSON object");
  }
  return doc as JsonObject;
}

function objectField(doc: JsonObject, name: string): JsonObject {
  const v = doc[name];
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v as JsonObject : {};
}

function stringField(doc: JsonObject, name: string): string | undefined {
  const v = doc[name];
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** `https://host/v1/` and `host` alike, with Docker Hub's names made one. */
function normalizeKey(key: string, legacy: boolean): string {
  const stripped = key.replace(/^https?:\/\//, "");
  const host = legacy || stripped !== key ? stripped.split("/")[0] : stripped;
  return DOCKER_HUB_ALIASES.includes(host) ? "index.docker.io" : host;
}

function decodeEntry(path: string, key: string, entry: JsonObject): Credentials | undefined {
  const identityToken = stringField(entry, "identitytoken");
  const auth = stringField(entry, "auth");
  let username: string | undefined;
  let password: string | undefined;
  if (auth) {
    let decoded: string;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(auth), (c) => c.charCodeAt(0)));
    } catch {
      throw new AuthFileError(path, `auths[${JSON.stringify(key)}].auth is not base64`);
    }
    const colon = decoded.indexOf(":");
    // Docker skips entries without a colon instead of failing; so do we.
    if (colon > 0) {
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1).replace(/\0+$/, "");
    }
  }
  if (identityToken) return username ? { identityToken, username } : { identityToken };
  if (username && password) return { username, password };
  return undefined;
}

/** The `auths` keys to try exactly, most specific first. */
function exactKeys(host: string, repository: string | undefined): string[] {
  const keys: string[] = [];
  let name = repository ? `${host}/${repository}` : host;
  for (;;) {
    keys.push(name);
    const slash = name.lastIndexOf("/");
    if (slash === -1) return keys;
    name = name.slice(0, slash);
  }
}

/** What a helper is asked for: Docker Hub's credentials live under its legacy URL. */
function helperServerUrls(host: string): string[] {
  return host === DOCKER_IO ? [DOCKER_HUB_LEGACY_KEY, DOCKER_IO] : [host];
}

async function fromHelper(
  helper: string,
  host: string,
  env: Env,
): Promise<FoundCredentials | undefined> {
  for (const url of helperServerUrls(host)) {
    const credentials = await helperGet(helper, url, { env });
    if (credentials) return { credentials, source: `docker-credential-${helper}` };
  }
  return undefined;
}

async function findInFile(
  file: AuthFilePath,
  host: string,
  repository: string | undefined,
  env: Env,
): Promise<FoundCredentials | undefined> {
  const doc = await readJson(file.path);
  if (!doc) return undefined;
  const auths = file.legacy ? doc : objectField(doc, "auths");
  if (!file.legacy) {
    const helpers = objectField(doc, "credHelpers");
    const hostKeys = host === DOCKER_IO ? [...DOCKER_HUB_ALIASES, DOCKER_HUB_LEGACY_KEY] : [host];
    for (const key of hostKeys) {
      const helper = stringField(helpers, key);
      if (helper) return await fromHelper(helper, host, env);
    }
  }
  const found = (key: string): FoundCredentials | undefined => {
    const entry = auths[key];
    if (typeof entry !== "object" || entry === null) return undefined;
    const credentials = decodeEntry(file.path, key, entry as JsonObject);
    return credentials && { credentials, source: file.path };
  };
  for (const key of file.legacy ? [host] : exactKeys(host, repository)) {
    const hit = found(key);
    if (hit) return hit;
  }
  const wanted = normalizeKey(host, false);
  for (const key of Object.keys(auths)) {
    if (normalizeKey(key, file.legacy) !== wanted) continue;
    const hit = found(key);
    if (hit) return hit;
  }
  const store = file.legacy ? undefined : stringField(doc, "credsStore");
  return store ? await fromHelper(store, host, env) : undefined;
}

/**
 * Finds the credentials for registry `host` (`localhost:5000`, `docker.io`) and where they
 * came from; undefined when no file or helper has any.
 *
 * @throws {AuthFileError} for a file that exists but is not valid.
 * @throws {CredentialHelperError} when a configured helper fails.
 */
export async function findCredentials(
  host: string,
  options: CredentialOptions = {},
): Promise<FoundCredentials | undefined> {
  const env = envOf(options);
  const canonical = canonicalHost(host);
  for (const file of authFileSearchPath(options)) {
    const hit = await findInFile(file, canonical, options.repository, env);
    if (hit) return hit;
  }
  return undefined;
}

/** {@linkcode findCredentials} without the source. */
export async function lookupCredentials(
  host: string,
  options: CredentialOptions = {},
): Promise<Credentials | undefined> {
  return (await findCredentials(host, options))?.credentials;
}

async function writeDoc(path: string, doc: JsonObject): Promise<void> {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const bytes = new TextEncoder().encode(JSON.stringify(doc, null, "\t") + "\n");
  try {
    await writeFileAtomic(path, bytes, { mode: 0o600 });
  } catch (e) {
    throw new AuthFileError(path, e instanceof Error ? e.message : String(e), { cause: e });
  }
}

/**
 * Stores `username`/`password` for `key` (a host, or `host/namespace`) in `authFile`, keeping
 * every other entry and field; written atomically with mode 0600. When the file names a
 * credential helper for `key`, the helper stores them instead. Returns where they went.
 */
export async function saveCredentials(
  authFile: string,
  key: string,
  username: string,
  password: string,
  options: { env?: Env } = {},
): Promise<string> {
  const doc = await readJson(authFile) ?? {};
  const helper = stringField(objectField(doc, "credHelpers"), key);
  if (helper) {
    await helperStore(helper, key, username, password, { env: options.env });
    return `docker-credential-${helper}`;
  }
  const auths = objectField(doc, "auths");
  const previous = objectField(auths, key);
  const { identitytoken: _dropped, ...kept } = previous;
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  auths[key] = { ...kept, auth: btoa(String.fromCharCode(...bytes)) };
  doc.auths = auths;
  await writeDoc(authFile, doc);
  return authFile;
}

/**
 * Removes the credentials for `key` from `authFile` (also its legacy `https://key/...` forms,
 * and from the file's credential helper for `key`). Returns false when there were none.
 */
export async function removeCredentials(
  authFile: string,
  key: string,
  options: { env?: Env } = {},
): Promise<boolean> {
  const doc = await readJson(authFile);
  if (!doc) return false;
  let removed = false;
  const helper = stringField(objectField(doc, "credHelpers"), key);
  if (helper) removed = await helperErase(helper, key, { env: options.env });
  const auths = objectField(doc, "auths");
  const wanted = key.includes("/") ? undefined : normalizeKey(key, false);
  let changed = false;
  for (const k of Object.keys(auths)) {
    if (
      k === key || (wanted !== undefined && k !== key && normalizeKey(k, false) === wanted &&
        k.includes("://"))
    ) {
      delete auths[k];
      changed = true;
    }
  }
  if (changed) {
    doc.auths = auths;
    await writeDoc(authFile, doc);
  }
  return removed || changed;
}

/**
 * Removes every credential from `authFile` (and erases what its `credHelpers` hold for their
 * hosts); other fields stay. Returns how many entries went.
 */
export async function removeAllCredentials(
  authFile: string,
  options: { env?: Env } = {},
): Promise<number> {
  const doc = await readJson(authFile);
  if (!doc) return 0;
  let count = 0;
  for (const [host, helper] of Object.entries(objectField(doc, "credHelpers"))) {
    if (typeof helper === "string" && await helperErase(helper, host, { env: options.env })) {
      count++;
    }
  }
  const auths = objectField(doc, "auths");
  count += Object.keys(auths).length;
  if ("auths" in doc) {
    doc.auths = {};
    await writeDoc(authFile, doc);
  }
  return count;
}
