/**
 * Read-only views of containers (state, list, ps) and pause/resume: the record plus what the
 * kernel says (is init alive, is the cgroup frozen, which pids are in it).
 * @module
 */
import { type CgroupManager, loadCgroupManager } from "../cgroups/manager.ts";
import {
  type ContainerRecord,
  type ContainerState,
  ContainerStateError,
  listIds,
  readRecord,
  stateOf,
} from "./state_store.ts";

function cgroupOf(record: ContainerRecord): CgroupManager | undefined {
  if (!record.cgroupPath) return undefined;
  try {
    return loadCgroupManager(record.cgroupPath);
  } catch {
    return undefined;
  }
}

function frozen(cgroup: CgroupManager | undefined): () => boolean {
  return () => {
    try {
      return cgroup?.state() === "frozen";
    } catch {
      return false;
    }
  };
}

/** The state JSON of container `id`. */
export function containerState(root: string, id: string): Promise<ContainerState> {
  const record = readRecord(root, id);
  return Promise.resolve(stateOf(root, record, frozen(cgroupOf(record))));
}

/** One row of `list`. */
export interface ContainerSummary {
  ociVersion: string;
  id: string;
  pid: number;
  status: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

/** Every container under `root`. */
export function listContainers(root: string): Promise<ContainerSummary[]> {
  const rows: ContainerSummary[] = [];
  for (const id of listIds(root)) {
    let record: ContainerRecord;
    try {
      record = readRecord(root, id);
    } catch {
      continue; // being created or deleted right now
    }
    const s = stateOf(root, record, frozen(cgroupOf(record)));
    rows.push({
      ociVersion: s.ociVersion,
      id,
      pid: s.pid,
      status: s.status,
      bundle: record.bundle,
      rootfs: record.rootfs,
      created: record.created,
      owner: ownerName(record.owner),
      annotations: record.annotations,
    });
  }
  return Promise.resolve(rows);
}

function ownerName(uid: string): string {
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f[2] === uid) return f[0];
    }
  } catch { /* no passwd */ }
  return `#${uid}`;
}

/** The pids of container `id`: its cgroup's, or just init when it has none. */
export function containerPids(root: string, id: string): Promise<number[]> {
  const record = readRecord(root, id);
  const cgroup = cgroupOf(record);
  const state = stateOf(root, record, frozen(cgroup));
  if (state.status === "stopped") return Promise.resolve([]);
  return Promise.resolve(cgroup ? cgroup.pids() : [record.pid]);
}

/** Freezes (`pause`) or thaws (`resume`) container `id`. */
export function setPaused(root: string, id: string, pause: boolean): Promise<void> {
  const record = readRecord(root, id);
  const cgroup = cgroupOf(record);
  const state = stateOf(root, record, frozen(cgroup));
  const want = pause ? "running" : "paused";
  if (state.status !== want || !cgroup) {
    throw new ContainerStateError(
      id,
      cgroup ? state.status : `${state.status} without a cgroup`,
      pause ? "pause" : "resume",
    );
  }
  if (pause) cgroup.freeze();
  else cgroup.thaw();
  return Promise.resolve();
}
