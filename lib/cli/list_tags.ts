/**
 * `ocibox list-tags`: a repository's tags, as skopeo prints them.
 * @module
 */
import { UsageError } from "../errors.ts";
import { openSource } from "../transport/open.ts";
import { parseTransportRef } from "../transport/transport_ref.ts";
import { RegistrySource } from "../transport/docker_registry.ts";
import { expectPositionals, parseFlags } from "./args.ts";
import { registryFlagHelp, registryFlagOptions, registryOptions } from "./registry_flags.ts";

export const help = `Usage: ocibox list-tags [flags] docker://REGISTRY/REPOSITORY

Prints the repository's tags as JSON ({"Repository": ..., "Tags": [...]}), following the
registry's pagination.

Flags:
  --authfile FILE           registry credentials file
${registryFlagHelp("")}

Example:
  ocibox list-tags docker://localhost:5000/library/busybox`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    authfile: { type: "string" },
    ...registryFlagOptions(""),
  });
  expectPositionals(positionals, 1, "ocibox list-tags [flags] docker://REPOSITORY");
  const ref = parseTransportRef(positionals[0]);
  if (ref.transport !== "docker") {
    throw new UsageError(`list-tags needs a docker:// repository, not ${positionals[0]}`);
  }
  if (/[:@]/.test(ref.ref.slice(ref.ref.lastIndexOf("/") + 1))) {
    throw new UsageError(`list-tags needs a repository without a tag or digest: ${positionals[0]}`);
  }
  const src = await openSource(ref, registryOptions(values, "", values.authfile));
  try {
    const tags = await src.repoTags();
    const repository = src instanceof RegistrySource ? src.dockerName : ref.ref;
    console.log(JSON.stringify({ Repository: repository, Tags: tags }, null, 4));
    return 0;
  } finally {
    await src.close();
  }
}
