/**
 * `ocibox delete ID` (runc's): removes a container. The registry's `delete docker://...` shares
 * the word; lib/cli/delete.ts sends container ids here.
 * @module
 */
import { deleteContainer } from "../../runtime/lifecycle/delete.ts";
import { expectPositionals, parseFlags } from "../args.ts";
import { runtimeGlobals } from "../runtime_globals.ts";

export const help = `Usage: ocibox delete [--force] ID

Deletes a stopped or created container: its processes, cgroup and state; then runs its
poststop hooks. A running container needs --force (everything in it is killed first).`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { force: { type: "boolean", short: "f" } });
  expectPositionals(positionals, 1, "ocibox delete [--force] ID");
  await deleteContainer(runtimeGlobals.root, positionals[0], values.force);
  return 0;
}
