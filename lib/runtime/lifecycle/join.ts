/**
 * The namespaces of a container's process, opened so a new process can join them with setns
 * (exec, and the hooks that run in the container).
 * @module
 */
import { AT_FDCWD, CLONE, O_CLOEXEC, O_RDONLY } from "../../../ffi/constants.ts";
import { close, openat } from "../../../ffi/fs.ts";

/** In the order setns needs them: the user namespace first grants the rights to join the rest. */
const NS_ORDER: readonly [string, number][] = [
  ["user", CLONE.NEWUSER],
  ["mnt", CLONE.NEWNS],
  ["cgroup", CLONE.NEWCGROUP],
  ["ipc", CLONE.NEWIPC],
  ["uts", CLONE.NEWUTS],
  ["net", CLONE.NEWNET],
  ["pid", CLONE.NEWPID],
  ["time", CLONE.NEWTIME],
];

/** A namespace to join: its /proc name, an open descriptor and its CLONE_NEW* flag. */
export interface OpenNamespace {
  type: string;
  fd: number;
  flag: number;
}

function nsId(pid: number | "self", type: string): string | undefined {
  try {
    return Deno.readLinkSync(`/proc/${pid}/ns/${type}`);
  } catch {
    return undefined;
  }
}

/** Opens the namespaces of `pid` that differ from this process's; close them with {@linkcode closeNamespaces}. */
export function openNamespacesOf(pid: number): OpenNamespace[] {
  const opened: OpenNamespace[] = [];
  try {
    for (const [type, flag] of NS_ORDER) {
      const target = nsId(pid, type);
      if (!target || target === nsId("self", type)) continue;
      const fd = openat(AT_FDCWD, `/proc/${pid}/ns/${type}`, O_RDONLY | O_CLOEXEC);
      opened.push({ type, fd, flag });
    }
  } catch (e) {
    closeNamespaces(opened);
    throw e;
  }
  return opened;
}

/** Closes what {@linkcode openNamespacesOf} opened. */
export function closeNamespaces(namespaces: readonly OpenNamespace[]): void {
  for (const ns of namespaces) close(ns.fd);
}
