/**
 * Stopping and removing one-liner containers (`stop`, `rm`), and reading a detached one's
 * output (`logs`). The process that supervises a container (run_image.ts) finishes it when its
 * program ends; these wait for that, and do it themselves when that process is gone.
 * @module
 */
import { OciboxError } from "../errors.ts";
import { parseSignal } from "../runtime/lifecycle/signals.ts";
import {
  containerDir,
  type ContainerRecord,
  removeContainerDir,
} from "../store/container_records.ts";
import {
  type ContainerStatus,
  containerStatus,
  processExists,
  readExitInfo,
  readStartInfo,
  runtimeView,
} from "./container_state.ts";
import { stopPasta } from "./network.ts";
import { releaseRootfs } from "./prepare.ts";
import { LOG_FILE } from "./run_image.ts";

/** A container in a state that does not allow what was asked. */
export class ContainerBusyError extends OciboxError {
  constructor(readonly container: string, message: string) {
    super("CONTAINER_BUSY", message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The signal the image asked to be stopped with (StopSignal), else TERM. */
async function stopSignal(store: string, rec: ContainerRecord): Promise<number> {
  try {
    const spec = JSON.parse(
      await Deno.readTextFile(`${containerDir(store, rec.id)}/bundle/config.json`),
    ) as { annotations?: Record<string, string> };
    const s = spec.annotations?.["org.opencontainers.image.stopSignal"];
    if (s) return parseSignal(s);
  } catch { /* no config: TERM */ }
  return 15;
}

/**
 * Sends `signal` to the container's program (nothing when it has ended meanwhile): to its
 * pid 1 only, as podman's stop does for a container with a pid namespace (the program decides
 * what its children get; a shell's `trap` runs while its foreground child is left alone).
 * SIGKILL goes to every process of the cgroup, which makes no difference but for stragglers.
 */
async function signalContainer(rec: ContainerRecord, signal: number): Promise<void> {
  const { killContainer } = await import("../runtime/lifecycle/kill.ts");
  try {
    await killContainer(rec.runtimeRoot, rec.id, signal, signal === 9);
  } catch { /* stopped or gone */ }
}

/** Waits up to `ms` for the runtime to see the container stopped (or gone). */
async function waitStopped(rec: ContainerRecord, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    const view = await runtimeView(rec);
    if (view === undefined || view === "stopped") return true;
    if (Date.now() >= end) return false;
    await sleep(25);
  }
}

/**
 * Waits for the container's supervisor to finish it (its exit recorded, or its directory gone
 * with --rm); when the supervisor died, finishes it here. Resolves once it is finished.
 */
async function waitFinished(store: string, rec: ContainerRecord): Promise<void> {
  const start = await readStartInfo(store, rec.id);
  for (let i = 0; i < 400; i++) {
    if (await readExitInfo(store, rec.id)) return;
    try {
      await Deno.stat(containerDir(store, rec.id));
    } catch {
      return; // removed (--rm)
    }
    if (!start || !processExists(start.supervisor)) break;
    await sleep(25);
  }
  await takeDown(store, rec);
}

/** What a dead supervisor left: the runtime's container, pasta, the rootfs mount. */
async function takeDown(store: string, rec: ContainerRecord): Promise<void> {
  const { deleteContainer } = await import("../runtime/lifecycle/delete.ts");
  await deleteContainer(rec.runtimeRoot, rec.id, true).catch(() => {});
  const dir = containerDir(store, rec.id);
  try {
    const pid = Number((await Deno.readTextFile(`${dir}/pasta.pid`)).trim());
    if (pid > 0) await stopPasta(pid);
  } catch { /* no network helper */ }
  await releaseRootfs(rec, dir);
}

/**
 * `stop`: the image's stop signal (TERM), then KILL after `timeoutSeconds`; resolves once the
 * container is finished. A container that is not running is left as it is.
 */
export async function stopContainer(
  store: string,
  rec: ContainerRecord,
  timeoutSeconds: number,
): Promise<ContainerStatus> {
  const status = await containerStatus(store, rec);
  if (status.state === "running" || status.state === "paused") {
    await signalContainer(rec, await stopSignal(store, rec));
    if (!(await waitStopped(rec, timeoutSeconds * 1000))) {
      await signalContainer(rec, 9);
      await waitStopped(rec, 10_000);
    }
    await waitFinished(store, rec);
  } else if (status.state === "unknown") {
    await takeDown(store, rec);
  }
  return await containerStatus(store, rec);
}

/**
 * `rm`: removes the container (its record, directory, upper layer and logs). A running one
 * needs `force`, which kills it first.
 *
 * @throws {ContainerBusyError} when it runs and `force` is not given.
 */
export async function removeContainer(
  store: string,
  rec: ContainerRecord,
  force: boolean,
): Promise<void> {
  const status = await containerStatus(store, rec);
  if ((status.state === "running" || status.state === "paused") && !force) {
    throw new ContainerBusyError(
      rec.name,
      `container ${rec.name} is ${status.state}: stop it first, or use rm -f`,
    );
  }
  if (status.state === "running" || status.state === "paused") {
    await signalContainer(rec, 9);
    await waitStopped(rec, 10_000);
    await waitFinished(store, rec);
  } else await takeDown(store, rec);
  await removeContainerDir(store, rec.id);
}

/**
 * The output a detached container wrote, as chunks; with `follow`, goes on until the
 * container has finished and everything written is out.
 */
export async function* containerLog(
  store: string,
  rec: ContainerRecord,
  follow: boolean,
): AsyncGenerator<Uint8Array> {
  const path = `${containerDir(store, rec.id)}/${LOG_FILE}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    if (!rec.detached) {
      throw new OciboxError(
        "NO_LOGS",
        `container ${rec.name} ran in the foreground: its output went to the terminal`,
      );
    }
    return;
  }
  using _ = file;
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await file.read(buf);
    if (n !== null && n > 0) {
      yield buf.slice(0, n);
      continue;
    }
    if (!follow) return;
    const gone = await Deno.stat(containerDir(store, rec.id)).then(() => false, () => true);
    const status = gone ? undefined : await containerStatus(store, rec).catch(() => undefined);
    if (!status || status.state === "exited" || status.state === "unknown") {
      // One more read: what was written between the last read and the end.
      const m = await file.read(buf);
      if (m) yield buf.slice(0, m);
      if (!m) return;
      continue;
    }
    await sleep(100);
  }
}
