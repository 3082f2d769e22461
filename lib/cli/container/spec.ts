/**
 * `ocibox spec`: writes a default config.json like `runc spec`.
 * @module
 */
import { OciboxError } from "../../errors.ts";
import { defaultSpec } from "../../runtime/spec/default_spec.ts";
import { expectPositionals, parseFlags } from "../args.ts";

export const help = `Usage: ocibox spec [--rootless] [--bundle DIR]

Writes a default runtime config.json (runc's defaults: sh on a terminal, the default mounts,
masked paths and capabilities) into the bundle directory (default: the current one).

Flags:
  -b, --bundle DIR  where to write config.json
  --rootless        the variant for an unprivileged user (user namespace, no network one)`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    bundle: { type: "string", short: "b" },
    rootless: { type: "boolean" },
  });
  expectPositionals(positionals, 0, "ocibox spec [--rootless] [--bundle DIR]");
  const path = `${values.bundle ?? "."}/config.json`;
  let cgroupNamespace = false;
  try {
    cgroupNamespace = Deno.statSync("/sys/fs/cgroup/cgroup.controllers").isFile;
  } catch { /* v1 */ }
  const spec = defaultSpec({ rootless: values.rootless, cgroupNamespace });
  try {
    await Deno.writeTextFile(path, JSON.stringify(spec, null, "\t") + "\n", { createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new OciboxError("EXISTS", `${path} exists already: remove it first`);
    }
    throw e;
  }
  return 0;
}
