/**
 * The runtime's record of its containers: `<root>/<id>/state.json` (default root /run/ocibox)
 * next to the exec FIFO. A container's status is derived, not stored: its init process alive
 * (and the same process: its start time matches) with the FIFO still there is `created`;
 * alive without it is `running` (or `paused` when its cgroup is frozen); otherwise `stopped`.
 * @module
 */
import { NotFoundError, OciboxError, UsageError } from "../../errors.ts";
import { writeFileAtomic } from "../../io/atomic_file.ts";
import { type Hook, OCI_RUNTIME_SPEC_VERSION, type Process } from "../spec/spec_types.ts";

/** The default state root, as runc's /run/runc. */
export const DEFAULT_ROOT = "/run/ocibox";

/** What the runtime keeps about one container. */
export interface ContainerRecord {
  id: string;
  bundle: string;
  /** The container's init (pid 1 of its pid namespace, when it has one). */
  pid: number;
  /** /proc/<pid>/stat start time, to tell the container's init from a reused pid. */
  startTime: string;
  created: string;
  annotations?: Record<string, string>;
  /** The resolved cgroup path (the same in every hierarchy); absent when none was made. */
  cgroupPath?: string;
  rootless: boolean;
  /** The user who created it. */
  owner: string;
  /** The rootfs as the host sees it. */
  rootfs: string;
  /** Hooks the runtime runs after create (startContainer ones in the container's namespaces). */
  hooks: { poststart: Hook[]; poststop: Hook[]; startContainer?: Hook[] };
  /** The container's process, the base of `exec`'s processes (like runc). */
  process: Process;
  /** The compiled seccomp filter, applied to `exec`'d processes too. */
  seccomp?: { program: string; flags: number };
  /** Without a mount namespace of its own: its mounts, in the host's, for delete to remove. */
  sharedMounts?: string[];
}

/** The runtime-spec state (state-schema.json) of a container. */
export interface ContainerState {
  ociVersion: string;
  id: string;
  status: "creating" | "created" | "running" | "stopped" | "paused";
  pid: number;
  bundle: string;
  annotations?: Record<string, string>;
}

const ID = /^[\w+\-.]+$/;

/** Refuses ids that could name paths outside the state root. */
export function checkId(id: string): void {
  if (!ID.test(id) || id === "." || id === "..") {
    throw new UsageError(
      `invalid container id ${JSON.stringify(id)}: use letters, digits, + - _ .`,
    );
  }
}

/** The state directory of `id`. */
export function containerDir(root: string, id: string): string {
  checkId(id);
  return `${root}/${id}`;
}

/** The exec FIFO of `id`. */
export function fifoPath(root: string, id: string): string {
  return `${containerDir(root, id)}/exec.fifo`;
}

/** The start time of a process (field 22 of /proc/PID/stat), or undefined if it is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name may contain spaces and parentheses: fields start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined; // it has finished
    return fields[19];
  } catch {
    return undefined;
  }
}

/** Reads the record of `id`. */
export function readRecord(root: string, id: string): ContainerRecord {
  try {
    return JSON.parse(Deno.readTextFileSync(`${containerDir(root, id)}/state.json`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`container ${JSON.stringify(id)} does not exist`);
    }
    throw e;
  }
}

/** Writes the record (atomically). */
export async function writeRecord(root: string, record: ContainerRecord): Promise<void> {
  await writeFileAtomic(
    `${containerDir(root, record.id)}/state.json`,
    new TextEncoder().encode(JSON.stringify(record, null, 2) + "\n"),
    { mode: 0o600 },
  );
}

/** Whether the record's init process is still the one that was started. */
export function isAlive(record: ContainerRecord): boolean {
  return processStartTime(record.pid) === record.startTime;
}

/**
 * The spec's state of a recorded container; `frozen` says whether its cgroup is frozen
 * (the caller asks the cgroup, which this pure bookkeeping does not load).
 */
export function stateOf(
  root: string,
  record: ContainerRecord,
  frozen: () => boolean = () => false,
): ContainerState {
  let status: ContainerState["status"] = "stopped";
  if (isAlive(record)) {
    let fifo = false;
    try {
      fifo = Deno.lstatSync(fifoPath(root, record.id)).isFile === false;
    } catch { /* gone: started */ }
    status = fifo ? "created" : frozen() ? "paused" : "running";
  }
  const state: ContainerState = {
    ociVersion: OCI_RUNTIME_SPEC_VERSION,
    id: record.id,
    status,
    pid: status === "stopped" ? 0 : record.pid,
    bundle: record.bundle,
  };
  if (record.annotations && Object.keys(record.annotations).length) {
    state.annotations = record.annotations;
  }
  return state;
}

/** Every recorded container id. */
export function listIds(root: string): string[] {
  try {
    return [...Deno.readDirSync(root)].filter((e) => e.isDirectory).map((e) => e.name).sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** Refuses to go on when a container with this id exists already. */
export function checkFree(root: string, id: string): void {
  try {
    Deno.statSync(containerDir(root, id));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  throw new OciboxError("CONTAINER_EXISTS", `container ${JSON.stringify(id)} already exists`);
}

/** A container not in a state the operation allows. */
export class ContainerStateError extends OciboxError {
  constructor(id: string, status: string, operation: string) {
    super(
      "CONTAINER_STATE",
      `cannot ${operation} container ${JSON.stringify(id)}: it is ${status}`,
    );
  }
}
