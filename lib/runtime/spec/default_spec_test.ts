import { peerTest, which } from "../../../tests/support/peers.ts";
import assert from "node:assert/strict";
import { DEFAULT_HOSTNAME, defaultSpec } from "./default_spec.ts";
import { OCI_RUNTIME_SPEC_VERSION, type Spec } from "./spec_types.ts";

const runcPath = which("runc");

async function runcSpec(rootless: boolean): Promise<Spec> {
  const dir = await Deno.makeTempDir({ prefix: "ocibox-runc-spec-" });
  try {
    const args = rootless ? ["spec", "--rootless"] : ["spec"];
    const out = await new Deno.Command(runcPath!, { args, cwd: dir, stderr: "piped" }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// runc adds a cgroup namespace only on a cgroup v2 unified host; the root of such a hierarchy
// has cgroup.controllers at /sys/fs/cgroup itself.
async function hostIsCgroup2(): Promise<boolean> {
  try {
    await Deno.stat("/sys/fs/cgroup/cgroup.controllers");
    return true;
  } catch {
    return false;
  }
}

// The fields ocibox changes on purpose; everything else must equal `runc spec` exactly.
function withIntentionalChanges(runc: Spec): Spec {
  return { ...runc, ociVersion: OCI_RUNTIME_SPEC_VERSION, hostname: DEFAULT_HOSTNAME };
}

peerTest(
  "defaultSpec equals `runc spec` except ociVersion and hostname",
  { peers: ["runc"] },
  async () => {
    const ours = defaultSpec({ cgroupNamespace: await hostIsCgroup2() });
    const expected = withIntentionalChanges(await runcSpec(false));
    assert.deepStrictEqual(ours, expected);
    // Same key order too, so a serialised config.json diffs cleanly against runc's.
    assert.equal(JSON.stringify(ours), JSON.stringify(expected));
  },
);

peerTest("defaultSpec({rootless}) equals `runc spec --rootless` except ociVersion and hostname", {
  peers: ["runc"],
}, async () => {
  const ours = defaultSpec({ rootless: true, cgroupNamespace: await hostIsCgroup2() });
  const expected = withIntentionalChanges(await runcSpec(true));
  assert.deepStrictEqual(ours, expected);
  // Same key order too, so a serialised config.json diffs cleanly against runc's.
  assert.equal(JSON.stringify(ours), JSON.stringify(expected));
});

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
