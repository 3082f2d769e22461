/**
 * `ocibox rm [-f] NAME...`: podman's rm.
 * @module
 */
import { UsageError } from "../../errors.ts";
import { removeContainer } from "../../containers/manage.ts";
import { readContainer } from "../../store/container_records.ts";
import { storeRoot } from "../../store/store_root.ts";
import { parseFlags } from "../args.ts";

export const help = `Usage: ocibox rm [-f] NAME...

Removes containers of the store with everything they have (their layer on top of the image,
logs, state). A running container needs -f, which kills it first.`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { force: { type: "boolean", short: "f" } });
  if (!positionals.length) throw new UsageError("usage: ocibox rm [-f] NAME...");
  const store = storeRoot();
  for (const name of positionals) {
    await removeContainer(store, await readContainer(store, name), values.force === true);
    console.log(name);
  }
  return 0;
}
