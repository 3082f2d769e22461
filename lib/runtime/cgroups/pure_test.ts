import assert from "node:assert/strict";
import { detectCgroupMode, parseCgroupMounts } from "./mode.ts";
import { expandSlice, ownCgroup, resolveCgroupsPath } from "./path.ts";
import {
  blkioWeightToIOWeight,
  deviceRuleLine,
  sharesToWeight,
  swapToV2,
  v1Writes,
  v2Writes,
} from "./convert.ts";
import { CgroupError } from "./errors.ts";

const V1 = `25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw
31 25 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw shared:14 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw shared:15 - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
`;
const HYBRID = V1 + "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n";
const V2 = `25 30 0:23 / /sys rw - sysfs sysfs rw
33 25 0:27 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

Deno.test("detectCgroupMode: v1, hybrid, v2", () => {
  assert.equal(detectCgroupMode(V1), "v1");
  assert.equal(detectCgroupMode(HYBRID), "hybrid");
  assert.equal(detectCgroupMode(V2), "v2");
  // A named systemd hierarchy alone is not v1.
  const systemdOnly = "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n";
  assert.equal(detectCgroupMode(systemdOnly + V2), "v2");
  assert.throws(() => detectCgroupMode("25 30 0:23 / /sys rw - sysfs sysfs rw\n"), CgroupError);
});

Deno.test("parseCgroupMounts: controllers and named hierarchies", () => {
  assert.deepEqual(parseCgroupMounts(HYBRID), [
    { mountPoint: "/sys/fs/cgroup/cpu,cpuacct", v2: false, controllers: ["cpu", "cpuacct"] },
    { mountPoint: "/sys/fs/cgroup/memory", v2: false, controllers: ["memory"] },
    { mountPoint: "/sys/fs/cgroup/systemd", v2: false, controllers: ["name=systemd"] },
    { mountPoint: "/sys/fs/cgroup/unified", v2: true, controllers: [] },
  ]);
});

const SELF_V1 = "9:name=systemd:/user.slice/session-1.scope\n4:memory:/other\n0::/\n";
const SELF_V2 = "0::/user.slice/user-0.slice/session-1.scope\n";

Deno.test("resolveCgroupsPath: cgroupfs", () => {
  const o = { systemd: false, procSelfCgroup: SELF_V1, mode: "v1" as const };
  assert.equal(
    resolveCgroupsPath("/libpod_parent/libpod-abc", "abc", o),
    "/libpod_parent/libpod-abc",
  );
  assert.equal(resolveCgroupsPath("//a/./b/", "x", o), "/a/b");
  assert.equal(resolveCgroupsPath("foo/bar", "x", o), "/user.slice/session-1.scope/foo/bar");
  assert.equal(resolveCgroupsPath(undefined, "c1", o), "/user.slice/session-1.scope/c1");
  assert.equal(
    resolveCgroupsPath("", "c1", { ...o, procSelfCgroup: "0::/\n9:name=systemd:/\n" }),
    "/c1",
  );
  // v2: relative to the parent of the own cgroup (the own one has processes in it).
  const o2 = { systemd: false, procSelfCgroup: SELF_V2, mode: "v2" as const };
  assert.equal(resolveCgroupsPath(undefined, "c1", o2), "/user.slice/user-0.slice/c1");
  assert.equal(resolveCgroupsPath("k", "c1", { ...o2, procSelfCgroup: "0::/\n" }), "/k");
  assert.throws(() => resolveCgroupsPath("/a/../b", "x", o), CgroupError);
});

Deno.test("resolveCgroupsPath: systemd slice:prefix:name", () => {
  const o = { systemd: true };
  assert.equal(
    resolveCgroupsPath("machine.slice:libpod:abc", "abc", o),
    "/machine.slice/libpod-abc.scope",
  );
  assert.equal(resolveCgroupsPath("a-b.slice:p:n", "x", o), "/a.slice/a-b.slice/p-n.scope");
  assert.equal(resolveCgroupsPath(":p:n", "x", o), "/system.slice/p-n.scope");
  assert.equal(resolveCgroupsPath(undefined, "c1", o), "/system.slice/ocibox-c1.scope");
  assert.equal(resolveCgroupsPath("-.slice::n", "x", o), "/n.scope");
  assert.equal(resolveCgroupsPath("a.slice:p:b.slice", "x", o), "/a.slice/b.slice");
  assert.throws(() => resolveCgroupsPath("/not/systemd", "x", o), CgroupError);
  assert.throws(() => resolveCgroupsPath("bad:p:n", "x", o), CgroupError);
  assert.equal(expandSlice("a-b-c.slice"), "/a.slice/a-b.slice/a-b-c.slice");
  assert.throws(() => expandSlice("a--b.slice"), CgroupError);
  assert.equal(ownCgroup("0::/\n", "v2"), "/");
});

Deno.test("conversions: cpu weight, io weight, swap, devices", () => {
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(sharesToWeight(512), 1 + Math.floor((510 * 9999) / 262142));
  assert.equal(blkioWeightToIOWeight(10), 1);
  assert.equal(blkioWeightToIOWeight(1000), 10000);
  assert.equal(blkioWeightToIOWeight(500), 1 + Math.floor((490 * 9999) / 990));
  assert.equal(swapToV2(200, 100), 100);
  assert.equal(swapToV2(-1, 100), -1);
  assert.equal(swapToV2(undefined, -1), -1);
  assert.equal(swapToV2(undefined, 100), undefined);
  assert.throws(() => swapToV2(50, 100), CgroupError);
  assert.throws(() => swapToV2(50, undefined), CgroupError);
  assert.equal(deviceRuleLine({ allow: false, access: "rwm" }), "a");
  assert.equal(
    deviceRuleLine({ allow: true, type: "c", major: 1, minor: 3, access: "rw" }),
    "c 1:3 rw",
  );
  assert.equal(deviceRuleLine({ allow: true, type: "c", major: 136 }), "c 136:* rwm");
});

const probe = (cur: number, files: string[] = []) => ({
  has: (_c: string, f: string) => files.includes(f),
  currentMemoryLimit: () => cur,
});
const lines = (ws: { file: string; value: string }[]) => ws.map((w) => `${w.file}=${w.value}`);

Deno.test("v1Writes: memory/swap ordering follows the current limit", () => {
  const mem = { memory: { limit: 100, swap: 200 } };
  // Raising: current limit below the new memsw → memsw first.
  assert.deepEqual(lines(v1Writes(mem, probe(50))), [
    "memory.memsw.limit_in_bytes=200",
    "memory.limit_in_bytes=100",
  ]);
  // Lowering: current limit above the new memsw → limit first.
  assert.deepEqual(lines(v1Writes(mem, probe(Infinity))), [
    "memory.limit_in_bytes=100",
    "memory.memsw.limit_in_bytes=200",
  ]);
  // Unlimited memory lifts memsw too, optionally (swap accounting may be off).
  const unl = v1Writes({ memory: { limit: -1 } }, probe(100));
  assert.deepEqual(lines(unl), ["memory.memsw.limit_in_bytes=-1", "memory.limit_in_bytes=-1"]);
  assert.equal(unl[0].optional, true);
  assert.equal(v1Writes({ memory: { limit: 1, swap: 2 } }, probe(0))[0].optional, false);
});

Deno.test("v1Writes: cpu, pids, blkio, devices", () => {
  const r = v1Writes({
    devices: [{ allow: false, access: "rwm" }, {
      allow: true,
      type: "c",
      major: 1,
      minor: 3,
      access: "rwm",
    }],
    cpu: { shares: 512, quota: 50000, period: 100000, cpus: "0", mems: "0" },
    pids: { limit: 0 },
    blockIO: { weight: 300, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1024 }] },
  }, probe(0, ["blkio.bfq.weight"]));
  assert.deepEqual(lines(r), [
    "devices.deny=a",
    "devices.allow=c 1:3 rwm",
    "cpu.shares=512",
    "cpu.cfs_period_us=100000",
    "cpu.cfs_quota_us=50000",
    "cpuset.cpus=0",
    "cpuset.mems=0",
    "pids.max=0",
    "blkio.bfq.weight=300",
    "blkio.throttle.read_bps_device=8:0 1024",
  ]);
  assert.deepEqual(lines(v1Writes({ pids: { limit: -1 } }, probe(0))), ["pids.max=max"]);
  assert.throws(() => v1Writes({ unified: { "memory.high": "1" } }, probe(0)), CgroupError);
});

Deno.test("v2Writes: cpu.max forms and unsupported settings", () => {
  const has = { has: () => false };
  assert.deepEqual(lines(v2Writes({ cpu: { period: 100000 } }, has)), ["cpu.max=max 100000"]);
  assert.deepEqual(lines(v2Writes({ cpu: { quota: -1, period: 1000 } }, has)), [
    "cpu.max=max 1000",
  ]);
  assert.deepEqual(lines(v2Writes({ cpu: { quota: 20000 } }, has)), ["cpu.max=20000"]);
  assert.deepEqual(lines(v2Writes({ devices: [{ allow: false }] }, has)), []);
  assert.throws(() => v2Writes({ cpu: { realtimeRuntime: 5 } }, has), CgroupError);
  assert.throws(() => v2Writes({ network: { classID: 1 } }, has), CgroupError);
});
