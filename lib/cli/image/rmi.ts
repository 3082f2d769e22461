/**
 * `ocibox rmi IMAGE...`: removes images from the local store, as `podman rmi` does.
 * @module
 */
import { UsageError } from "../../errors.ts";
import { listImages, removeImages } from "../../store/image_store.ts";
import { parseFlags } from "../args.ts";
import { STORE_HELP, STORE_OPTION, storeFromFlag } from "./store_flag.ts";

export const help = `Usage: ocibox rmi [flags] IMAGE [IMAGE...]

Removes images from the local store. A name of an image that has other names only takes that
name off ("Untagged"); the last name, or an image id, removes the image ("Deleted") and the
blobs no other image uses. An image a container was made from is refused, unless --force:
then, as with podman, those containers are stopped (killed) and removed too.

Flags:
  -f, --force                 also remove the containers made from the images
  -a, --all                   remove every image
${STORE_HELP}

Examples:
  ocibox rmi busybox
  ocibox rmi -f 3f57d9401f8d`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    force: { type: "boolean", short: "f" },
    all: { type: "boolean", short: "a" },
    ...STORE_OPTION,
  });
  const store = storeFromFlag(values.store);
  let refs = positionals;
  if (values.all) {
    if (refs.length) throw new UsageError("--all and image names exclude each other");
    // One ref per entry: two entries of one image id (pulled and loaded, say, with different
    // manifests) each take a removal by that id.
    refs = (await listImages(store)).map((i) => i.imageId);
  } else if (refs.length === 0) {
    throw new UsageError("expected at least one image; usage: ocibox rmi [flags] IMAGE...");
  }
  const results = await removeImages(store, refs, { force: values.force });
  for (const r of results) {
    for (const name of r.untagged) console.log(`Untagged: ${name}`);
    if (r.deleted) console.log(`Deleted: ${r.deleted.slice("sha256:".length)}`);
    if (r.deleted && r.usedBy.length) await removeContainers(store, r.usedBy);
  }
  return 0;
}

/** Removes the containers `names` (killing running ones), as podman's rmi --force does. */
async function removeContainers(store: string, names: readonly string[]): Promise<void> {
  const [{ readContainer }, { removeContainer }] = await Promise.all([
    import("../../store/container_records.ts"),
    import("../../containers/manage.ts"),
  ]);
  for (const name of names) {
    try {
      await removeContainer(store, await readContainer(store, name), true);
      console.log(`Removed container: ${name}`);
    } catch (e) {
      console.error(`warning: container ${name}: ${e instanceof Error ? e.message : e}`);
    }
  }
}
