/**
 * `ocibox inspect`: what skopeo inspect prints, for every transport.
 * @module
 */
import { buildInspectConfig, buildInspectInfo, formatInspectInfo } from "../image/inspect_info.ts";
import { openSource } from "../transport/open.ts";
import { readConfig, resolveManifest } from "../transport/resolve.ts";
import { expectPositionals, parseFlags } from "./args.ts";
import { platformFlag, writeStdout } from "./common.ts";
import { registryFlagHelp, registryFlagOptions, registryOptions } from "./registry_flags.ts";
import { parseTransportRef } from "../transport/transport_ref.ts";

export const help = `Usage: ocibox inspect [--raw] [--config] [--platform OS/ARCH[/VARIANT]] IMAGE

Prints an image's digest, tags, creation time, platform, labels, layers and environment as
JSON with skopeo inspect's fields. IMAGE is a location such as docker://REGISTRY/REPO:TAG,
oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], dir:DIR.

Flags:
  --raw              print the top-level manifest (or index) exactly as stored
  --config           print the image config (with --raw: its exact bytes)
  --platform P       image to pick from an index (default: this machine's)
  --authfile FILE    registry credentials file
${registryFlagHelp("")}

Examples:
  ocibox inspect oci:./layout:v1
  ocibox inspect --raw docker-archive:busybox.tar
  ocibox inspect --config --platform linux/arm64 oci:./multi`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    raw: { type: "boolean" },
    config: { type: "boolean" },
    platform: { type: "string" },
    authfile: { type: "string" },
    ...registryFlagOptions(""),
  });
  expectPositionals(positionals, 1, "ocibox inspect [flags] IMAGE");
  const platform = platformFlag(values.platform);
  const from = parseTransportRef(positionals[0]);
  const src = await openSource(from, registryOptions(values, "", values.authfile));
  try {
    if (values.raw && !values.config) {
      const raw = await src.getManifest();
      await writeStdout(raw.bytes);
      return 0;
    }
    const { top, manifest } = await resolveManifest(src, { platform });
    const { bytes, config } = await readConfig(src, manifest);
    if (values.config) {
      if (values.raw) await writeStdout(bytes);
      else console.log(formatInspectInfo(buildInspectConfig(config)));
      return 0;
    }
    const info = buildInspectInfo({
      name: src.dockerName,
      digest: top.digest,
      repoTags: await src.repoTags(),
      manifest: manifest.manifest,
      config,
    });
    console.log(formatInspectInfo(info));
    return 0;
  } finally {
    await src.close();
  }
}
