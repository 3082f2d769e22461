/**
 * `ocibox state`: prints a container's state JSON (state-schema.json).
 * @module
 */
import { containerState } from "../../runtime/lifecycle/query.ts";
import { expectPositionals, parseFlags } from "../args.ts";
import { runtimeGlobals } from "../runtime_globals.ts";

export const help = `Usage: ocibox state ID

Prints container ID's state as the runtime spec defines it: ociVersion, id, status
(created, running, paused or stopped), pid, bundle, annotations.`;

export async function run(args: string[]): Promise<number> {
  const { positionals } = parseFlags(args, {});
  expectPositionals(positionals, 1, "ocibox state ID");
  const state = await containerState(runtimeGlobals.root, positionals[0]);
  console.log(JSON.stringify(state, null, "  "));
  return 0;
}
