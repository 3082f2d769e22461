/**
 * Where a one-liner container is in its life, from what the store and the runtime keep:
 * `started.json` (written once its program runs: when, and the pid of the ocibox process that
 * supervises it), `exit.json` (its exit code and when, written by that process), and the
 * runtime's own state. The status text is the one `ps` shows.
 * @module
 */
import { Errno, ErrnoError } from "../../ffi/errno.ts";
import { kill } from "../../ffi/process.ts";
import { writeFileAtomic } from "../io/atomic_file.ts";
import { containerDir, type ContainerRecord } from "../store/container_records.ts";
import { ago, humanDuration } from "./durations.ts";

/** `started.json`. */
export interface StartInfo {
  /** RFC 3339. */
  startedAt: string;
  /** The container's init as the host sees it. */
  pid: number;
  /** The ocibox process waiting for it (the foreground `run`, or a detached one's monitor). */
  supervisor: number;
}

/** `exit.json`. */
export interface ExitInfo {
  exitCode: number;
  /** RFC 3339. */
  finishedAt: string;
}

/** A container's status, as `ps` and `inspect` report it. */
export type ContainerStatus =
  | { state: "created" }
  | { state: "running"; start: StartInfo }
  | { state: "paused"; start: StartInfo }
  | { state: "exited"; start?: StartInfo; exit: ExitInfo }
  /** The supervisor is gone and left no exit code (killed, or the machine rebooted). */
  | { state: "unknown"; start?: StartInfo };

const encoder = new TextEncoder();

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/** Records that the container's program runs. */
export async function writeStartInfo(store: string, id: string, info: StartInfo): Promise<void> {
  await writeFileAtomic(
    `${containerDir(store, id)}/started.json`,
    encoder.encode(JSON.stringify(info)),
  );
}

/** Records the container's end. */
export async function writeExitInfo(store: string, id: string, info: ExitInfo): Promise<void> {
  await writeFileAtomic(
    `${containerDir(store, id)}/exit.json`,
    encoder.encode(JSON.stringify(info)),
  );
}

/** `started.json`, when the program was started. */
export function readStartInfo(store: string, id: string): Promise<StartInfo | undefined> {
  return readJson<StartInfo>(`${containerDir(store, id)}/started.json`);
}

/** `exit.json`, when the container ended under a supervisor. */
export function readExitInfo(store: string, id: string): Promise<ExitInfo | undefined> {
  return readJson<ExitInfo>(`${containerDir(store, id)}/exit.json`);
}

/** Whether process `pid` exists (kill with signal 0; EPERM still means it does). */
export function processExists(pid: number): boolean {
  try {
    kill(pid, 0);
    return true;
  } catch (e) {
    return e instanceof ErrnoError && e.errno === Errno.EPERM;
  }
}

/** The runtime's view of a container; undefined when it has none by that id. */
export type RuntimeView = "created" | "running" | "paused" | "stopped" | undefined;

/**
 * The status from the files and the runtime's view. Pure.
 *
 * @example
 * ```ts
 * import { statusFrom } from "./container_state.ts";
 * statusFrom(undefined, { exitCode: 0, finishedAt: "2026-01-01T00:00:00Z" }, undefined);
 * // { state: "exited", exit: ... }
 * ```
 */
export function statusFrom(
  start: StartInfo | undefined,
  exit: ExitInfo | undefined,
  runtime: RuntimeView,
): ContainerStatus {
  if (exit) return { state: "exited", start, exit };
  if (start && (runtime === "running" || runtime === "paused")) return { state: runtime, start };
  if (!start && (runtime === undefined || runtime === "created")) return { state: "created" };
  return { state: "unknown", start };
}

/**
 * `ps`'s STATUS column: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created".
 *
 * @example
 * ```ts
 * import { statusText } from "./container_state.ts";
 * statusText({ state: "created" }, new Date()); // "Created"
 * ```
 */
export function statusText(status: ContainerStatus, now: Date): string {
  switch (status.state) {
    case "created":
      return "Created";
    case "running":
      return `Up ${humanDuration(now.getTime() - Date.parse(status.start.startedAt))}`;
    case "paused":
      return `Up ${humanDuration(now.getTime() - Date.parse(status.start.startedAt))} (Paused)`;
    case "exited":
      return `Exited (${status.exit.exitCode}) ${ago(new Date(status.exit.finishedAt), now)}`;
    case "unknown":
      return "Unknown";
  }
}

/** What the runtime says of the record's container (undefined: it has none). */
export async function runtimeView(rec: ContainerRecord): Promise<RuntimeView> {
  const { readRecord, stateOf } = await import("../runtime/lifecycle/state_store.ts");
  let record;
  try {
    record = readRecord(rec.runtimeRoot, rec.id);
  } catch {
    return undefined;
  }
  const status = stateOf(rec.runtimeRoot, record).status;
  return status === "creating" ? "created" : status;
}

/** The container's status now. */
export async function containerStatus(
  store: string,
  rec: ContainerRecord,
): Promise<ContainerStatus> {
  const [start, exit, runtime] = await Promise.all([
    readStartInfo(store, rec.id),
    readExitInfo(store, rec.id),
    runtimeView(rec),
  ]);
  return statusFrom(start, exit, runtime);
}
