/**
 * `inspect NAME` for a container of the store: podman's JSON (the fields ocibox has: Id, Name,
 * Image, State, Config, HostConfig, Mounts, NetworkSettings ports, paths).
 * @module
 */
import type { Spec } from "../runtime/spec/spec_types.ts";
import { containerDir, type ContainerRecord, readContainer } from "../store/container_records.ts";
import { storeRoot } from "../store/store_root.ts";
import { type ContainerStatus, containerStatus } from "./container_state.ts";

/** Podman's State block from a status. */
function stateJson(status: ContainerStatus): Record<string, unknown> {
  const start = "start" in status ? status.start : undefined;
  const running = status.state === "running" || status.state === "paused";
  return {
    Status: status.state,
    Running: running,
    Paused: status.state === "paused",
    Pid: running && start ? start.pid : 0,
    ExitCode: status.state === "exited" ? status.exit.exitCode : 0,
    StartedAt: start?.startedAt ?? "0001-01-01T00:00:00Z",
    FinishedAt: status.state === "exited" ? status.exit.finishedAt : "0001-01-01T00:00:00Z",
  };
}

/**
 * The JSON of a container (pure).
 *
 * @example
 * ```ts
 * import { containerJson } from "./inspect_view.ts";
 * // containerJson(record, { state: "created" }, spec, "/var/lib/ocibox/containers/ID")
 * ```
 */
export function containerJson(
  rec: ContainerRecord,
  status: ContainerStatus,
  spec: Spec | undefined,
  dir: string,
): Record<string, unknown> {
  const p = spec?.process;
  return {
    Id: rec.id,
    Created: rec.created,
    Path: rec.command[0] ?? "",
    Args: rec.command.slice(1),
    State: stateJson(status),
    Image: rec.imageId.replace(/^sha256:/, ""),
    ImageName: rec.image,
    ImageDigest: rec.manifestDigest,
    Name: rec.name,
    Rootfs: rec.rootfs,
    OCIRuntime: "ocibox",
    RuntimeRoot: rec.runtimeRoot,
    StaticDir: dir,
    LogPath: rec.detached ? `${dir}/ctr.log` : "",
    Config: {
      Hostname: spec?.hostname ?? "",
      User: p?.user ? `${p.user.uid}:${p.user.gid}` : "",
      Env: p?.env ?? [],
      Cmd: rec.command,
      WorkingDir: p?.cwd ?? "/",
      Tty: p?.terminal === true,
      Labels: spec?.annotations ?? {},
    },
    HostConfig: {
      AutoRemove: rec.autoRemove,
      NetworkMode: rec.network === "private" ? "pasta" : rec.network,
      ReadonlyRootfs: spec?.root?.readonly === true,
      CapAdd: [],
      Capabilities: p?.capabilities?.effective ?? [],
    },
    Mounts: (spec?.mounts ?? [])
      .filter((m) => m.type === "bind" && !m.destination.startsWith("/etc/"))
      .map((m) => ({
        Type: "bind",
        Source: m.source,
        Destination: m.destination,
        RW: !(m.options ?? []).includes("ro"),
        Options: m.options ?? [],
      })),
    NetworkSettings: {
      Ports: Object.fromEntries(
        rec.ports.map((q) => [
          `${q.containerPort}/${q.protocol}`,
          [{ HostIp: q.hostIp ?? "", HostPort: String(q.hostPort) }],
        ]),
      ),
    },
  };
}

/** The JSON of the store's container `name`, or undefined when there is none. */
export async function inspectContainerByName(
  name: string,
): Promise<Record<string, unknown> | undefined> {
  const store = storeRoot();
  let rec: ContainerRecord;
  try {
    rec = await readContainer(store, name);
  } catch {
    return undefined;
  }
  const dir = containerDir(store, rec.id);
  let spec: Spec | undefined;
  try {
    spec = JSON.parse(await Deno.readTextFile(`${dir}/bundle/config.json`)) as Spec;
  } catch { /* being made or removed */ }
  return containerJson(rec, await containerStatus(store, rec), spec, dir);
}
