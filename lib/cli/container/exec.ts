/**
 * `ocibox exec`: runs a process in a running container (runc's exec).
 * @module
 */
import { UsageError } from "../../errors.ts";
import { execInContainer } from "../../runtime/lifecycle/exec.ts";
import { readRecord } from "../../runtime/lifecycle/state_store.ts";
import type { Process } from "../../runtime/spec/spec_types.ts";
import { allStrings, parseFlags } from "../args.ts";
import { runtimeGlobals } from "../runtime_globals.ts";

export const help = `Usage: ocibox exec [flags] ID -- COMMAND [ARG...]
       ocibox exec --process FILE.json [flags] ID

Runs another process in container ID with the container's capabilities, no_new_privs and
seccomp filter; waits for it and exits with its code unless --detach.

Flags:
  -p, --process FILE      the process as runtime-spec JSON (instead of the flags below)
  -e, --env NAME=VALUE    add to the environment (repeatable)
  --cwd DIR               working directory in the container
  -u, --user UID[:GID]    user to run as
  --additional-gids GID   extra groups (repeatable)
  --no-new-privs          set no_new_privs
  -t, --tty               give the process a terminal (relayed here, or sent to the socket)
  --console-socket SOCK   send the pty master there (runc's protocol)
  -d, --detach            do not wait
  --pid-file FILE         write the process's pid there
  --preserve-fds N        pass descriptors 3 .. 3+N-1 on`;

const FLAGS = {
  process: { type: "string", short: "p" },
  env: { type: "string", short: "e", multiple: true },
  cwd: { type: "string" },
  user: { type: "string", short: "u" },
  "additional-gids": { type: "string", short: "g", multiple: true },
  "no-new-privs": { type: "boolean" },
  tty: { type: "boolean", short: "t" },
  "console-socket": { type: "string" },
  detach: { type: "boolean", short: "d" },
  "pid-file": { type: "string" },
  "preserve-fds": { type: "string" },
  cap: { type: "string", short: "c", multiple: true },
} as const;

/**
 * Where ocibox's flags end: at the first argument after the container id (as in runc, whose
 * `exec ID sh -c ...` passes `-c` to the program) or at `--`.
 */
function splitCommand(args: string[]): [flags: string[], command: string[]] {
  const takesValue = new Set<string>();
  for (const [name, o] of Object.entries(FLAGS)) {
    if (o.type === "string") {
      takesValue.add(`--${name}`);
      if ("short" in o) takesValue.add(`-${o.short}`);
    }
  }
  let sawId = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") return [args.slice(0, i), args.slice(i + 1)];
    if (a.startsWith("-") && a !== "-") {
      if (takesValue.has(a)) i++;
      continue;
    }
    if (sawId) return [args.slice(0, i), args.slice(i)];
    sawId = true;
  }
  return [args, []];
}

export async function run(args: string[]): Promise<number> {
  const [flagArgs, afterId] = splitCommand(args);
  const parsed = parseFlags(flagArgs, FLAGS);
  const values = parsed.values;
  const positionals = [...parsed.positionals, ...afterId];
  const [id, ...command] = positionals;
  if (!id) throw new UsageError("usage: ocibox exec [flags] ID -- COMMAND [ARG...]");
  let process: Process;
  if (values.process) {
    process = JSON.parse(await Deno.readTextFile(values.process));
  } else {
    if (!command.length) throw new UsageError("exec needs a COMMAND (or --process FILE)");
    const base = readRecord(runtimeGlobals.root, id).process;
    process = { ...base, args: command, terminal: values.tty ?? false };
    process.env = [...(base.env ?? []), ...allStrings(values.env)];
    if (values.cwd) process.cwd = values.cwd;
    if (values.user) {
      const [u, g] = values.user.split(":");
      if (!/^\d+$/.test(u) || (g !== undefined && !/^\d+$/.test(g))) {
        throw new UsageError(`--user takes numeric UID[:GID], not ${values.user}`);
      }
      process.user = { uid: Number(u), gid: Number(g ?? 0) };
    }
    const gids = allStrings(values["additional-gids"]).map(Number);
    if (gids.length) process.user = { ...process.user, additionalGids: gids };
    if (values["no-new-privs"]) process.noNewPrivileges = true;
    const extraCaps = allStrings(values.cap);
    if (extraCaps.length) {
      const c = { ...process.capabilities };
      for (const set of ["bounding", "effective", "permitted"] as const) {
        c[set] = [...new Set([...(c[set] ?? []), ...extraCaps])];
      }
      process.capabilities = c;
    }
  }
  const preserve = values["preserve-fds"] === undefined ? 0 : Number(values["preserve-fds"]);
  return await execInContainer(id, {
    root: runtimeGlobals.root,
    process,
    detach: values.detach,
    pidFile: values["pid-file"],
    consoleSocket: values["console-socket"],
    preserveFds: preserve,
  });
}
