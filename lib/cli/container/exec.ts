/**
 * `ocibox exec`: runs a process in a running container (runc's exec).
 * @module
 */
import { UsageError } from "../../errors.ts";
import { execInContainer } from "../../runtime/lifecycle/exec.ts";
import { readRecord } from "../../runtime/lifecycle/state_store.ts";
import type { Process } from "../../runtime/spec/spec_types.ts";
import { allStrings, parseFlags } from "../args.ts";
import { AT_FDCWD, O_CLOEXEC, O_RDWR } from "../../../ffi/constants.ts";
import { openat } from "../../../ffi/fs.ts";
import { closeFd, dupOnto } from "../../../ffi/process.ts";
import { runtimeTarget } from "./target.ts";

export const help = `Usage: ocibox exec [flags] ID|NAME [--] COMMAND [ARG...]
       ocibox exec --process FILE.json [flags] ID

Runs another process in container ID with the container's capabilities, no_new_privs and
seccomp filter; waits for it and exits with its code unless --detach. ID is the runtime's id
(runc's exec); a name or id prefix of a container of the store works too (podman's exec: stdin
is attached only with -i, and -u takes names from the container's /etc/passwd).

Flags:
  -p, --process FILE      the process as runtime-spec JSON (instead of the flags below)
  -e, --env NAME=VALUE    add to the environment (repeatable)
  -w, --cwd DIR           working directory in the container
  -u, --user USER[:GROUP] user to run as (names only for containers of the store)
  -i, --interactive       keep stdin attached (containers of the store; runc's always are)
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
  cwd: { type: "string", short: "w" },
  workdir: { type: "string" },
  interactive: { type: "boolean", short: "i" },
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
  const [name, ...command] = positionals;
  if (!name) throw new UsageError("usage: ocibox exec [flags] ID -- COMMAND [ARG...]");
  const { root, id, fromStore } = await runtimeTarget(name);
  let process: Process;
  if (values.process) {
    process = JSON.parse(await Deno.readTextFile(values.process));
  } else {
    if (!command.length) throw new UsageError("exec needs a COMMAND (or --process FILE)");
    const record = readRecord(root, id);
    const base = record.process;
    process = { ...base, args: command, terminal: values.tty ?? false };
    process.env = [...(base.env ?? []), ...allStrings(values.env)];
    const cwd = values.cwd ?? values.workdir;
    if (cwd) process.cwd = cwd;
    if (values.user) process.user = await execUser(values.user, fromStore, record.rootfs);
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
  if (fromStore && !values.interactive) {
    // podman's exec gives no input without -i.
    const nul = openat(AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
    dupOnto(nul, 0);
    closeFd(nul);
  }
  return await execInContainer(id, {
    root,
    process,
    detach: values.detach,
    pidFile: values["pid-file"],
    consoleSocket: values["console-socket"],
    preserveFds: preserve,
  });
}

/**
 * The user of `--user`: numeric UID[:GID] (runc's exec), or for a container of the store also
 * names, looked up in its own /etc/passwd and /etc/group (podman's exec).
 */
async function execUser(
  spec: string,
  fromStore: boolean,
  rootfs: string,
): Promise<NonNullable<Process["user"]>> {
  const [u, g] = spec.split(":");
  if (/^\d+$/.test(u) && (g === undefined || /^\d+$/.test(g))) {
    return { uid: Number(u), gid: Number(g ?? 0) };
  }
  if (!fromStore) throw new UsageError(`--user takes numeric UID[:GID], not ${spec}`);
  const [{ resolveUser }, { readRootfsText }] = await Promise.all([
    import("../../bundle/passwd.ts"),
    import("../../layer/rootfs_read.ts"),
  ]);
  const r = resolveUser(
    spec,
    readRootfsText(rootfs, "/etc/passwd"),
    readRootfsText(rootfs, "/etc/group"),
  );
  return { uid: r.uid, gid: r.gid, additionalGids: r.additionalGids };
}
