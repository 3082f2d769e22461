/**
 * `ocibox run [FLAGS] IMAGE [COMMAND [ARG...]]`: podman's one-liner. Exit codes as podman's:
 * the container's own, 125 when ocibox fails, 126 when the command cannot be executed, 127
 * when it is not found.
 * @module
 */
import { ExitCodeError, UsageError } from "../../errors.ts";
import { ProgramError } from "../../runtime/lifecycle/program.ts";
import { parseRunArgs } from "../../containers/run_flags.ts";
import { runImage, StartFailure } from "../../containers/run_image.ts";
import { storeRoot } from "../../store/store_root.ts";
import { reporterFor, withInterrupt } from "../common.ts";
import { runtimeGlobals } from "../runtime_globals.ts";
import { RUN_IMAGE_HELP } from "../container/run.ts";

/** The exit code podman gives for `e` during `run IMAGE`. */
export function runExitCode(e: unknown): number {
  if (e instanceof StartFailure) return e.exitCode;
  if (e instanceof ProgramError) return e.reason === "denied" ? 126 : 127;
  return 125;
}

export async function run(args: string[]): Promise<number> {
  let request;
  try {
    request = parseRunArgs(args, { cwd: Deno.cwd() });
  } catch (e) {
    throw new ExitCodeError(125, e);
  }
  if (request.help) {
    console.log(RUN_IMAGE_HELP);
    return 0;
  }
  try {
    const reporter = await reporterFor(false);
    const { id, exitCode } = await withInterrupt((signal) =>
      runImage(request, {
        store: storeRoot(),
        runtimeRoot: runtimeGlobals.root,
        reporter,
        signal,
      })
    );
    if (request.detach) console.log(id);
    return exitCode;
  } catch (e) {
    if (e instanceof UsageError || !(e instanceof ExitCodeError)) {
      throw new ExitCodeError(runExitCode(e), e);
    }
    throw e;
  }
}
