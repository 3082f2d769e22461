/**
 * What the cloned child does before it execs the container's init, as syscall-runner steps:
 * the namespaces to create or join (checked from config.json), the uid/gid maps written while
 * it waits, and the fork into pid and time namespaces.
 * @module
 */
import { AT_FDCWD, O_CLOEXEC, O_RDONLY } from "../../../ffi/constants.ts";
import { close, openat } from "../../../ffi/fs.ts";
import { CLONE, CLONE_PARENT, PR, SIGCHLD } from "../../../ffi/constants.ts";
import type { Step } from "../../../ffi/runner_program.ts";
import { SYS } from "../../../ffi/syscall_numbers.ts";
import { InvalidImageError } from "../../errors.ts";
import type { LinuxNamespace, Spec } from "../spec/spec_types.ts";

/** clone(2) flags of the namespace types. */
export const NAMESPACE_FLAGS: Readonly<Record<string, number>> = {
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  mount: CLONE.NEWNS,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

/** Writes the child's uid/gid maps (and setgroups "deny" first, when rootless). */
export function writeIdMaps(pid: number, spec: Spec, rootless: boolean): void {
  const line = (m: { containerID: number; hostID: number; size: number }) =>
    `${m.containerID} ${m.hostID} ${m.size}\n`;
  const uid = spec.linux?.uidMappings ?? [];
  const gid = spec.linux?.gidMappings ?? [];
  // An unprivileged writer may only map gids after giving up setgroups(2).
  if (rootless) Deno.writeTextFileSync(`/proc/${pid}/setgroups`, "deny");
  if (uid.length) Deno.writeTextFileSync(`/proc/${pid}/uid_map`, uid.map(line).join(""));
  if (gid.length) Deno.writeTextFileSync(`/proc/${pid}/gid_map`, gid.map(line).join(""));
}

/**
 * Writes a new time namespace's clock offsets for the child `pid`, once it has made the
 * namespace (it waits for this before forking into it: offsets can only be set while the
 * namespace is empty).
 */
export function writeTimeOffsets(pid: number, text: string): void {
  const own = Deno.readLinkSync("/proc/self/ns/time_for_children");
  for (let i = 0; Deno.readLinkSync(`/proc/${pid}/ns/time_for_children`) === own; i++) {
    if (i > 5000) throw new Error(`process ${pid} made no time namespace`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
  }
  Deno.writeTextFileSync(`/proc/${pid}/timens_offsets`, text);
}

/** Namespaces to create (clone flags) and to join (open descriptors), checked. */
export interface NamespaceSetup {
  flags: number;
  join: { type: string; fd: number; flag: number }[];
}

/** Reads linux.namespaces: flags for new ones, descriptors for those given by path. */
export function namespaceSetup(where: string, namespaces: LinuxNamespace[]): NamespaceSetup {
  const setup: NamespaceSetup = { flags: 0, join: [] };
  const seen = new Set<string>();
  try {
    for (const ns of namespaces) {
      const flag = NAMESPACE_FLAGS[ns.type];
      if (flag === undefined) {
        throw new InvalidImageError(where, `unknown namespace type ${JSON.stringify(ns.type)}`);
      }
      if (seen.has(ns.type)) {
        throw new InvalidImageError(where, `namespace ${ns.type} is listed twice`);
      }
      seen.add(ns.type);
      if (!ns.path) {
        setup.flags |= flag;
        continue;
      }
      let fd: number;
      try {
        fd = openat(AT_FDCWD, ns.path, O_RDONLY | O_CLOEXEC);
      } catch (e) {
        throw new InvalidImageError(
          where,
          `cannot open the ${ns.type} namespace ${ns.path}: ${(e as Error).message}`,
        );
      }
      setup.join.push({ type: ns.type, fd, flag });
    }
  } catch (e) {
    for (const j of setup.join) close(j.fd);
    throw e;
  }
  // The user namespace first: joining it grants the rights to join the others.
  setup.join.sort((a, b) => (b.type === "user" ? 1 : 0) - (a.type === "user" ? 1 : 0));
  return setup;
}

/** What the cloned child needs besides the namespaces. */
export interface InitStepOptions {
  /** A pipe to wait on until the runtime has written the uid/gid maps. */
  mapsReady?: number;
  /** A pipe to wait on, once the time namespace exists, until its offsets are written. */
  offsetsReady?: number;
}

/**
 * Namespaces a process only gives its children (pid and time, joined or new): the runner must
 * fork once it is in them. A new time namespace cannot come from clone() at all (its flag is
 * one of clone()'s exit-signal bits), so it is unshared, with the new pid namespace, before
 * that fork.
 */
export function childOnlyNamespaces(ns: NamespaceSetup): { unshare: number; fork: boolean } {
  const unshare = ns.flags & CLONE.NEWTIME ? ns.flags & (CLONE.NEWTIME | CLONE.NEWPID) : 0;
  const joined = ns.join.some((j) => j.type === "pid" || j.type === "time");
  return { unshare, fork: unshare !== 0 || joined };
}

/**
 * The steps the cloned child makes before it execs init: join namespaces, wait for the id maps
 * (exec without them would drop every capability), become undumpable (so no process in the
 * container can open it or its executable through /proc), and fork into joined pid and time
 * namespaces (the fork is the runtime's own child, so it can wait for it).
 */
export function initSteps(ns: NamespaceSetup, o: InitStepOptions): Step[] {
  const steps: Step[] = [];
  for (const j of ns.join) {
    steps.push({ nr: SYS.setns, args: [j.fd, j.flag], label: `join the ${j.type} namespace` });
  }
  if (o.mapsReady !== undefined) {
    steps.push({
      nr: SYS.read,
      args: [o.mapsReady, new Uint8Array(8), 1],
      label: "wait for the id maps",
      expect: 1,
    });
    // Become the namespace's root: exec keeps capabilities only for the mapped uid 0.
    steps.push(
      { nr: SYS.setgroups, args: [0, null], mode: "ignore", label: "setgroups" },
      { nr: SYS.setresgid, args: [0, 0, 0], label: "setresgid 0 in the user namespace" },
      { nr: SYS.setresuid, args: [0, 0, 0], label: "setresuid 0 in the user namespace" },
    );
  }
  const childOnly = childOnlyNamespaces(ns);
  if (childOnly.unshare) {
    steps.push({
      nr: SYS.unshare,
      args: [childOnly.unshare],
      label: "new time (and pid) namespace",
    });
    if (o.offsetsReady !== undefined) {
      steps.push({
        nr: SYS.read,
        args: [o.offsetsReady, new Uint8Array(8), 1],
        label: "wait for the time offsets",
        expect: 1,
      });
    }
  }
  // Only now: an undumpable child's /proc files (uid_map, timens_offsets) are root's, out of a
  // rootless runtime's reach.
  steps.push(
    { nr: SYS.prctl, args: [PR.SET_DUMPABLE, 0, 0, 0, 0], label: "prctl(PR.SET_DUMPABLE)" },
  );
  if (childOnly.fork) {
    steps.push({
      nr: SYS.clone,
      args: [SIGCHLD | CLONE_PARENT, 0, 0, 0, 0],
      mode: "fork",
      label: "fork",
    });
  }
  return steps;
}
