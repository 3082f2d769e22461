/**
 * The rest of the runtime's contract, observed from inside containers: joining another
 * container's namespaces by path (pid too, through the fork), hook timeouts and failures,
 * the runtime's binary out of reach through /proc (CVE-2019-5736) and no host cwd or
 * descriptors in exec'd processes (CVE-2024-21626), --no-pivot, --pid-file, --preserve-fds, and
 * cgroup cpu/pids limits.
 */
import assert from "node:assert/strict";
import { busyboxBundle, editBundle, withTempDir } from "./support/bundles.ts";
import { MAIN_TS, ocibox, ociboxDetached, ociboxOk } from "./support/ocibox_cli.ts";
import { peerTest } from "./support/peers.ts";

async function statePid(root: string, id: string): Promise<number> {
  return JSON.parse(await ociboxOk(["--root", root, "state", id])).pid;
}

peerTest("a container joins another's uts, pid and network namespaces by path", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-join-", async (dir) => {
    const root = `${dir}/state`;
    const a = await busyboxBundle(`${dir}/a`, "sleep 1000", (spec) => {
      spec.hostname = "alpha";
    });
    await ociboxDetached(root, ["run", "--detach", "alpha"], a);
    const pid = await statePid(root, "alpha");
    const b = await busyboxBundle(
      `${dir}/b`,
      "hostname; ps -o pid,args; ls /sys/class/net",
      (spec) => {
        delete spec.hostname;
        spec.linux!.namespaces = spec.linux!.namespaces!.map((ns) =>
          ["uts", "pid", "network"].includes(ns.type)
            ? { type: ns.type, path: `/proc/${pid}/ns/${ns.type === "network" ? "net" : ns.type}` }
            : ns
        );
      },
    );
    const out = await ociboxOk(["--root", root, "run", "beta"], { cwd: b });
    assert.match(out, /^alpha\n/);
    // alpha's init is pid 1 of the shared pid namespace; beta's shell is another pid in it.
    assert.match(out, /\n\s+1 sleep 1000\n/);
    assert.match(out, /\n\s+\d+ sh -c hostname; ps -o pid,args/);
    assert.equal(out.trim().split("\n").at(-1), "lo"); // alpha's network: only loopback
    await ociboxOk(["--root", root, "delete", "--force", "alpha"]);
  });
});

peerTest("a hook that times out or fails stops create, leaving nothing", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-hooks-", async (dir) => {
    const root = `${dir}/state`;
    for (
      const [point, hook, message] of [
        [
          "prestart",
          { path: "/bin/sleep", args: ["sleep", "5"], timeout: 1 },
          /timed out after 1 s/,
        ],
        [
          "createRuntime",
          { path: "/bin/false" },
          /createRuntime hook \/bin\/false failed with exit code 1/,
        ],
        ["createContainer", { path: "/bin/sh", args: ["sh", "-c", "exit 3"] }, /exit code 3/],
      ] as const
    ) {
      const id = `hook-${point}`;
      const bundle = await busyboxBundle(`${dir}/${id}`, "true", (spec) => {
        spec.hooks = { [point]: [hook] };
      });
      const started = Date.now();
      const r = await ocibox(["--root", root, "create", id], { cwd: bundle });
      assert.equal(r.code, 1, point);
      assert.match(r.stderr, message, point);
      assert.ok(Date.now() - started < 4000, `${point}: the timeout was not honoured`);
      await assert.rejects(Deno.stat(`${root}/${id}`), point);
      await assert.rejects(Deno.stat(`/sys/fs/cgroup/memory/${id}`), point);
    }
  });
});

peerTest("exec'd processes cannot reach the runtime's binary, host cwd or descriptors", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-cve-", async (dir) => {
    const root = `${dir}/state`;
    const bundle = await busyboxBundle(`${dir}/b`, "true");
    // Created, not started: init (the runtime's own program) waits inside the container.
    await ociboxDetached(root, ["create", "cve"], bundle);
    const probe = [
      "head -c 4 /proc/1/exe >/dev/null 2>&1 && echo exe readable || echo exe unreadable",
      "(echo x >> /proc/1/exe) 2>/dev/null && echo exe writable || echo exe unwritable",
      // Listing /proc/1/fd is allowed to root; following its links needs ptrace access.
      "readlink /proc/1/fd/0 >/dev/null 2>&1 && echo init fds reachable || echo init fds hidden",
      "readlink /proc/self/cwd",
      "ls /proc/self/fd | tr '\\n' ' '",
    ].join("; ");
    const out = await ociboxOk(["--root", root, "exec", "cve", "sh", "-c", probe], {
      cwd: "/tmp",
    });
    assert.equal(
      out,
      "exe unreadable\nexe unwritable\ninit fds hidden\n/\n0 1 2 3 ", // 3: ls's own directory
    );
    await ociboxOk(["--root", root, "delete", "cve"]);
  });
});

