/**
 * `ocibox append`: a new image from a base (or scratch) plus layers and config changes.
 * @module
 */
import { UsageError } from "../errors.ts";
import { type Compression, COMPRESSIONS } from "../archive/compression.ts";
import { appendImage, type LayerInput } from "../mutate/append.ts";
import { copyImage } from "../transport/copy.ts";
import { openDestination, openSource } from "../transport/open.ts";
import { parseTransportRef } from "../transport/transport_ref.ts";
import type { ImageSource } from "../transport/types.ts";
import { allStrings, expectPositionals, lastString, parseFlags } from "./args.ts";
import { platformFlag, reporterFor, withInterrupt } from "./common.ts";

export const help =
  `Usage: ocibox append [--base IMAGE] --layer DIR|TAR [--layer ...] [flags] DESTINATION

Makes a new image: the base image (or an empty one) plus one layer per --layer, and
writes it to DESTINATION (any writable location, e.g. oci:DIR:TAG). A directory becomes a
deterministic tar (sorted names, hardlinks and xattrs kept); a .tar file is used as it is
(a gzip or zstd tar is stored unchanged; a plain tar is compressed with --compression).

Flags:
  --base IMAGE              image to build on (default: scratch)
  --layer PATH              directory or tar file to add as a layer (repeatable)
  --compression C           gzip (default), zstd or none for new layers
  --platform OS/ARCH[/VAR]  platform of the base to use, or of a scratch image
  --entrypoint ARG          entrypoint argument (repeat for more; a JSON array also works)
  --cmd ARG                 command argument (repeat for more; a JSON array also works)
  --env NAME=VALUE          set an environment variable (repeatable)
  --workdir DIR             working directory
  --user USER[:GROUP]       user to run as
  --label KEY=VALUE         add a label (repeatable)
  --created TIME            creation time (RFC 3339; default SOURCE_DATE_EPOCH or now)
  -q, --quiet               print only warnings

Examples:
  ocibox append --layer ./rootfs --cmd /bin/sh oci:./layout:base
  ocibox append --base oci:./layout:base --layer ./app --entrypoint /app/run \\
      --env MODE=prod --label org.opencontainers.image.version=1.0 oci:./layout:app`;

/** Repeated flag values as one argument list; a single `[...]` value is parsed as JSON. */
function argList(values: string[], flag: string): string[] | undefined {
  if (values.length === 0) return undefined;
  if (values.length === 1 && values[0].trimStart().startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(values[0]);
    } catch {
      throw new UsageError(`--${flag}: ${values[0]} is not a JSON array`);
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === "string")) {
      throw new UsageError(`--${flag}: expected a JSON array of strings`);
    }
    return parsed;
  }
  return values;
}

function labels(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf("=");
    if (i <= 0) throw new UsageError(`--label ${JSON.stringify(v)}: expected KEY=VALUE`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

async function layerInput(path: string): Promise<LayerInput> {
  try {
    const st = await Deno.stat(path);
    if (st.isDirectory) return { kind: "dir", path };
    if (st.isFile) return { kind: "tar", path };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UsageError(`--layer ${path}: does not exist`);
    throw e;
  }
  throw new UsageError(`--layer ${path}: neither a directory nor a file`);
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    base: { type: "string" },
    layer: { type: "string", multiple: true },
    compression: { type: "string" },
    platform: { type: "string" },
    entrypoint: { type: "string", multiple: true },
    cmd: { type: "string", multiple: true },
    env: { type: "string", multiple: true },
    workdir: { type: "string" },
    user: { type: "string" },
    label: { type: "string", multiple: true },
    created: { type: "string" },
    quiet: { type: "boolean", short: "q" },
  });
  expectPositionals(positionals, 1, "ocibox append [--base IMAGE] --layer PATH ... DESTINATION");
  const compression = lastString(values.compression);
  if (compression !== undefined && !COMPRESSIONS.includes(compression as Compression)) {
    throw new UsageError(`--compression must be one of ${COMPRESSIONS.join(", ")}`);
  }
  const created = lastString(values.created);
  if (created !== undefined && Number.isNaN(Date.parse(created))) {
    throw new UsageError(`--created ${created}: not an RFC 3339 time`);
  }
  const layers = await Promise.all(allStrings(values.layer).map(layerInput));
  const baseName = lastString(values.base);
  const baseRef = baseName === undefined ? undefined : parseTransportRef(baseName);
  const to = parseTransportRef(positionals[0]);
  const platform = platformFlag(lastString(values.platform));
  const edits = {
    entrypoint: argList(allStrings(values.entrypoint), "entrypoint"),
    cmd: argList(allStrings(values.cmd), "cmd"),
    env: allStrings(values.env),
    workdir: lastString(values.workdir),
    user: lastString(values.user),
    labels: labels(allStrings(values.label)),
  };
  const reporter = await reporterFor(values.quiet);
  return await withInterrupt(async (signal) => {
    const base: ImageSource | undefined = baseRef ? await openSource(baseRef) : undefined;
    try {
      const image = await appendImage({
        base,
        baseName,
        platform,
        layers,
        compression: compression as Compression | undefined,
        created,
        edits,
        reporter,
        signal,
      });
      try {
        const dst = await openDestination(to);
        try {
          const r = await copyImage(image, dst, { reporter, signal });
          reporter.info(`Wrote ${r.digest} to ${positionals[0]}`);
        } finally {
          await dst.close();
        }
      } finally {
        await image.close();
      }
    } finally {
      await base?.close();
    }
    return 0;
  });
}
