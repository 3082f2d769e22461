/**
 * `ocibox pause` and `ocibox resume`: freeze and thaw a container's cgroup.
 * @module
 */
import { setPaused } from "../../runtime/lifecycle/query.ts";
import { expectPositionals, parseFlags } from "../args.ts";
import { runtimeTarget } from "./target.ts";

export const help = `Usage: ocibox pause ID | ocibox resume ID

pause freezes every process of a running container (cgroup freezer); resume thaws them.`;

/** Runs pause or resume. */
export async function runPause(args: string[], pause: boolean): Promise<number> {
  const { positionals } = parseFlags(args, {});
  expectPositionals(positionals, 1, `ocibox ${pause ? "pause" : "resume"} ID`);
  const target = await runtimeTarget(positionals[0]);
  await setPaused(target.root, target.id, pause);
  return 0;
}

export function run(args: string[]): Promise<number> {
  return runPause(args, true);
}
