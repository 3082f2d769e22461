/**
 * `ocibox resume`: thaws a paused container.
 * @module
 */
import { help as pauseHelp, runPause } from "./pause.ts";

export const help = pauseHelp;

export function run(args: string[]): Promise<number> {
  return runPause(args, false);
}
