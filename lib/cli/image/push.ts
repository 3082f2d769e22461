/**
 * `ocibox push IMAGE [DEST]`: a store image to a registry (or any other location).
 * @module
 */
import { UsageError } from "../../errors.ts";
import { normalizeName } from "../../image/short_names.ts";
import { copyImage } from "../../transport/copy.ts";
import { openDestination, preloadTransport } from "../../transport/open.ts";
import { openStoreSource } from "../../transport/store.ts";
import { parseTransportRef, TRANSPORTS } from "../../transport/transport_ref.ts";
import { parseFlags } from "../args.ts";
import { reporterFor, withInterrupt } from "../common.ts";
import { registryFlagHelp, registryFlagOptions, registryOptions } from "../registry_flags.ts";
import { STORE_HELP, STORE_OPTION, storeFromFlag } from "./store_flag.ts";

export const help = `Usage: ocibox push [flags] IMAGE [DESTINATION]

Copies the store image IMAGE (a name or an image id) to DESTINATION: a location as for copy
(docker://REF, oci:DIR:TAG, docker-archive:FILE ...) or an image name, which means
docker://NAME. Without DESTINATION the image goes to the registry its name says.

Flags:
  --authfile FILE             credentials file (default: $REGISTRY_AUTH_FILE, then
                              $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)
${registryFlagHelp("")}
${STORE_HELP}
  -q, --quiet                 print only warnings

Examples:
  ocibox push localhost:5000/app:v1
  ocibox push busybox 127.0.0.1:5000/team/busybox:1
  ocibox push --creds alice:secret app docker://registry.example/alice/app:v1`;

/** DEST as a location: a transport reference, or an image name meaning docker://NAME. */
export function destinationLocation(dest: string): string {
  const colon = dest.indexOf(":");
  const prefix = colon > 0 ? dest.slice(0, colon) : "";
  if ((TRANSPORTS as readonly string[]).includes(prefix) && !/^[^/]*:\d/.test(dest)) return dest;
  return `docker://${normalizeName(dest)}`;
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    authfile: { type: "string" },
    ...registryFlagOptions(""),
    ...STORE_OPTION,
    quiet: { type: "boolean", short: "q" },
  });
  if (positionals.length < 1 || positionals.length > 2) {
    throw new UsageError("usage: ocibox push [flags] IMAGE [DESTINATION]");
  }
  const [image, dest] = positionals;
  const toLocation = dest === undefined ? undefined : destinationLocation(dest);
  if (toLocation !== undefined) preloadTransport(parseTransportRef(toLocation));
  const options = registryOptions(values, "", values.authfile);
  const store = storeFromFlag(values.store);
  const reporter = await reporterFor(values.quiet);
  return await withInterrupt(async (signal) => {
    const src = await openStoreSource(`store:${image}`, store, image);
    try {
      let location = toLocation;
      if (location === undefined) {
        const name = src.image.names.includes(src.image.name) ? src.image.name : undefined;
        if (name === undefined || name.includes("@")) {
          throw new UsageError(`${image} has no name to push to; give a DESTINATION`);
        }
        location = `docker://${name}`;
      }
      reporter.info("Getting image source signatures");
      const dst = await openDestination(location, options);
      try {
        await copyImage(src, dst, { reporter, signal });
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
    return 0;
  });
}
