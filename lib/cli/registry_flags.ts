/**
 * The flags that say how to reach registries, shared by every command that opens images:
 * `--creds`, `--tls-verify`, `--cert-dir` (with `src-`/`dest-` prefixes for copy) and
 * `--authfile`.
 * @module
 */
import { UsageError } from "../errors.ts";
import type { OpenOptions } from "../transport/open.ts";

type Prefix = "" | "src-" | "dest-";

/** parseArgs option declarations for one prefix. */
export function registryFlagOptions(prefix: Prefix) {
  return {
    [`${prefix}creds`]: { type: "string" },
    [`${prefix}tls-verify`]: { type: "string" },
    [`${prefix}cert-dir`]: { type: "string" },
  } as const;
}

/** Splits `user:password` (the password may contain colons). */
export function parseCreds(value: string, flag: string): { username: string; password: string } {
  const i = value.indexOf(":");
  if (i <= 0) throw new UsageError(`--${flag} must be USERNAME:PASSWORD`);
  return { username: value.slice(0, i), password: value.slice(i + 1) };
}

/** Parses `true`/`false` for `--*tls-verify`. */
export function parseBool(value: string | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new UsageError(`--${flag} must be true or false, not ${JSON.stringify(value)}`);
}

/** The OpenOptions the flags of one prefix describe. */
export function registryOptions(
  values: Record<string, unknown>,
  prefix: Prefix,
  authFile?: string,
): OpenOptions {
  const creds = values[`${prefix}creds`];
  const verify = parseBool(
    values[`${prefix}tls-verify`] as string | undefined,
    `${prefix}tls-verify`,
  );
  const certDir = values[`${prefix}cert-dir`] as string | undefined;
  return {
    registry: {
      credentials: typeof creds === "string" ? parseCreds(creds, `${prefix}creds`) : undefined,
      authFile,
      tls: verify === undefined && certDir === undefined ? undefined : { verify, certDir },
    },
  };
}

/** Help text lines for one prefix. */
export function registryFlagHelp(prefix: Prefix, what = "the registry"): string {
  return [
    `  --${prefix}creds USER:PASS     credentials for ${what}`,
    `  --${prefix}tls-verify=false    do not verify ${what}'s certificate (also allows plain HTTP)`,
    `  --${prefix}cert-dir DIR        CA certificates (*.crt) and client certificate for ${what}`,
  ].join("\n");
}
