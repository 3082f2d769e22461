/**
 * `ocibox ps`: the processes of a container (from its cgroup), by runtime id or by the name of
 * a container of the store; without a container, podman's list (lib/cli/verb_forms.ts).
 * @module
 */
import { UsageError } from "../../errors.ts";
import { containerPids } from "../../runtime/lifecycle/query.ts";
import { parseFlags } from "../args.ts";
import { psForm } from "../verb_forms.ts";
import { runtimeTarget } from "./target.ts";

/** Help of the listing form. */
export const PS_LIST_HELP = `Usage: ocibox ps [-a] [-q] [--format json]

Lists the containers of the local store (made by ocibox run IMAGE): the running ones, or all
with -a.

Flags:
  -a, --all            every container, not only running ones
  -q, --quiet          ids only
  --format json        podman's JSON`;

export const help = `${PS_LIST_HELP}

Usage: ocibox ps [--format table|json] ID [-- PS_ARGS...]      (runc's ps)

Shows the container's processes: a pid list with --format json, else ps(1) output (default
\`ps -ef\`, or the ps arguments given after --) limited to them.`;

export async function run(args: string[]): Promise<number> {
  if (psForm(args) === "list") return await (await import("../manage/ps_list.ts")).run(args);
  const { values, positionals } = parseFlags(args, { format: { type: "string", short: "f" } });
  if (positionals.length < 1) throw new UsageError("usage: ocibox ps [--format table|json] ID");
  // An id of the runtime's state directory (podman, containerd), or a store container's name.
  const target = await runtimeTarget(positionals[0]);
  const pids = await containerPids(target.root, target.id);
  if (values.format === "json") {
    console.log(JSON.stringify(pids));
    return 0;
  }
  const psArgs = positionals.length > 1 ? positionals.slice(1) : ["-ef"];
  const out = await new Deno.Command("ps", { args: psArgs, stdout: "piped" }).output();
  const lines = new TextDecoder().decode(out.stdout).split("\n");
  const pidCol = lines[0].trim().split(/\s+/).indexOf("PID");
  if (pidCol < 0) throw new UsageError("ps output has no PID column");
  const keep = new Set(pids.map(String));
  console.log(lines[0]);
  for (const line of lines.slice(1)) {
    if (keep.has(line.trim().split(/\s+/)[pidCol])) console.log(line);
  }
  return 0;
}
