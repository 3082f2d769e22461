/**
 * `ocibox kill`: signals a container.
 * @module
 */
import { UsageError } from "../../errors.ts";
import { killContainer } from "../../runtime/lifecycle/kill.ts";
import { parseSignal } from "../../runtime/lifecycle/signals.ts";
import { parseFlags } from "../args.ts";
import { runtimeTarget } from "./target.ts";

export const help = `Usage: ocibox kill [--all] [-s SIGNAL] ID|NAME [SIGNAL]

Sends SIGNAL (a name like KILL or SIGKILL, or a number) to the container's init, or with --all
to every process in its cgroup. ID is the runtime's id (runc's kill, default TERM); a name or id
prefix of a container of the store works too (podman's kill: default KILL, -s SIGNAL taken).`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    all: { type: "boolean", short: "a" },
    signal: { type: "string", short: "s" },
  });
  if (positionals.length < 1 || positionals.length > 2) {
    throw new UsageError("usage: ocibox kill [--all] [-s SIGNAL] ID [SIGNAL]");
  }
  const target = await runtimeTarget(positionals[0]);
  // Each form's default: runc's kill sends TERM, podman's KILL.
  const signal = parseSignal(
    positionals[1] ?? values.signal ?? (target.fromStore ? "KILL" : "TERM"),
  );
  await killContainer(target.root, target.id, signal, values.all);
  return 0;
}
