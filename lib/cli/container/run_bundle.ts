/**
 * `ocibox run -b BUNDLE ID`: runc's run (create + start + wait + delete).
 * @module
 */
import { runContainer } from "../../runtime/lifecycle/run.ts";
import { expectPositionals, parseFlags } from "../args.ts";
import { CREATE_FLAG_HELP, CREATE_FLAGS, createOptions } from "./create_flags.ts";

/** Help of runc's form. */
export const RUN_BUNDLE_HELP = `Usage: ocibox run [flags] -b BUNDLE ID      (runc's run)

Creates and starts container ID from a bundle, waits for its program and exits with its exit
code (128+N when killed by signal N), after deleting the container. Signals sent to ocibox are
passed on; a terminal (process.terminal) is relayed to this one.

Flags:
${CREATE_FLAG_HELP}
  -d, --detach            return once the program runs (the container stays)
  --keep                  keep the stopped container (delete it yourself)`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    ...CREATE_FLAGS,
    detach: { type: "boolean", short: "d" },
    keep: { type: "boolean" },
    "no-subreaper": { type: "boolean" },
  });
  expectPositionals(positionals, 1, "ocibox run [flags] ID");
  return await runContainer(positionals[0], {
    ...createOptions(values),
    detach: values.detach,
    keep: values.keep,
  });
}
