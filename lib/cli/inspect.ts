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
import { hasTransport, parseTransportRef } from "../transport/transport_ref.ts";

export const help = `Usage: ocibox inspect [--raw] [--config] [--platform OS/ARCH[/VARIANT]] IMAGE
       ocibox inspect NAME

Prints an image's digest, tags, creation time, platform, labels, layers and environment as
JSON with skopeo inspect's fields. IMAGE is a location such as docker://REGISTRY/REPO:TAG,
oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], dir:DIR, store:NAME. A bare
name is a container of the local store (its podman-style JSON), else an image of the store.

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
  let location = positionals[0];
  if (!hasTransport(location)) {
    if (!values.raw && !values.config) {
      const { inspectContainerByName } = await import("../containers/inspect_view.ts");
      const json = await inspectContainerByName(location);
      if (json !== undefined) {
        console.log(JSON.stringify([json], null, 2));
        return 0;
      }
    }
    // An image of the store when it reads as an image name; else the usage error below.
    if (await isImageName(location)) location = `store:${location}`;
  }
  const from = parseTransportRef(location);
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

/** Whether `s` is a valid image reference (a name for the store). */
async function isImageName(s: string): Promise<boolean> {
  const { candidateNames } = await import("../image/short_names.ts");
  try {
    return candidateNames(s, ["docker.io"]).length > 0;
  } catch {
    return false;
  }
}
