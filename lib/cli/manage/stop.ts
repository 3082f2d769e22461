/**
 * `ocibox stop [-t SECONDS] NAME...`: podman's stop.
 * @module
 */
import { UsageError } from "../../errors.ts";
import { stopContainer } from "../../containers/manage.ts";
import { readContainer } from "../../store/container_records.ts";
import { storeRoot } from "../../store/store_root.ts";
import { parseFlags } from "../args.ts";

export const help = `Usage: ocibox stop [-t SECONDS] NAME...

Stops containers of the store: the image's stop signal (default TERM), then KILL after SECONDS
(default 10); prints each name once it has stopped.`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { time: { type: "string", short: "t" } });
  if (!positionals.length) throw new UsageError("usage: ocibox stop [-t SECONDS] NAME...");
  const seconds = values.time === undefined ? 10 : Number(values.time);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new UsageError(`-t takes a number of seconds, not ${values.time}`);
  }
  const store = storeRoot();
  for (const name of positionals) {
    await stopContainer(store, await readContainer(store, name), seconds);
    console.log(name);
  }
  return 0;
}
