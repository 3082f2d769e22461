/**
 * `ocibox gc`: garbage collection of a registry root (`ocibox serve`'s storage), safe while the
 * server runs (see lib/server/storage/gc.ts for the rule).
 * @module
 */
import { UsageError } from "../errors.ts";
import { defaultRoot, parseDuration } from "../server/config.ts";
import { collectGarbage, DEFAULT_GC_MIN_AGE_MS } from "../server/storage/gc.ts";
import { expectPositionals, parseFlags } from "./args.ts";

export const help =
  `Usage: ocibox gc [--root DIR] [--dry-run] [--delete-untagged] [--min-age DURATION]

Removes the blobs of a registry root that no manifest of any repository references. Safe to run
while "ocibox serve" uses the same root: blobs that a push in progress will reference are kept.

Flags:
  --root DIR            the registry root (default: ${defaultRoot()})
  --dry-run             list what would be removed; remove nothing
  --delete-untagged     also remove untagged manifests that no tagged manifest needs (children
                        of tagged indexes and referrers of kept manifests stay)
  --min-age DURATION    keep unreferenced blobs younger than this, giving pushes time to put the
                        manifest that references their blobs (default 1h; 0 removes at once)
  --json                print the result as JSON

Example:
  ocibox gc --root /var/lib/ocibox/registry --dry-run`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    root: { type: "string" },
    "dry-run": { type: "boolean" },
    "delete-untagged": { type: "boolean" },
    "min-age": { type: "string" },
    json: { type: "boolean" },
  });
  expectPositionals(positionals, 0, "ocibox gc [--root DIR] [--dry-run] [--delete-untagged]");
  const root = values.root ?? defaultRoot();
  try {
    if (!(await Deno.stat(`${root}/blobs`)).isDirectory) throw new Error();
  } catch {
    throw new UsageError(`${root} is not a registry root (no blobs/ directory)`);
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  Deno.addSignalListener("SIGINT", stop);
  try {
    const result = await collectGarbage(root, {
      dryRun: values["dry-run"] ?? false,
      deleteUntagged: values["delete-untagged"] ?? false,
      minAgeMs: values["min-age"] !== undefined
        ? parseDuration(values["min-age"])
        : DEFAULT_GC_MIN_AGE_MS,
      signal: controller.signal,
    });
    if (values.json) {
      console.log(JSON.stringify(result, null, 2));
      return 0;
    }
    const verb = result.dryRun ? "would remove" : "removed";
    for (const m of result.removedManifests) {
      console.log(`${verb} untagged manifest ${m.repository}@${m.digest}`);
    }
    for (const b of result.removedBlobs) console.log(`${verb} blob ${b.digest} (${b.size} bytes)`);
    console.log(
      `${result.markedBlobs} blobs in use; ${verb} ${result.removedBlobs.length} blobs ` +
        `(${result.removedBytes} bytes) and ${result.removedManifests.length} untagged manifests`,
    );
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
  }
}
