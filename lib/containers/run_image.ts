/**
 * `ocibox run IMAGE`: a prepared container (prepare.ts) run in the foreground under this
 * process, or detached under a monitor, a second ocibox in a session of its own that keeps the
 * container's output in `ctr.log` and its exit code in `exit.json` (what conmon does for
 * podman). Whoever supervises the container finishes it: network, runtime container, rootfs
 * mount, and with `--rm` the whole container directory.
 * @module
 */
import { closeFd, dupOnto, setsid } from "../../ffi/process.ts";
import { AT_FDCWD, O_APPEND, O_CLOEXEC, O_CREAT, O_WRONLY } from "../../ffi/constants.ts";
import { openat } from "../../ffi/fs.ts";
import { OciboxError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic_file.ts";
import { tmpDir } from "../store/store_root.ts";
import {
  containerDir,
  type ContainerRecord,
  readContainer,
  removeContainerDir,
} from "../store/container_records.ts";
import { writeExitInfo, writeStartInfo } from "./container_state.ts";
import { findNetworkHelper, type NetworkHandle, startNetwork } from "./network.ts";
import { prepareContainer, type PrepareOptions, releaseRootfs } from "./prepare.ts";
import type { RunRequest } from "./run_request.ts";
import { selfCommand } from "./self_command.ts";
import { superviseContainer } from "./supervise.ts";

/** Exit code of a container that could not be started, with podman's meaning. */
export class StartFailure extends OciboxError {
  constructor(readonly exitCode: number, message: string) {
    super("START_FAILED", message);
  }
}

/** The name of a detached container's output file in its directory. */
export const LOG_FILE = "ctr.log";

/**
 * Runs `request`: resolves to the container's id and exit code in the foreground, or exit
 * code 0 once a detached one runs.
 */
export async function runImage(
  request: RunRequest,
  options: PrepareOptions,
): Promise<{ id: string; exitCode: number }> {
  const prepared = await prepareContainer(request, options);
  const { record } = prepared;
  if (request.detach) {
    await startDetached(options.store, record);
    return { id: record.id, exitCode: 0 };
  }
  const exitCode = await superviseRecord(options.store, record, {
    terminal: request.tty,
    interactive: request.interactive,
  });
  return { id: record.id, exitCode };
}

/**
 * Runs the container of `record` (prepared, not yet created) under this process and finishes
 * it; resolves to its exit code.
 */
export async function superviseRecord(
  store: string,
  record: ContainerRecord,
  io: { terminal: boolean; interactive: boolean; onStarted?: () => void },
): Promise<number> {
  const dir = containerDir(store, record.id);
  let started: Promise<void> | undefined;
  let code: number | undefined;
  try {
    code = await superviseContainer({
      runtimeRoot: record.runtimeRoot,
      id: record.id,
      bundle: `${dir}/bundle`,
      terminal: io.terminal,
      interactive: io.interactive,
      beforeStart: (pid): Promise<NetworkHandle> =>
        startNetwork(pid, {
          mode: record.network,
          publish: record.ports,
          helper: record.network === "private" ? findNetworkHelper() : undefined,
          pidFile: `${dir}/pasta.pid`,
        }),
      onStarted: (pid) => {
        // ps reads it later; failing to write it must not stop the container.
        started = writeStartInfo(store, record.id, {
          startedAt: new Date().toISOString(),
          pid,
          supervisor: Deno.pid,
        }).catch(() => {});
        io.onStarted?.();
      },
    });
    return code;
  } finally {
    await started;
    await finishContainer(store, record, started ? code ?? 255 : undefined);
  }
}

/**
 * Takes down what is left of a container once its program ended (`exitCode`) or could not be
 * started (undefined): the rootfs mount, and the container directory when it was run with
 * `--rm` or never started (nothing is left of a failed `run`); else its exit is recorded.
 */
export async function finishContainer(
  store: string,
  record: ContainerRecord,
  exitCode: number | undefined,
): Promise<void> {
  const dir = containerDir(store, record.id);
  await releaseRootfs(record, dir).catch(() => {});
  if (record.autoRemove || exitCode === undefined) {
    await removeContainerDir(store, record.id);
    return;
  }
  await writeExitInfo(store, record.id, {
    exitCode,
    finishedAt: new Date().toISOString(),
  }).catch(() => {});
}

/** What a monitor that could not start its container leaves for `run -d` to report. */
interface MonitorFailure {
  exitCode: number;
  message: string;
}

/** Where the monitor of container `id` reports a failure (outside the container's directory, which the failure removes). */
function failureFile(store: string, id: string): string {
  return `${tmpDir(store)}/monitor-${id}.json`;
}

/**
 * Starts the monitor of a prepared container and waits until its program runs (its
 * started.json appears) or the monitor ends.
 *
 * @throws {StartFailure} with the monitor's message and exit code when it could not start it.
 */
async function startDetached(store: string, record: ContainerRecord): Promise<void> {
  const argv = selfCommand([
    "--root",
    record.runtimeRoot,
    "--store",
    store,
    "container-monitor",
    record.id,
  ]);
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let ended = false;
  const status = child.status.finally(() => ended = true);
  const started = `${containerDir(store, record.id)}/started.json`;
  for (;;) {
    if (await exists(started)) break;
    if (ended) {
      // Started and already gone (a quick `run -d --rm ... true`), or failed: the file says.
      const failure = await readFailure(store, record.id);
      if (!failure) break;
      await finishContainer(store, record, undefined).catch(() => {});
      throw new StartFailure(failure.exitCode, failure.message);
    }
    await Promise.race([status, new Promise((r) => setTimeout(r, 10))]);
  }
  child.unref();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function readFailure(store: string, id: string): Promise<MonitorFailure | undefined> {
  const path = failureFile(store, id);
  try {
    const failure = JSON.parse(await Deno.readTextFile(path)) as MonitorFailure;
    await Deno.remove(path).catch(() => {});
    return failure;
  } catch {
    return undefined;
  }
}

/**
 * The monitor of a detached container (`ocibox container-monitor ID`): leaves the caller's
 * session, points its stdio at the container's log, runs the container and finishes it. When
 * the container cannot be started it leaves the reason for `run -d` in STORE/tmp.
 */
export async function monitorContainer(
  store: string,
  id: string,
  exitCodeOf: (e: unknown) => number,
): Promise<number> {
  setsid();
  let started = false;
  try {
    const record = await readContainer(store, id);
    const dir = containerDir(store, id);
    const log = openat(
      AT_FDCWD,
      `${dir}/${LOG_FILE}`,
      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
      0o600,
    );
    dupOnto(log, 1);
    dupOnto(log, 2);
    closeFd(log);
    const spec = JSON.parse(await Deno.readTextFile(`${dir}/bundle/config.json`)) as {
      process?: { terminal?: boolean };
    };
    return await superviseRecord(store, record, {
      terminal: spec.process?.terminal === true,
      interactive: false,
      onStarted: () => started = true,
    });
  } catch (e) {
    if (started) throw e;
    const failure: MonitorFailure = {
      exitCode: exitCodeOf(e),
      message: e instanceof Error ? e.message : String(e),
    };
    await writeFileAtomic(
      failureFile(store, id),
      new TextEncoder().encode(JSON.stringify(failure)),
    ).catch(() => {});
    return failure.exitCode;
  }
}
