/**
 * `ocibox images`: the images of the local store, as `podman images` lists them.
 * @module
 */
import { UsageError } from "../../errors.ts";
import { ago } from "../../containers/durations.ts";
import { repositoryAndTag } from "../../image/short_names.ts";
import { containersByImage } from "../../store/container_records.ts";
import { listImages, type StoredImage } from "../../store/image_store.ts";
import { parseFlags } from "../args.ts";
import { STORE_HELP, STORE_OPTION, storeFromFlag } from "./store_flag.ts";

export const help = `Usage: ocibox images [flags] [REPOSITORY[:TAG]]

Lists the images of the local store: REPOSITORY, TAG, IMAGE ID (the config's digest, as
podman and docker show it), CREATED and SIZE (of the blobs as stored, compressed), newest
first. An image without a name shows as <none>. REPOSITORY[:TAG] lists only the images with
that name (short names as for pull).

Flags:
  --format json               podman's JSON (Id, Names, Digest, Size, Created ...)
  -q, --quiet                 only image ids
  --no-trunc                  full image ids
${STORE_HELP}`;

/** go-units' HumanSizeWithPrecision(size, 3), as podman prints sizes. */
export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(3))} ${units[i]}`;
}

/** One row per name (one `<none>` row for a nameless image). */
interface Row {
  image: StoredImage;
  repository: string;
  tag: string;
}

function rows(images: StoredImage[]): Row[] {
  const out: Row[] = [];
  for (const image of images) {
    if (image.names.length === 0) out.push({ image, repository: "<none>", tag: "<none>" });
    for (const name of image.names) {
      const [repository, tag] = repositoryAndTag(name);
      out.push({ image, repository, tag });
    }
  }
  return out;
}

function createdTime(image: StoredImage): Date | undefined {
  const t = image.config.created ? new Date(image.config.created) : undefined;
  return t && !isNaN(t.getTime()) ? t : undefined;
}

function matches(image: StoredImage, filter: string): boolean {
  return image.names.some((n) => {
    const [repo, tag] = repositoryAndTag(n);
    const [frepo, ftag] = filter.includes(":") && !filter.endsWith("]")
      ? [filter.slice(0, filter.lastIndexOf(":")), filter.slice(filter.lastIndexOf(":") + 1)]
      : [filter, undefined];
    const repoOk = repo === frepo || repo.endsWith(`/${frepo}`);
    return repoOk && (ftag === undefined || ftag === tag);
  });
}

function jsonOf(image: StoredImage, containers: number) {
  const created = createdTime(image);
  const repoDigests = image.names.map((n) => `${repositoryAndTag(n)[0]}@${image.manifestDigest}`);
  return {
    Id: image.imageId.slice("sha256:".length),
    ParentId: "",
    RepoTags: image.names,
    RepoDigests: [...new Set(repoDigests)],
    Size: image.size,
    SharedSize: 0,
    VirtualSize: image.size,
    Labels: image.config.config?.Labels ?? null,
    Containers: containers,
    Names: image.names,
    Digest: image.manifestDigest,
    Created: created ? Math.floor(created.getTime() / 1000) : 0,
    CreatedAt: created ? image.config.created : "",
  };
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    format: { type: "string" },
    quiet: { type: "boolean", short: "q" },
    "no-trunc": { type: "boolean" },
    ...STORE_OPTION,
  });
  if (values.format !== undefined && values.format !== "json" && values.format !== "table") {
    throw new UsageError(`--format must be json or table, not ${JSON.stringify(values.format)}`);
  }
  if (positionals.length > 1) throw new UsageError("expected at most one REPOSITORY[:TAG]");
  const store = storeFromFlag(values.store);
  let images = await listImages(store);
  if (positionals[0] !== undefined) images = images.filter((i) => matches(i, positionals[0]));
  // Newest first, as podman sorts.
  images.sort((a, b) => (createdTime(b)?.getTime() ?? 0) - (createdTime(a)?.getTime() ?? 0));
  const id = (i: StoredImage) => {
    const hex = i.imageId.slice("sha256:".length);
    return values["no-trunc"] ? i.imageId : hex.slice(0, 12);
  };
  if (values.format === "json") {
    const users = await containersByImage(store);
    const out = images.map((i) => jsonOf(i, users.get(i.imageId)?.length ?? 0));
    console.log(JSON.stringify(out, null, 4));
    return 0;
  }
  if (values.quiet) {
    const ids = [...new Set(images.map(id))];
    if (ids.length) console.log(ids.join("\n"));
    return 0;
  }
  const now = new Date();
  const table = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]];
  for (const r of rows(images)) {
    const created = createdTime(r.image);
    table.push([
      r.repository,
      r.tag,
      id(r.image),
      created ? ago(created, now) : "N/A",
      humanSize(r.image.size),
    ]);
  }
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const row of table) {
    console.log(
      row.map((cell, c) => c === row.length - 1 ? cell : cell.padEnd(widths[c])).join("  "),
    );
  }
  return 0;
}
