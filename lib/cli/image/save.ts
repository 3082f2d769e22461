/**
 * `ocibox save IMAGE -o FILE`: a store image into a docker-archive or oci-archive file.
 * @module
 */
import { UsageError } from "../../errors.ts";
import { ARCHIVE_FORMATS, type ArchiveFormat, saveImage } from "../../store/archives.ts";
import { expectPositionals, parseFlags } from "../args.ts";
import { reporterFor, withInterrupt } from "../common.ts";
import { STORE_HELP, STORE_OPTION, storeFromFlag } from "./store_flag.ts";

export const help = `Usage: ocibox save [flags] -o FILE IMAGE

Writes the store image IMAGE (a name or an image id) to FILE: a docker-archive (what
docker save writes and docker load reads; RepoTags holds the image's name) or, with
--format oci-archive, an OCI layout in a tar (the name in org.opencontainers.image.ref.name).
An existing FILE is replaced once the new one is complete.

Flags:
  -o, --output FILE           the archive to write (required)
  --format F                  docker-archive (default) or oci-archive
${STORE_HELP}
  -q, --quiet                 print only warnings

Examples:
  ocibox save -o busybox.tar busybox
  ocibox save --format oci-archive -o app.tar localhost:5000/app:v1`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    output: { type: "string", short: "o" },
    format: { type: "string" },
    ...STORE_OPTION,
    quiet: { type: "boolean", short: "q" },
  });
  expectPositionals(positionals, 1, "ocibox save [flags] -o FILE IMAGE");
  if (!values.output) throw new UsageError("-o FILE is required (the archive to write)");
  const format = (values.format ?? "docker-archive") as ArchiveFormat;
  if (!ARCHIVE_FORMATS.includes(format)) {
    throw new UsageError(`--format must be one of ${ARCHIVE_FORMATS.join(", ")}`);
  }
  const store = storeFromFlag(values.store);
  const reporter = await reporterFor(values.quiet);
  return await withInterrupt(async (signal) => {
    await saveImage(store, positionals[0], values.output!, format, { reporter, signal });
    return 0;
  });
}
