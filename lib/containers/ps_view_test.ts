import assert from "node:assert/strict";
import { psJson, psTable, shortCommand } from "./ps_view.ts";
import type { ContainerRecord } from "../store/container_records.ts";

const rec: ContainerRecord = {
  id: "a".repeat(64),
  name: "web",
  image: "docker.io/library/busybox:latest",
  imageId: `sha256:${"b".repeat(64)}`,
  manifestDigest: `sha256:${"c".repeat(64)}`,
  chainIds: [],
  command: ["httpd", "-f", "-p", "80"],
  created: "2026-12-06T10:00:00.000Z",
  runtimeRoot: "/run/ocibox",
  rootfs: "overlay",
  autoRemove: false,
  detached: true,
  ports: [{ hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80, protocol: "tcp" }],
  network: "private",
};

Deno.test("shortCommand quotes words with spaces and cuts at 20 characters", () => {
  assert.equal(shortCommand(["sh", "-c", "echo hi"]), 'sh -c "echo hi"');
  assert.equal(shortCommand(["sleep", "1000000000000000000"]), "sleep 10000000000...");
});

Deno.test("psTable has podman's columns", () => {
  const now = new Date("2026-12-06T10:00:05.000Z");
  const lines = psTable([{
    record: rec,
    status: {
      state: "running",
      start: { startedAt: "2026-12-06T10:00:01Z", pid: 9, supervisor: 8 },
    },
  }], now);
  assert.match(lines[0], /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
  assert.match(
    lines[1],
    /^aaaaaaaaaaaa {2}docker.io\/library\/busybox:latest {2}httpd -f -p 80 +5 seconds ago +Up 4 seconds +127.0.0.1:8080->80\/tcp +web$/,
  );
});

Deno.test("psJson reports state and exit code", () => {
  const [j] = psJson([{
    record: rec,
    status: { state: "exited", exit: { exitCode: 3, finishedAt: "2026-12-06T10:00:09Z" } },
  }]) as { State: string; ExitCode: number; Exited: boolean }[];
  assert.deepEqual([j.State, j.ExitCode, j.Exited], ["exited", 3, true]);
});
