/**
 * `ocibox load -i FILE`: every image of a docker-archive or oci-archive into the store.
 * @module
 */
import { UsageError } from "../../errors.ts";
import { loadArchive } from "../../store/archives.ts";
import { parseFlags } from "../args.ts";
import { reporterFor, withInterrupt } from "../common.ts";
import { STORE_HELP, STORE_OPTION, storeFromFlag } from "./store_flag.ts";

export const help = `Usage: ocibox load [flags] -i FILE

Stores every image of FILE, a docker-archive (docker save, skopeo, podman save) or an
oci-archive (the format is detected; a gzip- or zstd-compressed file too, and a directory
holding an extracted archive). Images are named by the archive: RepoTags of a docker save,
the io.containerd.image.name or org.opencontainers.image.ref.name annotation of an OCI
archive when it is a full image name; others are stored without a name. Prints
"Loaded image: NAME" for each name (the image id for an image without one).

Flags:
  -i, --input FILE            the archive to read (required)
${STORE_HELP}
  -q, --quiet                 print only warnings and the loaded names

Examples:
  docker save busybox | gzip > busybox.tar.gz && ocibox load -i busybox.tar.gz
  ocibox load -i app-oci.tar`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    input: { type: "string", short: "i" },
    ...STORE_OPTION,
    quiet: { type: "boolean", short: "q" },
  });
  if (positionals.length) throw new UsageError("usage: ocibox load [flags] -i FILE");
  if (!values.input) throw new UsageError("-i FILE is required (the archive to read)");
  const store = storeFromFlag(values.store);
  const reporter = await reporterFor(values.quiet);
  return await withInterrupt(async (signal) => {
    const loaded = await loadArchive(store, values.input!, { reporter, signal });
    for (const img of loaded) {
      if (img.names.length === 0) console.log(`Loaded image: ${img.imageId}`);
      for (const name of img.names) console.log(`Loaded image: ${name}`);
    }
    return 0;
  });
}
