/**
 * `ocibox unpack`: an image into a runtime bundle.
 * @module
 */
import { openSource } from "../transport/open.ts";
import { parseTransportRef } from "../transport/transport_ref.ts";
import { unpackBundle } from "../bundle/unpack_bundle.ts";
import { expectPositionals, parseFlags } from "./args.ts";
import { platformFlag, reporterFor, withInterrupt } from "./common.ts";
import { registryFlagHelp, registryFlagOptions, registryOptions } from "./registry_flags.ts";

export const help = `Usage: ocibox unpack [flags] IMAGE BUNDLE

Unpacks IMAGE into the OCI runtime bundle directory BUNDLE (which must not exist or be
empty): BUNDLE/rootfs with every layer applied (whiteouts, hardlinks, ownership, modes,
xattrs, devices when root) and BUNDLE/config.json made from the image config by the image
spec's conversion rules (args, env, cwd, user resolved through the image's /etc/passwd and
/etc/group, annotations). Layers are verified against their digests and the config's diff_ids
while they stream. No entry can write or follow anything outside BUNDLE/rootfs.

Flags:
  --platform OS/ARCH[/VAR]  image to pick from an index (default: this machine's)
  --rootless                do not chown or create devices; write a rootless config.json
                            (the default when not running as root)
  --authfile FILE           registry credentials file
${registryFlagHelp("")}
  -q, --quiet               print only warnings

Examples:
  ocibox unpack oci:./layout:v1 ./bundle
  runc run -b ./bundle mycontainer`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    platform: { type: "string" },
    rootless: { type: "boolean" },
    authfile: { type: "string" },
    ...registryFlagOptions(""),
    quiet: { type: "boolean", short: "q" },
  });
  expectPositionals(positionals, 2, "ocibox unpack [flags] IMAGE BUNDLE");
  const from = parseTransportRef(positionals[0]);
  const platform = platformFlag(values.platform);
  const reporter = await reporterFor(values.quiet);
  return await withInterrupt(async (signal) => {
    const src = await openSource(from, registryOptions(values, "", values.authfile));
    try {
      const r = await unpackBundle(src, positionals[1], {
        platform,
        rootless: values.rootless ? true : undefined,
        reporter,
        signal,
      });
      reporter.info(
        `Unpacked ${r.manifestDigest}: ${r.layers} layers, ${r.files} files, ${r.bytes} bytes into ${
          positionals[1]
        }`,
      );
      return 0;
    } finally {
      await src.close();
    }
  });
}
