/**
 * `ocibox create`: runc's create (the container waits for `start`).
 * @module
 */
import { createContainer } from "../../runtime/lifecycle/create.ts";
import { expectPositionals, parseFlags } from "../args.ts";
import { runtimeGlobals } from "../runtime_globals.ts";
import { CREATE_FLAG_HELP, CREATE_FLAGS, createOptions } from "./create_flags.ts";

export const help = `Usage: ocibox create [flags] ID

Creates container ID from a bundle (config.json + rootfs) up to, not including, its program:
namespaces, mounts, devices, cgroup, hooks prestart/createRuntime/createContainer. The program
runs at \`ocibox start ID\`.

Flags:
${CREATE_FLAG_HELP}`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, CREATE_FLAGS);
  expectPositionals(positionals, 1, "ocibox create [flags] ID");
  await createContainer(positionals[0], { ...createOptions(values), root: runtimeGlobals.root });
  return 0;
}
