import assert from "node:assert/strict";
import { cgroupManager, V2_DEVICE_RULES_ENFORCED } from "./manager.ts";

/** A temp dir shaped like a v2 root: cgroup.controllers and cgroup.subtree_control files. */
function fakeV2Root(): string {
  const root = Deno.makeTempDirSync({ prefix: "ocibox-cg2-" });
  Deno.writeTextFileSync(`${root}/cgroup.controllers`, "cpuset cpu io memory hugetlb pids\n");
  Deno.writeTextFileSync(`${root}/cgroup.subtree_control`, "");
  Deno.writeTextFileSync(`${root}/cgroup.procs`, "");
  return root;
}

/** What the kernel would populate when a cgroup dir is created with those controllers enabled. */
function populate(dir: string, files: string[]): void {
  for (const f of files) Deno.writeTextFileSync(`${dir}/${f}`, "");
}

Deno.test("fake v2 root: create enables controllers, apply writes exact values", () => {
  const root = fakeV2Root();
  try {
    const cg = cgroupManager("/pod/ctr", { root });
    assert.equal(cg.mode, "v2");
    // Intermediate cgroup: in a real tree the kernel lists controllers enabled by its parent.
    Deno.mkdirSync(`${root}/pod`);
    populate(`${root}/pod`, ["cgroup.subtree_control", "cgroup.procs"]);
    Deno.writeTextFileSync(`${root}/pod/cgroup.controllers`, "cpu memory pids\n");
    cg.create();
    assert.equal(
      Deno.readTextFileSync(`${root}/cgroup.subtree_control`),
      "+cpuset +cpu +io +memory +hugetlb +pids",
    );
    assert.equal(Deno.readTextFileSync(`${root}/pod/cgroup.subtree_control`), "+cpu +memory +pids");
    assert.ok(Deno.statSync(`${root}/pod/ctr`).isDirectory);

    const dir = `${root}/pod/ctr`;
    const files = [
      "memory.max",
      "memory.low",
      "memory.swap.max",
      "cpu.weight",
      "cpu.max",
      "cpuset.cpus",
      "cpuset.mems",
      "pids.max",
      "io.weight",
      "io.max",
      "cgroup.procs",
    ];
    populate(dir, files);
    cg.apply({
      memory: { limit: 64 * 1024 * 1024, reservation: 32 * 1024 * 1024, swap: 96 * 1024 * 1024 },
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: "0-1", mems: "0" },
      pids: { limit: 50 },
      blockIO: { weight: 500, throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }] },
      devices: [{ allow: false, access: "rwm" }],
    });
    const got = Object.fromEntries(files.map((f) => [f, Deno.readTextFileSync(`${dir}/${f}`)]));
    assert.deepEqual(got, {
      "memory.max": "67108864",
      "memory.low": "33554432",
      "memory.swap.max": "33554432",
      "cpu.weight": "39",
      "cpu.max": "50000 100000",
      "cpuset.cpus": "0-1",
      "cpuset.mems": "0",
      "pids.max": "50",
      "io.weight": "4950",
      "io.max": "8:0 wiops=100",
      "cgroup.procs": "",
    });
    assert.equal(V2_DEVICE_RULES_ENFORCED, false);
    assert.equal(cg.memoryLimit(), 64 * 1024 * 1024);

    cg.apply({ memory: { limit: -1 }, pids: { limit: -1 }, cpu: { quota: -1, period: 100000 } });
    assert.equal(Deno.readTextFileSync(`${dir}/memory.max`), "max");
    assert.equal(Deno.readTextFileSync(`${dir}/memory.swap.max`), "max");
    assert.equal(Deno.readTextFileSync(`${dir}/pids.max`), "max");
    assert.equal(Deno.readTextFileSync(`${dir}/cpu.max`), "max 100000");
    assert.equal(cg.memoryLimit(), undefined);

    // Swap accounting compiled out: implicit unlimited swap is skipped, an explicit one is an error.
    Deno.removeSync(`${dir}/memory.swap.max`);
    cg.apply({ memory: { limit: -1 } });
    assert.throws(
      () => cg.apply({ memory: { limit: 100, swap: 200 } }),
      (e: Error) => e.name === "CgroupError" && /memory\.swap\.max.*absent/.test(e.message),
    );
    // A missing controller file is a clear error.
    assert.throws(
      () => cg.apply({ hugepageLimits: [{ pageSize: "2MB", limit: 1 }] }),
      /hugetlb\.2MB\.max/,
    );

    cg.addProcess(4242);
    assert.equal(Deno.readTextFileSync(`${dir}/cgroup.procs`), "4242");
    assert.deepEqual(cg.pids(), [4242]);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