peerTest("--no-pivot, --pid-file and --preserve-fds", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-flags-", async (dir) => {
    const root = `${dir}/state`;
    const bundle = await busyboxBundle(
      `${dir}/b`,
      "cat /proc/self/mountinfo | awk '$5 == \"/\" {print $4}'; cat <&3; echo $$",
    );
    await Deno.writeTextFile(`${dir}/given`, "handed over\n");
    // fd 3 of ocibox is passed on with --preserve-fds 1.
    const out = await new Deno.Command("sh", {
      args: [
        "-c",
        `exec 3<${dir}/given; exec ${Deno.execPath()} run -A --no-lock ${MAIN_TS} --root ${root} run --no-pivot --preserve-fds 1 --pid-file ${dir}/pid nopivot`,
      ],
      cwd: bundle,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const [mountRoot, handed, pid] = text.trim().split("\n");
    // With MS_MOVE + chroot the root mount is the bundle's rootfs seen from the host mount.
    assert.match(mountRoot, /\/b\/rootfs$/);
    assert.equal(handed, "handed over");
    assert.equal(pid, "1");
    assert.ok(Number(await Deno.readTextFile(`${dir}/pid`)) > 1);
  });
});

peerTest("cgroup cpu and pids limits are set and the container is in its cgroup", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-cg-", async (dir) => {
    const root = `${dir}/state`;
    const id = `cg-${crypto.randomUUID().slice(0, 8)}`;
    const bundle = await busyboxBundle(`${dir}/b`, "cat /proc/self/cgroup", (spec) => {
      spec.linux!.cgroupsPath = `/ocibox-test/${id}`;
      spec.linux!.resources = {
        ...spec.linux!.resources,
        cpu: { shares: 512, quota: 50000, period: 100000 },
        pids: { limit: 42 },
        memory: { limit: 32 << 20 },
      };
    });
    await ociboxDetached(root, ["create", id], bundle);
    const dirOf = (c: string) => `/sys/fs/cgroup/${c}/ocibox-test/${id}`;
    const v2 = await Deno.stat("/sys/fs/cgroup/cgroup.controllers").then(() => true, () => false);
    if (v2) {
      assert.equal((await Deno.readTextFile(`${dirOf(".")}/cpu.max`)).trim(), "50000 100000");
      assert.equal((await Deno.readTextFile(`${dirOf(".")}/pids.max`)).trim(), "42");
    } else {
      assert.equal((await Deno.readTextFile(`${dirOf("cpu")}/cpu.shares`)).trim(), "512");
      assert.equal((await Deno.readTextFile(`${dirOf("cpu")}/cpu.cfs_quota_us`)).trim(), "50000");
      assert.equal((await Deno.readTextFile(`${dirOf("pids")}/pids.max`)).trim(), "42");
      assert.equal(
        (await Deno.readTextFile(`${dirOf("memory")}/memory.limit_in_bytes`)).trim(),
        String(32 << 20),
      );
    }
    const pid = await statePid(root, id);
    const procs = await Deno.readTextFile(`${dirOf(v2 ? "." : "pids")}/cgroup.procs`);
    assert.ok(procs.split("\n").includes(String(pid)));
    await ociboxOk(["--root", root, "delete", id]);
    await assert.rejects(Deno.stat(dirOf(v2 ? "." : "pids")));
  });
});

