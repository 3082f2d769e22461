/**
 * `ocibox start`: runs a created container's program.
 * @module
 */
import { startContainer } from "../../runtime/lifecycle/start.ts";
import { expectPositionals, parseFlags } from "../args.ts";
import { runtimeGlobals } from "../runtime_globals.ts";

export const help = `Usage: ocibox start ID

Runs the program of created container ID (startContainer hooks first, poststart after).`;

export async function run(args: string[]): Promise<number> {
  const { positionals } = parseFlags(args, {});
  expectPositionals(positionals, 1, "ocibox start ID");
  await startContainer(runtimeGlobals.root, positionals[0]);
  return 0;
}
