import assert from "node:assert/strict";
import { defaultSpec } from "./default_spec.ts";
import type { Spec } from "./spec_types.ts";

Deno.test("defaultSpec: the intentional changes", () => {
  const spec = defaultSpec();
  assert.equal(spec.ociVersion, "1.0.2");
  assert.equal(spec.hostname, "ocibox");
});

Deno.test("defaultSpec: args and terminal options", () => {
  const spec = defaultSpec({ args: ["/bin/true", "x"], terminal: false });
  assert.deepStrictEqual(spec.process?.args, ["/bin/true", "x"]);
  assert.equal(spec.process?.terminal, false);
  assert.deepStrictEqual(defaultSpec().process?.args, ["sh"]);
  assert.equal(defaultSpec().process?.terminal, true);
});

Deno.test("defaultSpec: rootless maps container root to the given host ids", () => {
  const spec = defaultSpec({ rootless: true, hostUid: 1000, hostGid: 1001 });
  assert.deepStrictEqual(spec.linux?.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assert.deepStrictEqual(spec.linux?.gidMappings, [{ containerID: 0, hostID: 1001, size: 1 }]);
  assert.deepStrictEqual(spec.linux?.namespaces?.map((n) => n.type), [
    "pid",
    "ipc",
    "uts",
    "mount",
    "user",
  ]);
  assert.equal(spec.linux?.resources, undefined);
  const sys = spec.mounts?.find((m) => m.destination === "/sys");
  assert.deepStrictEqual(sys, {
    destination: "/sys",
    type: "none",
    source: "/sys",
    options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
  });
  const pts = spec.mounts?.find((m) => m.destination === "/dev/pts");
  assert.ok(!pts?.options?.includes("gid=5"));
});

Deno.test("defaultSpec: cgroupNamespace keeps runc's order, user last when rootless", () => {
  const types = (s: Spec) => s.linux?.namespaces?.map((n) => n.type);
  assert.deepStrictEqual(types(defaultSpec({ cgroupNamespace: true })), [
    "pid",
    "network",
    "ipc",
    "uts",
    "mount",
    "cgroup",
  ]);
  assert.deepStrictEqual(
    types(defaultSpec({ cgroupNamespace: true, rootless: true, hostUid: 1, hostGid: 1 })),
    ["pid", "ipc", "uts", "mount", "cgroup", "user"],
  );
});

Deno.test("defaultSpec: every call returns an independent copy", () => {
  const a = defaultSpec();
  a.process!.env!.push("X=1");
  a.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
  a.mounts![1].options!.push("ro");
  const b = defaultSpec();
  assert.equal(b.process?.env?.length, 2);
  assert.equal(b.process?.capabilities?.bounding?.length, 3);
  assert.ok(!b.mounts![1].options!.includes("ro"));
});
