/**
 * How auth plugs into `ocibox serve` (merged by lib/server/plugins.ts, one line each): its
 * flags (declared in ./flags.ts, re-exported here), copying them into the config, and building
 * the hooks. plugins.ts imports this module only when a flag or the config file asks for auth;
 * everything that authenticates is imported by {@linkcode buildAuthHooks}.
 *
 * | flag                    | config key (`auth.`) | meaning                                     |
 * | ----------------------- | -------------------- | ------------------------------------------- |
 * | `--htpasswd FILE`       | `htpasswd`           | users (bcrypt, SHA-crypt, {SHA}); Basic auth |
 * | `--anonymous-read`      | `anonymousRead`      | pulls, tag lists, catalog need no login     |
 * | `--auth basic\|token\|none` | `mode`           | Basic on every request, or Bearer tokens    |
 * | `--token-realm URL`     | `token.realm`        | where clients get tokens (default: /token)  |
 * | `--token-service NAME`  | `token.service`      | tokens' audience (default: ocibox)          |
 * | `--token-key FILE`      | `token.key`          | PEM signing key (default: made at start)    |
 *
 * @example
 * ```ts
 * import { AUTH_FLAGS, applyAuthFlags } from "./plugin.ts";
 * import { defaultConfig } from "../config.ts";
 * const config = defaultConfig("/tmp/r");
 * applyAuthFlags({ htpasswd: "/etc/htpasswd", "anonymous-read": true }, config);
 * config.auth; // { htpasswd: "/etc/htpasswd", anonymousRead: true }
 * Object.keys(AUTH_FLAGS).includes("htpasswd"); // true
 * ```
 * @module
 */
import { UsageError } from "../../errors.ts";
import type { AuthSettings, ServerConfig } from "../config.ts";
import type { ServerHooks } from "../hooks.ts";

export { AUTH_FLAG_HELP, AUTH_FLAGS } from "./flags.ts";

function last(v: unknown): string | undefined {
  if (Array.isArray(v)) return v.length ? String(v[v.length - 1]) : undefined;
  return typeof v === "string" ? v : undefined;
}

/**
 * Copies the auth flags' values (as parseFlags returned them) into `config.auth`, over what the
 * config file said. `--token-*` flags mean `--auth token` unless a mode was chosen.
 *
 * @throws {UsageError} for an `--auth` other than basic, token or none.
 */
export function applyAuthFlags(
  values: Readonly<Record<string, unknown>>,
  config: ServerConfig,
): void {
  const auth: AuthSettings = { ...(config.auth ?? {}) };
  let touched = false;
  const mode = last(values.auth);
  if (mode !== undefined) {
    if (mode !== "basic" && mode !== "token" && mode !== "none") {
      throw new UsageError(`--auth must be basic, token or none, not ${JSON.stringify(mode)}`);
    }
    auth.mode = mode;
    touched = true;
  }
  const htpasswd = last(values.htpasswd);
  if (htpasswd !== undefined) {
    auth.htpasswd = htpasswd;
    touched = true;
  }
  if (values["anonymous-read"] === true) {
    auth.anonymousRead = true;
    touched = true;
  }
  const token: Record<string, unknown> = {
    ...((typeof auth.token === "object" && auth.token !== null ? auth.token : {}) as Record<
      string,
      unknown
    >),
  };
  let tokenTouched = false;
  for (
    const [flag, key] of [["token-realm", "realm"], ["token-service", "service"], [
      "token-key",
      "key",
    ]]
  ) {
    const v = last(values[flag]);
    if (v !== undefined) {
      token[key] = v;
      tokenTouched = true;
    }
  }
  if (tokenTouched) {
    auth.token = token;
    auth.mode ??= "token";
    touched = true;
  }
  if (touched) config.auth = auth;
}

/**
 * The hooks `config.auth` asks for: `authorize` (Basic or Bearer) and, in token mode, `routes`
 * serving `/token` and `/token/keys`. None when auth is off.
 *
 * @throws {ConfigInvalidError} for bad auth settings or access rules; {@linkcode HtpasswdError}
 * for an unusable htpasswd file; TokenKeyError for an unusable signing key;
 * Deno.errors.NotFound for missing files.
 */
export async function buildAuthHooks(config: ServerConfig): Promise<ServerHooks> {
  const { authOptions } = await import("./settings.ts");
  const options = authOptions(config.auth);
  if (!options) return {};
  const [{ AccessPolicy }, { HtpasswdFile }] = await Promise.all([
    import("./access_rules.ts"),
    import("./htpasswd.ts"),
  ]);
  const policy = AccessPolicy.fromJson(options.access, { anonymousRead: options.anonymousRead });
  const users = options.htpasswd ? await HtpasswdFile.load(options.htpasswd) : undefined;
  if (options.mode === "basic") {
    const { basicAuthorize } = await import("./basic_auth.ts");
    return { authorize: basicAuthorize({ users: users!, policy, realm: options.realm }) };
  }
  const [{ generateTokenKey, loadTokenKey }, { TokenIssuer }, { bearerAuthorize }] = await Promise
    .all([import("./jwt.ts"), import("./token_issuer.ts"), import("./bearer_auth.ts")]);
  const t = options.token;
  const key = t.key
    ? await loadTokenKey(await Deno.readTextFile(t.key), t.key)
    : await generateTokenKey();
  const issuer = new TokenIssuer({
    key,
    ...(users ? { users } : {}),
    policy,
    service: t.service,
    issuer: t.issuer,
    expirySeconds: t.expirySeconds,
    refreshExpirySeconds: t.refreshExpirySeconds,
    basicRealm: options.realm,
  });
  const authorize = bearerAuthorize({
    key,
    service: t.service,
    issuer: t.issuer,
    policy,
    ...(t.realm ? { realm: t.realm } : {}),
  });
  return {
    authorize,
    routes: (request) => {
      const path = new URL(request.url).pathname;
      if (path !== "/token" && path !== "/token/keys") return undefined;
      return issuer.handle(request);
    },
  };
}
