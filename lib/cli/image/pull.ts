/**
 * `ocibox pull IMAGE`: an image from its registry into the local store.
 * @module
 */
import { pullImage } from "../../store/pull.ts";
import { expectPositionals, parseFlags } from "../args.ts";
import { platformFlag, reporterFor, withInterrupt } from "../common.ts";
import { registryFlagHelp, registryFlagOptions, registryOptions } from "../registry_flags.ts";
import { STORE_HELP, STORE_OPTION, storeFromFlag } from "./store_flag.ts";

export const help = `Usage: ocibox pull [flags] IMAGE

Pulls IMAGE from a registry into the local store and prints its image id. IMAGE is a name
as for docker or podman: busybox means docker.io/library/busybox:latest; a short name (no
registry) is tried on each search registry in turn ($OCIBOX_REGISTRY, else the "registries"
list of /etc/ocibox/registries.json and $XDG_CONFIG_HOME/ocibox/registries.json, else
docker.io), and each registry's mirrors are tried before it. NAME@sha256:... pulls by digest.
Nothing of a pull that fails is left in the store.

Flags:
  --platform OS/ARCH[/VAR]    image to pick from a multi-platform image (default: this machine's)
  --authfile FILE             credentials file (default: $REGISTRY_AUTH_FILE, then
                              $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)
${registryFlagHelp("")}
${STORE_HELP}
  -q, --quiet                 print only warnings and the image id

Examples:
  ocibox pull busybox
  OCIBOX_REGISTRY=localhost:5000 ocibox pull app:v1
  ocibox pull --tls-verify=false 127.0.0.1:5000/team/app@sha256:...`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    platform: { type: "string" },
    authfile: { type: "string" },
    ...registryFlagOptions(""),
    ...STORE_OPTION,
    quiet: { type: "boolean", short: "q" },
  });
  expectPositionals(positionals, 1, "ocibox pull [flags] IMAGE");
  const platform = platformFlag(values.platform);
  const options = registryOptions(values, "", values.authfile);
  const store = storeFromFlag(values.store);
  const reporter = await reporterFor(values.quiet);
  return await withInterrupt(async (signal) => {
    const image = await pullImage(store, positionals[0], {
      registry: options.registry,
      platform,
      reporter,
      signal,
    });
    console.log(image.imageId.slice("sha256:".length));
    return 0;
  });
}