peerTest("cgroup v2: limits, pause, kill --all and delete on a unified hierarchy", {
  peers: ["busybox", "unshare"],
  root: true,
}, async () => {
  await withTempDir("ocibox-v2-", async (dir) => {
    // This host is v1 hybrid; a private mount namespace with only cgroup2 at /sys/fs/cgroup is
    // what a v2 host looks like (its one controller here, hugetlb, carries a real limit).
    const bundle = await busyboxBundle(`${dir}/b`, "cat /proc/self/cgroup; sleep 100", (spec) => {
      spec.linux!.cgroupsPath = "/ocibox-v2test/c1";
      spec.linux!.resources = { hugepageLimits: [{ pageSize: "2MB", limit: 4 << 21 }] };
    });
    const ocibox = `${Deno.execPath()} run -A --no-lock ${MAIN_TS} --root ${dir}/state`;
    const cg = "/sys/fs/cgroup/ocibox-v2test/c1";
    const script = [
      "set -e",
      "umount -R /sys/fs/cgroup",
      "mount -t cgroup2 none /sys/fs/cgroup",
      `${ocibox} run --detach v2 >${dir}/out 2>&1`,
      `while ! grep -q '^0::' ${dir}/out; do sleep 0.05; done`,
      `cat ${dir}/out`,
      `cat ${cg}/hugetlb.2MB.max`,
      `${ocibox} pause v2`,
      `${ocibox} state v2 | grep status`,
      `cat ${cg}/cgroup.freeze`,
      `${ocibox} resume v2`,
      `${ocibox} state v2 | grep status`,
      `${ocibox} kill --all v2 KILL`,
      `while ${ocibox} state v2 | grep -q running; do sleep 0.05; done`,
      `${ocibox} delete v2`,
      `test -e ${cg} && echo left behind || echo removed`,
      "rmdir /sys/fs/cgroup/ocibox-v2test",
    ].join("\n");
    const out = await new Deno.Command("unshare", {
      args: ["-m", "--propagation", "private", "sh", "-c", script],
      cwd: bundle,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr) + text);
    assert.match(text, /^0::\/ocibox-v2test\/c1$/m);
    assert.match(
      text,
      /\n8388608\n {2}"status": "paused",\n1\n {2}"status": "running",\nremoved\n$/,
    );
  });
});

peerTest("time and cgroup namespaces: clocks offset as asked, the container's cgroup as root", {
  peers: ["busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-ns-", async (dir) => {
    const id = `ns-${crypto.randomUUID().slice(0, 8)}`;
    const bundle = await busyboxBundle(
      `${dir}/b`,
      "readlink /proc/self/ns/time_for_children; readlink /proc/self/ns/cgroup; grep -E '^(0|[0-9]+:memory):' /proc/self/cgroup; cat /proc/uptime",
      (spec) => {
        spec.linux!.namespaces!.push({ type: "time" }, { type: "cgroup" });
        spec.linux!.timeOffsets = { boottime: { secs: 864000 } };
      },
    );
    const out = (await ociboxOk(["--root", `${dir}/state`, "run", id], { cwd: bundle })).split(
      "\n",
    );
    const host = (ns: string) => Deno.readLinkSync(`/proc/self/ns/${ns}`);
    assert.notEqual(out[0], host("time_for_children"));
    assert.notEqual(out[1], host("cgroup"));
    // Joined before the cgroup namespace was made, the container's cgroup is its root.
    assert.deepEqual(out.slice(2, 4).sort(), ["0::/", "4:memory:/"].sort());
    // The boot clock runs 10 days ahead inside (linux.timeOffsets).
    const hostUptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
    assert.ok(Number(out[4].split(" ")[0]) >= hostUptime + 864000 - 60, out[4]);

    // exec joins the same ones (time, like pid, only through a fork).
    await editBundle(bundle, (spec) => spec.process!.args = ["sleep", "1000"]);
    const root = `${dir}/state`;
    await ociboxDetached(root, ["run", "--detach", id], bundle);
    const pid = await statePid(root, id);
    const inside = await ociboxOk([
      "--root",
      root,
      "exec",
      id,
      "sh",
      "-c",
      "readlink /proc/self/ns/time; readlink /proc/self/ns/cgroup",
    ]);
    assert.equal(
      inside,
      `${Deno.readLinkSync(`/proc/${pid}/ns/time`)}\n${
        Deno.readLinkSync(`/proc/${pid}/ns/cgroup`)
      }\n`,
    );
    await ociboxOk(["--root", root, "delete", "--force", id]);
  });
});
