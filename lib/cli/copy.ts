/**
 * `ocibox copy`: an image from any transport to any other.
 * @module
 */
import { UsageError } from "../errors.ts";
import { type Compression, COMPRESSIONS } from "../archive/compression.ts";
import { copyImage } from "../transport/copy.ts";
import { openDestination, openSource, preloadTransport } from "../transport/open.ts";
import { parseTransportRef } from "../transport/transport_ref.ts";
import { expectPositionals, parseFlags } from "./args.ts";
import { platformFlag, reporterFor, withInterrupt } from "./common.ts";
import { registryFlagHelp, registryFlagOptions, registryOptions } from "./registry_flags.ts";

export const help = `Usage: ocibox copy [flags] SOURCE DESTINATION

Copies an image between locations: docker://REGISTRY/REPO[:TAG|@DIGEST], oci:DIR[:TAG],
oci-archive:FILE[:TAG], docker-archive:FILE[:REF], dir:DIR, and store:NAME (an image of
ocibox's local store, as pull, run and rmi name it). Every blob is verified against
its digest while it streams; blobs the destination already has are skipped (and mounted from
the source repository within one registry); nothing appears at the destination (no tag
moves) until the copy is complete.

Flags:
  -a, --all                   copy every image of an index, not only this platform's
  --platform OS/ARCH[/VAR]    image to pick from an index (default: this machine's)
  --dest-compress-format F    recompress layers: gzip, zstd or none
  --dest-compress-level N     level of the layers ocibox compresses (gzip 1-9, default 2 with
                              libdeflate, whose 2 is no larger than skopeo's default output;
                              zstd 1-19, default 3)
  --preserve-digests          fail instead of changing any digest
  -j, --jobs N                blobs copied at once (default 4)
  --authfile FILE             credentials file (default: $REGISTRY_AUTH_FILE, then
                              $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)
${registryFlagHelp("src-", "the source registry")}
${registryFlagHelp("dest-", "the destination registry")}
  -q, --quiet                 print only warnings (progress bars on a terminal otherwise)

Examples:
  ocibox copy oci:./layout:v1 docker-archive:app.tar:example/app:v1
  ocibox copy --all oci-archive:multi.tar oci:./layout:multi
  ocibox copy --dest-compress-format zstd oci:./a:v1 oci:./b:v1
  ocibox copy docker://localhost:5000/app:v1 oci:./layout:app
  ocibox copy store:busybox oci-archive:busybox.tar
  ocibox copy --dest-creds alice:secret oci:./layout:app docker://registry.example/alice/app:v1`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    all: { type: "boolean", short: "a" },
    platform: { type: "string" },
    "dest-compress-format": { type: "string" },
    "dest-compress-level": { type: "string" },
    "preserve-digests": { type: "boolean" },
    jobs: { type: "string", short: "j" },
    authfile: { type: "string" },
    ...registryFlagOptions("src-"),
    ...registryFlagOptions("dest-"),
    quiet: { type: "boolean", short: "q" },
  });
  expectPositionals(positionals, 2, "ocibox copy [flags] SOURCE DESTINATION");
  const format = values["dest-compress-format"];
  if (format !== undefined && !COMPRESSIONS.includes(format as Compression)) {
    throw new UsageError(`--dest-compress-format must be one of ${COMPRESSIONS.join(", ")}`);
  }
  const levelFlag = values["dest-compress-level"];
  const level = levelFlag === undefined ? undefined : Number(levelFlag);
  if (level !== undefined && !(Number.isInteger(level) && level >= 1 && level <= 19)) {
    throw new UsageError(`--dest-compress-level must be a whole number 1-19, not ${levelFlag}`);
  }
  if (level !== undefined && level > 9 && format !== "zstd") {
    throw new UsageError("--dest-compress-level above 9 needs --dest-compress-format zstd");
  }
  if (values.all && values.platform) {
    throw new UsageError("--all and --platform exclude each other");
  }
  // Everything the command line says is checked before any work starts.
  const from = parseTransportRef(positionals[0]);
  const to = parseTransportRef(positionals[1]);
  const platform = platformFlag(values.platform);
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1)) {
    throw new UsageError(`--jobs must be a positive whole number, not ${values.jobs}`);
  }
  preloadTransport(from);
  preloadTransport(to);
  const srcOptions = registryOptions(values, "src-", values.authfile);
  const dstOptions = registryOptions(values, "dest-", values.authfile);
  const reporter = await reporterFor(values.quiet);
  return await withInterrupt(async (signal) => {
    const src = await openSource(from, srcOptions);
    // A registry source starts its handshake while the destination is being opened.
    src.prepare?.(signal);
    reporter.info("Getting image source signatures");
    try {
      const dst = await openDestination(to, dstOptions);
      dst.prepare?.(signal);
      try {
        await copyImage(src, dst, {
          all: values.all,
          platform,
          jobs,
          compression: format as Compression | undefined,
          compressionLevel: level,
          preserveDigests: values["preserve-digests"],
          reporter,
          signal,
        });
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
    return 0;
  });
}
