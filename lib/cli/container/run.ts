/**
 * `ocibox run`: podman's `run IMAGE [COMMAND]`, or runc's `run` of a bundle (lib/cli/verb_forms.ts
 * says which); each form's module is loaded only when asked for.
 * @module
 */
import { runForm } from "../verb_forms.ts";
import { RUN_BUNDLE_HELP } from "./run_bundle.ts";

/** Help of the image form. */
export const RUN_IMAGE_HELP = `Usage: ocibox run [flags] IMAGE [COMMAND [ARG...]]

Runs COMMAND (else the image's entrypoint and cmd) in a new container of IMAGE, pulled into the
local store when missing. The container's root file system is an overlay on the image's cached
layers. Exits with the command's exit code (125: ocibox failed, 126: the command cannot be
executed, 127: it was not found). Flags have podman's meaning and stop at the image.

Flags:
  --rm                      remove the container when it exits
  -i, --interactive         keep stdin attached
  -t, --tty                 give the container a terminal (relayed here, size kept in sync)
  -d, --detach              run in the background and print the container id
  --name NAME               the container's name (default: made up)
  -e, --env NAME[=VALUE]    set a variable (NAME alone: this environment's value)
  --env-file FILE           variables from a file (NAME=VALUE lines)
  -v, --volume HOST:CTR[:ro|rw]   bind a host directory (created when missing, unless :ro)
  --mount type=bind|tmpfs,...     a bind or tmpfs mount (docker's syntax)
  --tmpfs PATH[:OPTIONS]    a tmpfs at PATH
  -w, --workdir DIR         working directory
  -u, --user USER[:GROUP]   user (names through the image's /etc/passwd and /etc/group)
  --entrypoint CMD          replace the image's entrypoint ("" for none; JSON array allowed)
  -h, --hostname NAME       hostname (default: the first 12 digits of the id)
  --read-only               read-only root (tmpfs on /run, /tmp, /var/tmp)
  --cap-add CAP, --cap-drop CAP   change the capability set (ALL allowed)
  --privileged              every capability, host devices, no seccomp
  --security-opt OPT        no-new-privileges, seccomp=unconfined, seccomp=FILE
  -m, --memory SIZE         memory limit (k, m, g)
  --cpus N                  CPU limit
  --pids-limit N            process limit (default 2048; -1: none)
  --ulimit NAME=SOFT[:HARD] a resource limit
  --platform OS/ARCH        which image of a multi-platform one
  --init                    run a reaper (catatonit or tini) as pid 1
  --network MODE            private (default, through pasta), none, host
  -p, --publish [IP:]HOST:CTR[/tcp|udp]   publish a port (private network)
  --pull missing|always|never   when to pull (default missing)`;

export const help = `${RUN_IMAGE_HELP}

${RUN_BUNDLE_HELP}

Which form: runc's when -b/--bundle is given, or when the current directory holds config.json and
all that is given is runc flags and one ID; an image otherwise.`;

function cwdHasConfig(): boolean {
  try {
    return Deno.statSync("config.json").isFile;
  } catch {
    return false;
  }
}

/** Help only when asked before the image (or the id): what follows belongs to the program. */
export function wantsHelp(args: string[]): boolean {
  for (const a of args) {
    if (a === "--help" || a === "-h" && args.length === 1) return true;
    if (a === "--") return false;
    if (!a.startsWith("-")) return false;
  }
  return false;
}

export async function run(args: string[]): Promise<number> {
  if (runForm(args, cwdHasConfig()) === "runc") {
    return await (await import("./run_bundle.ts")).run(args);
  }
  return await (await import("../manage/run_image.ts")).run(args);
}
