/**
 * `ocibox tag IMAGE NAME...`: more names for a store image.
 * @module
 */
import { UsageError } from "../../errors.ts";
import { tagImage } from "../../store/image_store.ts";
import { normalizeName } from "../../image/short_names.ts";
import { parseFlags } from "../args.ts";
import { STORE_HELP, STORE_OPTION, storeFromFlag } from "./store_flag.ts";

export const help = `Usage: ocibox tag [flags] IMAGE NAME [NAME...]

Gives the store image IMAGE (a name or an image id) each NAME as well. NAME is normalized
like docker's: app means docker.io/library/app:latest, localhost:5000/app:v1 stays. An image
that had NAME before keeps its other names (or stays, nameless, for image prune).

Flags:
${STORE_HELP}

Examples:
  ocibox tag busybox localhost:5000/busybox:mine
  ocibox tag 3f57d9401f8d myapp:v2`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...STORE_OPTION });
  if (positionals.length < 2) {
    throw new UsageError(
      "expected an image and at least one name; usage: ocibox tag IMAGE NAME...",
    );
  }
  const store = storeFromFlag(values.store);
  const names = positionals.slice(1).map((n) => {
    const full = normalizeName(n);
    if (full.includes("@")) throw new UsageError(`${n}: a tag cannot hold a digest`);
    return full;
  });
  for (const name of names) await tagImage(store, positionals[0], name);
  return 0;
}
