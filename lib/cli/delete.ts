/**
 * `ocibox delete`: removes an image (its manifest) from a registry.
 * @module
 */
import { NotFoundError, UsageError } from "../errors.ts";
import { parseTransportRef } from "../transport/transport_ref.ts";
import { expectPositionals, parseFlags } from "./args.ts";
import { registryFlagHelp, registryFlagOptions, registryOptions } from "./registry_flags.ts";

export const help = `Usage: ocibox delete [flags] docker://REGISTRY/REPOSITORY[:TAG|@DIGEST]
       ocibox delete [--force] CONTAINER-ID

Deletes the manifest a tag or digest names. A tag is first resolved to its digest, so every
tag pointing at that manifest goes with it (as with skopeo delete). The registry must allow
deletes (docker-registry: storage.delete.enabled).

Flags:
  --authfile FILE           registry credentials file
${registryFlagHelp("")}

Without a transport prefix the argument is a container: see the runtime commands (runc's
delete; --force kills a running one first).

Example:
  ocibox delete docker://localhost:5000/app:old
  ocibox delete --force web1`;

export async function run(args: string[]): Promise<number> {
  // A container id never contains ":" and an image reference always does (docker://).
  if (!args.some((a) => a.includes(":"))) {
    return await (await import("./container/delete.ts")).run(args);
  }
  const { values, positionals } = parseFlags(args, {
    authfile: { type: "string" },
    ...registryFlagOptions(""),
  });
  expectPositionals(positionals, 1, "ocibox delete [flags] docker://REFERENCE");
  const ref = parseTransportRef(positionals[0]);
  if (ref.transport !== "docker") {
    throw new UsageError(`delete needs a docker:// image, not ${positionals[0]}`);
  }
  const { openRegistrySource } = await import("../transport/docker_registry.ts");
  const src = await openRegistrySource(
    positionals[0],
    ref.ref,
    registryOptions(values, "", values.authfile).registry,
  );
  try {
    const reference = src.reference.digest ?? src.reference.tag ?? "latest";
    const found = await src.client.headManifest(reference);
    if (!found) throw new NotFoundError(`${positionals[0]}: no such manifest`);
    await src.client.deleteManifest(found.digest);
    console.error(`Deleted ${src.dockerName}@${found.digest}`);
    return 0;
  } finally {
    await src.close();
  }
}
