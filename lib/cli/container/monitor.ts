/**
 * `ocibox container-monitor ID` (internal, not in `--help`): the monitor `run -d` starts for a
 * detached container; see lib/containers/run_image.ts.
 * @module
 */
import { monitorContainer } from "../../containers/run_image.ts";
import { storeRoot } from "../../store/store_root.ts";
import { expectPositionals, parseFlags } from "../args.ts";
import { runExitCode } from "../manage/run_image.ts";

export const help = `Usage: ocibox container-monitor ID

Internal: runs the detached container ID of the store (made by run -d) and finishes it when it
exits, keeping its output in the container's ctr.log and its exit code in exit.json.`;

export async function run(args: string[]): Promise<number> {
  const { positionals } = parseFlags(args, {});
  expectPositionals(positionals, 1, "ocibox container-monitor ID");
  return await monitorContainer(storeRoot(), positionals[0], runExitCode);
}
