/**
 * The flags of `ocibox serve` that belong to auth, and their help: a table only, so that
 * `serve --help` and a server without auth load no auth code (lib/server/plugins.ts imports
 * ./plugin.ts only when one of these flags or the config file's `auth` asks for it).
 *
 * @example
 * ```ts
 * import { AUTH_FLAGS } from "./flags.ts";
 * Object.keys(AUTH_FLAGS).includes("htpasswd"); // true
 * ```
 * @module
 */
import type { FlagOption } from "../../cli/args.ts";

/** The flags of `ocibox serve` that belong to auth. */
export const AUTH_FLAGS = {
  htpasswd: { type: "string" },
  "anonymous-read": { type: "boolean" },
  auth: { type: "string" },
  "token-realm": { type: "string" },
  "token-service": { type: "string" },
  "token-key": { type: "string" },
} as const satisfies Readonly<Record<string, FlagOption>>;

/** Help lines of {@linkcode AUTH_FLAGS}. */
export const AUTH_FLAG_HELP = "" +
  "  --htpasswd FILE          users who may log in (htpasswd -B); turns on Basic auth\n" +
  "  --anonymous-read         pulls need no login (pushes and deletes still do)\n" +
  "  --auth basic|token|none  Basic credentials on every request, or Bearer tokens from\n" +
  "                           this server's own /token endpoint (signed JWTs)\n" +
  "  --token-realm URL        token endpoint named in challenges (default: /token here)\n" +
  "  --token-service NAME     the service (token audience) (default: ocibox)\n" +
  "  --token-key FILE         PEM key that signs tokens: EC P-256/P-384 or RSA\n" +
  "                           (default: a P-256 key made at start)\n";
