/**
 * The cgroup manager on this host's real v1 (or hybrid) hierarchies, as root: create, limits
 * written where runc writes them, a process added, frozen, thawed, killed, and every directory
 * removed; forced v1 mode on a hybrid host leaves the unified tree alone. On a cgroup v2 host
 * these are skipped (there is no v1 tree to check).
 * @module
 */
import assert from "node:assert/strict";
import {
  cgroupManager,
  detectCgroupMode,
  loadCgroupManager,
} from "../lib/runtime/cgroups/manager.ts";
import { peerTest } from "./support/peers.ts";

const ROOT = "/sys/fs/cgroup";
const mode = (() => {
  try {
    return detectCgroupMode();
  } catch {
    return undefined;
  }
})();
const v1Host = mode === "v1" || mode === "hybrid";
const hybrid = mode === "hybrid";
const MiB = 1024 * 1024;

function read(path: string): string {
  return Deno.readTextFileSync(path).trim();
}

/** Every directory where the test cgroup may exist (all v1 hierarchies plus unified). */
function hierarchyDirs(path: string): string[] {
  return [...Deno.readDirSync(ROOT)].filter((e) => e.isDirectory && !e.isSymlink)
    .map((e) => `${ROOT}/${e.name}${path}`);
}

function leftovers(path: string): string[] {
  return hierarchyDirs(path).filter((d) => {
    try {
      return Deno.statSync(d).isDirectory;
    } catch {
      return false;
    }
  });
}

/**
 * A test that needs root and a host with the v1 trees it checks (`hybridOnly`: the hybrid's
 * unified tree as well); on other hosts it is skipped with the host's mode in its name.
 */
function hostTest(
  name: string,
  hybridOnly: boolean,
  fn: () => void | Promise<void>,
): void {
  if (!v1Host || (hybridOnly && !hybrid)) {
    Deno.test({ name: `${name} (skipped: a ${mode ?? "?"} host)`, ignore: true, fn: () => {} });
    return;
  }
  peerTest(name, { peers: ["sleep"], root: true }, fn);
}

hostTest(
  `real ${mode ?? "?"} host: create/apply/addProcess/freeze/kill/destroy`,
  false,
  () => {
    const path = `/ocibox-test-${crypto.randomUUID().slice(0, 8)}`;
    const cg = cgroupManager(path);
    let child: Deno.ChildProcess | undefined;
    try {
      assert.equal(cg.mode, mode);
      cg.create();
      const mem = `${ROOT}/memory${path}`;
      assert.ok(Deno.statSync(mem).isDirectory);
      // The hybrid's controller-less v2 tree gets the same directory (runc puts the task there too).
      if (hybrid) assert.ok(Deno.statSync(`${ROOT}/unified${path}`).isDirectory);
      // New cpuset was seeded from its parent, otherwise it could not take tasks.
      assert.equal(read(`${ROOT}/cpuset${path}/cpuset.mems`), read(`${ROOT}/cpuset/cpuset.mems`));

      cg.apply({
        memory: { limit: 64 * MiB, reservation: 32 * MiB },
        cpu: { shares: 512, quota: 50000, period: 100000, cpus: "0" },
        pids: { limit: 50 },
      });
      assert.equal(read(`${mem}/memory.limit_in_bytes`), String(64 * MiB));
      assert.equal(read(`${mem}/memory.soft_limit_in_bytes`), String(32 * MiB));
      assert.equal(cg.memoryLimit(), 64 * MiB);
      const cpu = [...Deno.readDirSync(ROOT)].find((e) => e.name.split(",").includes("cpu"))!;
      assert.equal(read(`${ROOT}/${cpu.name}${path}/cpu.shares`), "512");
      assert.equal(read(`${ROOT}/${cpu.name}${path}/cpu.cfs_quota_us`), "50000");
      assert.equal(read(`${ROOT}/${cpu.name}${path}/cpu.cfs_period_us`), "100000");
      assert.equal(read(`${ROOT}/cpuset${path}/cpuset.cpus`), "0");
      assert.equal(read(`${ROOT}/pids${path}/pids.max`), "50");

      cg.apply({
        devices: [{ allow: false, access: "rwm" }, {
          allow: true,
          type: "c",
          major: 1,
          minor: 3,
          access: "rwm",
        }],
      });
      assert.equal(read(`${ROOT}/devices${path}/devices.list`), "c 1:3 rwm");

      // Raising memory+swap above the current limit needs memsw written first.
      if (Deno.statSync(`${mem}/memory.memsw.limit_in_bytes`).isFile) {
        cg.apply({ memory: { limit: 128 * MiB, swap: 256 * MiB } });
        assert.equal(read(`${mem}/memory.memsw.limit_in_bytes`), String(256 * MiB));
        cg.apply({ memory: { limit: 16 * MiB, swap: 32 * MiB } });
        assert.equal(read(`${mem}/memory.limit_in_bytes`), String(16 * MiB));
        assert.equal(read(`${mem}/memory.memsw.limit_in_bytes`), String(32 * MiB));
        cg.apply({ memory: { limit: 64 * MiB, swap: 64 * MiB } });
      }

      child = new Deno.Command("sleep", { args: ["30"], stdout: "null", stderr: "null" }).spawn();
      cg.addProcess(child.pid);
      assert.ok(cg.pids().includes(child.pid));
      if (hybrid) {
        assert.ok(
          read(`${ROOT}/unified${path}/cgroup.procs`).split("\n").includes(String(child.pid)),
        );
      }

      const again = loadCgroupManager(path);
      cg.freeze();
      assert.equal(again.state(), "frozen");
      cg.thaw();
      assert.equal(again.state(), "thawed");

      again.killAll(9);
      const deadline = Date.now() + 5000;
      while (cg.pids().length > 0 && Date.now() < deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
      assert.deepEqual(cg.pids(), []);
    } finally {
      try {
        child?.kill("SIGKILL");
      } catch { /* already dead */ }
      cg.destroy();
    }
    assert.deepEqual(leftovers(path), []);
    cg.destroy(); // idempotent
    assert.throws(() => loadCgroupManager(path), /no such cgroup/);
    return child?.status.then((s) => assert.equal(s.signal, "SIGKILL"));
  },
);

hostTest("real host, forced v1 mode: the unified tree is left alone", true, () => {
  const path = `/ocibox-test-${crypto.randomUUID().slice(0, 8)}`;
  const cg = cgroupManager(path, { mode: "v1" });
  try {
    cg.create();
    assert.ok(Deno.statSync(`${ROOT}/pids${path}`).isDirectory);
    assert.throws(() => Deno.statSync(`${ROOT}/unified${path}`), Deno.errors.NotFound);
    // A controller the host lacks is a clear error, not a silent skip.
    assert.throws(() => cg.apply({ network: { classID: 1 } }), /net_cls is not mounted/);
  } finally {
    cg.destroy();
  }
  assert.deepEqual(leftovers(path), []);
});
