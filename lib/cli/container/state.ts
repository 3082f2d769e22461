/**
 * `ocibox state`: prints a container's state JSON (state-schema.json).
 * @module
 */
import { containerState } from "../../runtime/lifecycle/query.ts";
import { expectPositionals, parseFlags } from "../args.ts";
import { runtimeTarget } from "./target.ts";

export const help = `Usage: ocibox state ID|NAME

Prints container ID's state as the runtime spec defines it: ociVersion, id, status
(created, running, paused or stopped), pid, bundle, annotations.`;

export async function run(args: string[]): Promise<number> {
  const { positionals } = parseFlags(args, {});
  expectPositionals(positionals, 1, "ocibox state ID");
  const target = await runtimeTarget(positionals[0]);
  const state = await containerState(target.root, target.id);
  console.log(JSON.stringify(state, null, "  "));
  return 0;
}
