/**
 * `ocibox serve`: a Distribution Spec registry on this machine (lib/server/).
 * @module
 */
import { UsageError } from "../errors.ts";
import { allStrings, lastString, parseFlags } from "./args.ts";
import {
  defaultConfig,
  defaultRoot,
  logFormat,
  parseDuration,
  type ServerConfig,
  serverConfigFromJson,
} from "../server/config.ts";
import { applyPluginFlags, buildHooks, PLUGIN_FLAG_HELP, PLUGIN_FLAGS } from "../server/plugins.ts";

export const help = `Usage: ocibox serve [flags]

Runs a registry (OCI Distribution Spec 1.1: push, pull, tags, referrers, catalog, deletes) on
Deno.serve, storing blobs once for all repositories under ROOT. Each repository is also an OCI
image layout at ROOT/repositories/NAME (ocibox inspect oci:ROOT/repositories/NAME:TAG). Prints
"listening on URL" when ready; SIGINT or SIGTERM lets requests in flight finish, then exits.
One access log line per request goes to stderr.

Flags:
  --root DIR               storage root (default /var/lib/ocibox/registry as root, else
                           $XDG_DATA_HOME/ocibox/registry)
  --addr HOST:PORT         where to listen (default 127.0.0.1:5000; port 0 picks a free one)
  --tls-cert FILE          PEM certificate: serve HTTPS (with --tls-key)
  --tls-key FILE           PEM private key
  --read-only              refuse pushes and deletes (405 UNSUPPORTED)
  --log-format text|json   access log format (default text)
  --config FILE            JSON config file (see README); flags override it
  --gc-interval D          run garbage collection this often while serving (e.g. 1h; 0 = never)
  --gc-delete-untagged     garbage collection also removes untagged manifests
  --gc-min-age D           garbage collection keeps unreferenced blobs younger than this: the
                           time a push has between its last upload and its manifest (default 1h)
  --upload-expiry D        remove upload sessions untouched this long (default 24h)
${PLUGIN_FLAG_HELP}
Example:
  ocibox serve --root /srv/registry --addr 0.0.0.0:5000 --tls-cert s.crt --tls-key s.key`;

const FLAGS = {
  root: { type: "string" },
  addr: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "read-only": { type: "boolean" },
  "log-format": { type: "string" },
  config: { type: "string" },
  "gc-interval": { type: "string" },
  "gc-delete-untagged": { type: "boolean" },
  "gc-min-age": { type: "string" },
  "upload-expiry": { type: "string" },
  ...PLUGIN_FLAGS,
} as const;

/** How long a stop waits for requests in flight before it exits anyway. */
const SHUTDOWN_GRACE_MS = 30_000;

/**
 * The server config from the flags (over the config file, over the defaults).
 *
 * @throws {UsageError} for bad flags or a bad config file.
 */
export async function configFromFlags(
  values: Readonly<Record<string, unknown>>,
): Promise<ServerConfig> {
  const root = lastString(values.root);
  const file = lastString(values.config);
  let config: ServerConfig;
  if (file !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(await Deno.readTextFile(file));
    } catch (e) {
      throw new UsageError(`--config ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    config = serverConfigFromJson(json, root ?? defaultRoot());
  } else config = defaultConfig(root ?? defaultRoot());
  if (root !== undefined) config.root = root;
  const addr = lastString(values.addr);
  if (addr !== undefined) config.addr = addr;
  const cert = lastString(values["tls-cert"]);
  const key = lastString(values["tls-key"]);
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  if (cert !== undefined && key !== undefined) config.tls = { cert, key };
  if (values["read-only"] === true) config.readOnly = true;
  const format = lastString(values["log-format"]);
  if (format !== undefined) config.logFormat = logFormat(format);
  const gc = lastString(values["gc-interval"]);
  if (gc !== undefined) config.gcIntervalMs = parseDuration(gc);
  if (values["gc-delete-untagged"] === true) config.gcDeleteUntagged = true;
  const minAge = lastString(values["gc-min-age"]);
  if (minAge !== undefined) config.gcMinAgeMs = parseDuration(minAge);
  const expiry = lastString(values["upload-expiry"]);
  if (expiry !== undefined) config.uploadExpiryMs = parseDuration(expiry);
  await applyPluginFlags(values, config);
  return config;
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (positionals.length > 0) {
    throw new UsageError(`serve takes no arguments, got ${allStrings(positionals).join(" ")}`);
  }
  const config = await configFromFlags(values as Record<string, unknown>);
  const { openRegistryStore } = await import("../server/storage/registry_store.ts");
  const { startServer } = await import("../server/server.ts");
  const store = await openRegistryStore(config.root);
  const hooks = await buildHooks(config, store);
  const server = await startServer({
    config,
    store,
    hooks,
    collectGarbage: async () => {
      const { collectGarbage } = await import("../server/storage/gc.ts");
      const r = await collectGarbage(store, {
        deleteUntagged: config.gcDeleteUntagged,
        minAgeMs: config.gcMinAgeMs,
      });
      console.error(
        `ocibox serve: gc removed ${r.removedBlobs.length} blobs (${r.removedBytes} bytes), ` +
          `${r.removedManifests.length} manifests in ${Math.round(r.durationMs)} ms`,
      );
    },
  });
  console.log(`listening on ${server.url}`);
  console.error(`ocibox serve: storage root ${config.root}`);

  let signals = 0;
  const stop = () => {
    signals++;
    if (signals > 1) Deno.exit(130);
    const force = setTimeout(() => {
      console.error("ocibox serve: requests still in flight after 30 s; exiting");
      Deno.exit(1);
    }, SHUTDOWN_GRACE_MS);
    Deno.unrefTimer(force);
    server.shutdown().catch((e) => {
      console.error(`ocibox serve: stopping: ${e instanceof Error ? e.message : String(e)}`);
    });
  };
  const names: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of names) Deno.addSignalListener(s, stop);
  try {
    await server.finished;
    await server.shutdown();
  } finally {
    for (const s of names) Deno.removeSignalListener(s, stop);
  }
  return 0;
}
