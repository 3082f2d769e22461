import assert from "node:assert/strict";
import {
  checkPortsFree,
  chooseNetwork,
  describePort,
  findNetworkHelper,
  NetworkSetupError,
  pastaArgs,
  pastaFailure,
  PortInUseError,
  startNetwork,
} from "./network.ts";
import type { PortMapping } from "./run_request.ts";

const WEB: PortMapping = {
  hostIp: "127.0.0.1",
  hostPort: 8080,
  containerPort: 80,
  protocol: "tcp",
};
const DNS: PortMapping = { hostPort: 5353, containerPort: 53, protocol: "udp" };

Deno.test("network: pasta's arguments", () => {
  assert.deepEqual(pastaArgs({ publish: [WEB, DNS], root: true, pidFile: "/c/pasta.pid" }), [
    "--config-net",
    "--quiet",
    "--runas",
    "0",
    "--dns-forward",
    "169.254.1.1",
    "--no-map-gw",
    "-t",
    "127.0.0.1/8080:80",
    "-u",
    "5353:53",
    "-T",
    "none",
    "-U",
    "none",
    "--netns",
    "/proc/self/fd/3",
    "--pid",
    "/c/pasta.pid",
  ]);
  const none = pastaArgs({ publish: [], root: false, pidFile: "/p" });
  assert.deepEqual(none.slice(2, 4), ["--userns", "/proc/self/fd/4"]);
  assert.deepEqual(none.slice(7, 11), ["-t", "none", "-u", "none"]);
});

Deno.test("network: pasta's failures become one line", () => {
  // What pasta 2023-03 prints when 127.0.0.1:8080 is taken and no syslog socket exists.
  const stderr = "Failed to send 67 bytes to syslog\n" +
    "Failed to bind any port for '-t 127.0.0.1/8080:80', exiting\n";
  const e = pastaFailure(stderr, [DNS, WEB]);
  assert.ok(e instanceof PortInUseError);
  assert.equal(e.code, "PORT_IN_USE");
  assert.equal(
    e.message,
    "cannot publish 127.0.0.1:8080->80/tcp: the host port is in use or cannot be bound",
  );
  const other = pastaFailure(
    "Failed to send 45 bytes to syslog\nFailed to open tun socket in namespace\n",
    [],
  );
  assert.ok(other instanceof NetworkSetupError);
  assert.equal(other.message, "pasta: Failed to open tun socket in namespace");
  assert.equal(pastaFailure("", []).message, "pasta: failed without a message");
});

Deno.test("network: without pasta a private network falls back to none, with a warning", () => {
  assert.deepEqual(chooseNetwork("host", undefined), { mode: "host" });
  const fallback = chooseNetwork("private", undefined);
  assert.equal(fallback.mode, "none");
  assert.match(fallback.warning!, /pasta .* is not installed/);
  const helper = { kind: "pasta" as const, path: "/usr/bin/pasta" };
  assert.deepEqual(chooseNetwork("private", helper), { mode: "private", helper });
  assert.equal(findNetworkHelper(["/nonexistent"]), undefined);
});

Deno.test("network: ports are described as podman shows them", () => {
  assert.equal(describePort(WEB), "127.0.0.1:8080->80/tcp");
  assert.equal(describePort(DNS), "5353->53/udp");
  assert.equal(describePort({ ...WEB, hostIp: "::1" }), "[::1]:8080->80/tcp");
});

Deno.test("network: a port in use is found before pasta runs", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    const taken = { ...WEB, hostPort: port };
    assert.throws(
      () => checkPortsFree([taken]),
      (e: unknown) =>
        e instanceof PortInUseError &&
        e.message === `cannot publish 127.0.0.1:${port}->80/tcp: the host port is already in use`,
    );
    await assert.rejects(
      startNetwork(1, { mode: "private", publish: [taken], helper: { kind: "pasta", path: "/x" } }),
      PortInUseError,
    );
  } finally {
    listener.close();
  }
  checkPortsFree([{ ...WEB, hostPort: port }]);
});

Deno.test("network: none and host start nothing", async () => {
  for (const mode of ["none", "host"] as const) {
    const handle = await startNetwork(1, { mode, publish: [] });
    assert.equal(handle.pid, undefined);
    await handle.stop();
  }
});
