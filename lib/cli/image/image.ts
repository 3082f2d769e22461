/**
 * `ocibox image SUBCOMMAND`: `image prune`, plus podman's `image ls|rm|pull|push|tag|save|load`
 * spellings of the image commands.
 * @module
 */
import { UsageError } from "../../errors.ts";
import { pruneStore } from "../../store/prune.ts";
import { parseFlags } from "../args.ts";
import { STORE_HELP, STORE_OPTION, storeFromFlag } from "./store_flag.ts";

export const help = `Usage: ocibox image SUBCOMMAND [flags] [ARGS]

Subcommands:
  prune       remove images without a name that no container uses (-a: every image no
              container uses), then the blobs and cached layers nothing refers to
  ls, list    the same as ocibox images
  rm          the same as ocibox rmi
  pull, push, tag, save, load   the same as ocibox pull, push, tag, save, load

Flags of prune:
  -a, --all                   also remove named images no container uses
  -f, --force                 accepted for podman's command line (ocibox does not ask)
${STORE_HELP}`;

const ALIASES: Record<string, () => Promise<{ run(args: string[]): Promise<number> }>> = {
  ls: () => import("./images.ts"),
  list: () => import("./images.ts"),
  rm: () => import("./rmi.ts"),
  pull: () => import("./pull.ts"),
  push: () => import("./push.ts"),
  tag: () => import("./tag.ts"),
  save: () => import("./save.ts"),
  load: () => import("./load.ts"),
};

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined) throw new UsageError("expected a subcommand; see ocibox image --help");
  if (sub === "prune") return await prune(rest);
  const load = ALIASES[sub];
  if (!load) {
    throw new UsageError(
      `unknown subcommand image ${JSON.stringify(sub)}; see ocibox image --help`,
    );
  }
  return await (await load()).run(rest);
}

async function prune(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    all: { type: "boolean", short: "a" },
    force: { type: "boolean", short: "f" },
    ...STORE_OPTION,
  });
  if (positionals.length) throw new UsageError("usage: ocibox image prune [-a] [-f]");
  const store = storeFromFlag(values.store);
  const result = await pruneStore(store, { all: values.all });
  for (const id of result.images) console.log(id.slice("sha256:".length));
  return 0;
}
