/**
 * `ocibox logs [-f] NAME`: what a detached container wrote.
 * @module
 */
import { containerLog } from "../../containers/manage.ts";
import { readContainer } from "../../store/container_records.ts";
import { storeRoot } from "../../store/store_root.ts";
import { expectPositionals, parseFlags } from "../args.ts";
import { writeStdout } from "../common.ts";

export const help = `Usage: ocibox logs [-f] NAME

Prints what the detached container NAME (ocibox run -d) wrote to its stdout and stderr, which
ocibox keeps in the store; with -f, goes on until the container ends.`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { follow: { type: "boolean", short: "f" } });
  expectPositionals(positionals, 1, "ocibox logs [-f] NAME");
  const store = storeRoot();
  const rec = await readContainer(store, positionals[0]);
  for await (const chunk of containerLog(store, rec, values.follow === true)) {
    await writeStdout(chunk);
  }
  return 0;
}
