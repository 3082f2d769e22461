/**
 * `ocibox logout`: removes stored registry credentials from the auth file `login` writes.
 * @module
 */
import { NotFoundError, UsageError } from "../errors.ts";
import {
  defaultAuthFile,
  findCredentials,
  removeAllCredentials,
  removeCredentials,
} from "../registry/auth/credentials.ts";
import { parseFlags } from "./args.ts";
import { parseLoginTarget } from "./login_target.ts";

/** Help text of `ocibox logout`. */
export const help = `Usage: ocibox logout [flags] REGISTRY
       ocibox logout --all

Removes the credentials stored for REGISTRY (a host, or host/namespace as given to login)
from the auth file: --authfile, else $REGISTRY_AUTH_FILE, else
$XDG_RUNTIME_DIR/containers/auth.json, else ~/.config/containers/auth.json. Credentials that
other tools keep elsewhere (~/.docker/config.json) are left alone and named.

Flags:
  -a, --all           remove the credentials of every registry from the auth file
  --authfile FILE     auth file to edit

Examples:
  ocibox logout localhost:5000
  ocibox logout --all`;

/** Runs `ocibox logout`; resolves to the exit code. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    all: { type: "boolean", short: "a" },
    authfile: { type: "string" },
  });
  const authFile = defaultAuthFile({ authFile: values.authfile });
  if (values.all) {
    if (positionals.length) throw new UsageError("--all takes no REGISTRY");
    await removeAllCredentials(authFile);
    console.log("Removed login credentials for all registries");
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      `expected 1 argument, got ${positionals.length}; usage: ocibox logout [flags] REGISTRY`,
    );
  }
  const target = parseLoginTarget(positionals[0]);
  if (await removeCredentials(authFile, target.key)) {
    console.log(`Removed login credentials for ${target.key}`);
    return 0;
  }
  const elsewhere = await findCredentials(target.key, { authFile }).catch(() => undefined);
  if (elsewhere) {
    throw new NotFoundError(
      `not logged into ${target.key} in ${authFile}; its credentials come from ` +
        `${elsewhere.source} (remove them there, e.g. with docker logout)`,
    );
  }
  throw new NotFoundError(`not logged into ${target.key}`);
}
