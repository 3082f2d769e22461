/**
 * `ocibox kill`: signals a container.
 * @module
 */
import { UsageError } from "../../errors.ts";
import { killContainer } from "../../runtime/lifecycle/kill.ts";
import { parseSignal } from "../../runtime/lifecycle/signals.ts";
import { parseFlags } from "../args.ts";
import { runtimeGlobals } from "../runtime_globals.ts";

export const help = `Usage: ocibox kill [--all] ID [SIGNAL]

Sends SIGNAL (default TERM; a name like KILL or SIGKILL, or a number) to the container's init,
or with --all to every process in its cgroup.`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { all: { type: "boolean", short: "a" } });
  if (positionals.length < 1 || positionals.length > 2) {
    throw new UsageError("usage: ocibox kill [--all] ID [SIGNAL]");
  }
  const signal = parseSignal(positionals[1] ?? "TERM");
  await killContainer(runtimeGlobals.root, positionals[0], signal, values.all);
  return 0;
}
