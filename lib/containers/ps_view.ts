/**
 * `ps`'s table and JSON for one-liner containers: podman's columns (CONTAINER ID, IMAGE,
 * COMMAND, CREATED, STATUS, PORTS, NAMES). Pure: the caller gathers records and statuses.
 * @module
 */
import type { ContainerRecord } from "../store/container_records.ts";
import { type ContainerStatus, statusText } from "./container_state.ts";
import { ago } from "./durations.ts";
import { describePort } from "./network.ts";

/** One container with its status. */
export interface ContainerRow {
  record: ContainerRecord;
  status: ContainerStatus;
}

/** The command as ps shows it: quoted words, cut at 20 characters like podman. */
export function shortCommand(args: readonly string[]): string {
  const text = args.map((a) => /[\s"']/.test(a) ? JSON.stringify(a) : a).join(" ");
  return text.length > 20 ? `${text.slice(0, 17)}...` : text;
}

/** Lines of podman's `ps` table. */
export function psTable(rows: readonly ContainerRow[], now: Date): string[] {
  const cells = rows.map(({ record: r, status }) => [
    r.id.slice(0, 12),
    r.image,
    shortCommand(r.command),
    ago(new Date(r.created), now),
    statusText(status, now),
    r.ports.map(describePort).join(", "),
    r.name,
  ]);
  const head = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [head, ...cells].map((c) =>
    c.map((v, i) => i === c.length - 1 ? v : v.padEnd(widths[i])).join("  ").trimEnd()
  );
}

/** podman's `ps --format json` fields that ocibox has. */
export function psJson(rows: readonly ContainerRow[]): unknown[] {
  return rows.map(({ record: r, status }) => ({
    Id: r.id,
    Names: [r.name],
    Image: r.image,
    ImageID: r.imageId.replace(/^sha256:/, ""),
    Command: r.command,
    Created: Math.floor(Date.parse(r.created) / 1000),
    CreatedAt: r.created,
    State: status.state,
    Exited: status.state === "exited",
    ExitCode: status.state === "exited" ? status.exit.exitCode : 0,
    Pid: status.state === "running" || status.state === "paused" ? status.start.pid : 0,
    StartedAt: "start" in status && status.start
      ? Math.floor(Date.parse(status.start.startedAt) / 1000)
      : 0,
    Ports: r.ports.map((p) => ({
      host_ip: p.hostIp ?? "",
      container_port: p.containerPort,
      host_port: p.hostPort,
      protocol: p.protocol,
    })),
    AutoRemove: r.autoRemove,
  }));
}
