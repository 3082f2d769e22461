/**
 * The same busybox bundles run under runc and under ocibox must give the same observations
 * from inside the container: ids, hostname, capabilities, no_new_privs, seccomp, uid map,
 * rlimits, devices, masked and read-only paths, mounts, cwd, umask, pid, exit code.
 */
import assert from "node:assert/strict";
import { busyboxBundle, editBundle, withTempDir } from "./support/bundles.ts";
import { MAIN_TS } from "./support/ocibox_cli.ts";
import { peerTest } from "./support/peers.ts";

/** What a container reports about itself (stdio targets left out: runc relays through pipes). */
const OBSERVE = [
  "id",
  "hostname",
  "grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status",
  "cat /proc/self/uid_map /proc/self/gid_map",
  "ulimit -a",
  // (/dev/mqueue's owner differs in user namespaces: runc makes the ipc namespace after
  // becoming the mapped root, ocibox at clone time; see the README.)
  "stat -c '%n %F %a %t:%T %u:%g' $(ls -d /dev/* /dev/pts/* | grep -v mqueue)",
  "wc -c < /proc/kcore",
  "ls /proc/acpi /proc/scsi 2>&1 | wc -l",
  "touch /proc/sys/kernel/x 2>&1",
  "awk '{print $5, $6}' /proc/self/mountinfo",
  "pwd",
  "umask",
  "echo pid $$",
  "ls /proc/self/fd | wc -l",
  "mkdir /tmp/made 2>&1 && echo made",
  "exit 7",
].join("; ");

async function runBoth(
  bundle: string,
  state: string,
): Promise<{ ocibox: [number, string]; runc: [number, string] }> {
  const go = async (cmd: string, args: string[]) => {
    const out = await new Deno.Command(cmd, {
      args,
      cwd: bundle,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return [out.code, text] as [number, string];
  };
  const ocibox = await go(Deno.execPath(), [
    "run",
    "-A",
    "--no-lock",
    MAIN_TS,
    "--root",
    `${state}/ocibox`,
    "run",
    "c1",
  ]);
  const runc = await go("runc", ["--root", `${state}/runc`, "run", "c1"]);
  return { ocibox, runc };
}

function sameObservations(r: Awaited<ReturnType<typeof runBoth>>): void {
  if (r.ocibox[1] !== r.runc[1]) {
    const a = r.ocibox[1].split("\n"), b = r.runc[1].split("\n");
    // The first line that differs, then what is only on each side.
    const first = a.findIndex((l, i) => l !== b[i]);
    const onlyOcibox = [`line ${first + 1}: ${a[first]}`, ...a.filter((l) => !b.includes(l))];
    const onlyRunc = [`line ${first + 1}: ${b[first]}`, ...b.filter((l) => !a.includes(l))];
    assert.fail(
      `observations differ\nonly ocibox:\n${onlyOcibox.join("\n")}\nonly runc:\n${
        onlyRunc.join("\n")
      }\n(full ocibox output:\n${r.ocibox[1]})`,
    );
  }
  assert.equal(r.ocibox[0], r.runc[0]);
}

peerTest("the default bundle looks the same from inside under runc and ocibox", {
  peers: ["runc", "busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-rt-", async (dir) => {
    const bundle = await busyboxBundle(`${dir}/b`, OBSERVE);
    const r = await runBoth(bundle, `${dir}/state`);
    sameObservations(r);
    assert.equal(r.ocibox[0], 7);
    assert.match(r.ocibox[1], /^uid=0\(root\) gid=0\(root\)/);
    assert.match(r.ocibox[1], /NoNewPrivs:\t1/);
    assert.match(r.ocibox[1], /CapEff:\t0000000020000420/);
    assert.match(r.ocibox[1], /mkdir: can.t create directory .\/tmp\/made.: Read-only file system/);
  });
});

peerTest("users, capabilities, rlimits, hostname, sysctl, seccomp and masks match runc", {
  peers: ["runc", "busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-rt-", async (dir) => {
    const bundle = await busyboxBundle(`${dir}/b`, OBSERVE, (spec) => {
      const p = spec.process!;
      p.user = { uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o027 };
      p.cwd = "/tmp";
      p.noNewPrivileges = false;
      p.capabilities = {
        bounding: ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL", "CAP_SYS_ADMIN"],
        effective: ["CAP_NET_BIND_SERVICE"],
        permitted: ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
        inheritable: ["CAP_NET_BIND_SERVICE"],
        ambient: ["CAP_NET_BIND_SERVICE"],
      };
      p.rlimits = [
        { type: "RLIMIT_NOFILE", hard: 512, soft: 256 },
        { type: "RLIMIT_CORE", hard: 4096, soft: 0 },
        { type: "RLIMIT_NPROC", hard: 100, soft: 100 },
      ];
      spec.hostname = "box-under-test";
      spec.domainname = "example.test";
      p.oomScoreAdj = 123;
      spec.linux!.devices = [
        { path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o640, uid: 0, gid: 0 },
      ];
      spec.mounts!.push({
        destination: "/run/small",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "nodev", "size=1m", "mode=0710", "rprivate"],
      });
      spec.linux!.sysctl = { "net.ipv4.ip_forward": "1", "kernel.shmmax": "100000" };
      spec.linux!.maskedPaths = [...spec.linux!.maskedPaths!, "/etc/passwd", "/etc/group"];
      spec.linux!.readonlyPaths = [...spec.linux!.readonlyPaths!, "/tmp"];
      spec.linux!.seccomp = JSON.parse(
        Deno.readTextFileSync(new URL("./fixtures/seccomp/deny_mkdir.json", import.meta.url)),
      );
    });
    await editBundle(bundle, (spec) => {
      spec.process!.args = [
        "sh",
        "-c",
        `${
          OBSERVE.replace("; exit 7", "")
        }; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; cat /etc/passwd | wc -c; cat /proc/sys/kernel/domainname; cat /proc/self/oom_score_adj; df -k /run/small | tail -1 | awk '{print $2}'; echo "mode $(stat -c '%a' /run/small)"; exit 7`,
      ];
    });
    const r = await runBoth(bundle, `${dir}/state`);
    // Two known differences. runc resets a tmpfs to its mount point's mode after mounting it;
    // ocibox keeps the `mode=` the config asks for. runc 1.1 ignores `domainname` (1.2 sets it).
    assert.match(r.runc[1], /\n\(none\)\n123\n1024\nmode 755\n/);
    r.runc[1] = r.runc[1].replace(
      "\n(none)\n123\n1024\nmode 755\n",
      "\nexample.test\n123\n1024\nmode 710\n",
    );
    sameObservations(r);
    const out = r.ocibox[1];
    assert.match(out, /^uid=1000 gid=1000 groups=10,20/);
    assert.match(out, /\nbox-under-test\n/);
    assert.match(out, /Seccomp:\t2/);
    assert.match(out, /CapAmb:\t0000000000000400/);
    assert.match(out, /open files +\(-n\) 256/);
    assert.match(out, /mkdir: can't create directory '\/tmp\/made': Operation not permitted/);
    assert.match(out, /\n0027\n/);
    // sysctls applied; /etc/passwd masked (empty); names, oom score, tmpfs size and mode
    assert.match(out, /\n1\n100000\n0\nexample.test\n123\n1024\nmode 710\n/);
    assert.match(out, /\/dev\/fuse character special file 640 a:e5 0:0\n/);
  });
});

peerTest("user namespaces with id mappings match runc", {
  peers: ["runc", "busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-rt-", async (dir) => {
    const bundle = await busyboxBundle(`${dir}/b`, OBSERVE, (spec) => {
      spec.linux!.namespaces!.push({ type: "user" });
      spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    // The mapped root must own the rootfs to use it.
    await new Deno.Command("chown", { args: ["-R", "100000:100000", `${bundle}/rootfs`] })
      .output();
    const r = await runBoth(bundle, `${dir}/state`);
    sameObservations(r);
    assert.match(r.ocibox[1], /\s+0\s+100000\s+65536\n/);
  });
});

peerTest(
  "an old seccomp profile, no no_new_privs, a user, cgroup limits, lo and a FIFO match runc",
  {
    peers: ["runc", "busybox"],
    root: true,
  },
  async () => {
    await withTempDir("ocibox-rt-", async (dir) => {
      const cgroup = `/ocibox-vs-runc-${crypto.randomUUID().slice(0, 8)}`;
      const bundle = await busyboxBundle(`${dir}/b`, OBSERVE, (spec) => {
        const p = spec.process!;
        // What podman and Docker run by default: a seccomp profile without no_new_privs, here
        // one written before Linux 5.9 (no clone3, close_range, openat2, faccessat2, rseq) with
        // an ERRNO default; a non-root user; a low address-space limit.
        p.noNewPrivileges = false;
        p.user = { uid: 1000, gid: 1000 };
        spec.linux!.seccomp = JSON.parse(
          Deno.readTextFileSync(
            new URL("./fixtures/seccomp/before_linux_5_9.json", import.meta.url),
          ),
        );
        spec.linux!.cgroupsPath = cgroup;
        spec.linux!.resources = {
          memory: { limit: 64 << 20 },
          pids: { limit: 100 },
          devices: [{ allow: false, access: "rwm" }],
        };
        spec.linux!.devices = [{ path: "/dev/myfifo", type: "p", fileMode: 0o644 }];
        spec.root!.readonly = false;
      });
      await editBundle(bundle, (spec) => {
        spec.process!.args = [
          "sh",
          "-c",
          `${OBSERVE.replace("; exit 7", "")}; ` +
          // The container's own cgroup, not the host's root, with its limits.
          "awk '$9 ~ /cgroup/ {print $4, $5}' /proc/self/mountinfo; " +
          "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; " +
          // The loopback interface is up (IFF_UP), and a TCP connection to it works.
          "cat /sys/class/net/lo/flags; " +
          "(nc -l -p 8123 -e echo pong &); sleep 0.3; echo ping | nc 127.0.0.1 8123; exit 7",
        ];
      });
      const r = await runBoth(bundle, `${dir}/state`);
      sameObservations(r);
      const out = r.ocibox[1];
      assert.equal(r.ocibox[0], 7);
      assert.match(out, /^uid=1000 gid=1000/);
      assert.match(out, /Seccomp:\t2/);
      assert.match(out, /NoNewPrivs:\t0/);
      assert.match(out, new RegExp(`${cgroup} /sys/fs/cgroup/memory\\n`));
      assert.match(out, /\n67108864\n100\n0x9\npong\n/);
      assert.match(out, /\/dev\/myfifo fifo 644/);
    });
  },
);

peerTest("rootfsPropagation shared, slave, unbindable: pivot_root works, mounts as runc's", {
  peers: ["runc", "busybox"],
  root: true,
}, async () => {
  for (const propagation of ["shared", "slave", "private", "unbindable"] as const) {
    await withTempDir("ocibox-rt-", async (dir) => {
      const bundle = await busyboxBundle(
        `${dir}/b`,
        "awk '{print $5, $7}' /proc/self/mountinfo | sed -E 's/(shared|master):[0-9]+/\\1/g'",
        (spec) => spec.linux!.rootfsPropagation = propagation,
      );
      const r = await runBoth(bundle, `${dir}/state`);
      assert.equal(r.ocibox[0], 0, `${propagation}: ${r.ocibox[1]}`);
      if (propagation === "unbindable") {
        // runc 1.1 cannot bind an unbindable root's rootfs (EINVAL); ocibox makes the parent
        // private first, and the container's / unbindable afterwards.
        assert.notEqual(r.runc[0], 0);
        assert.match(r.ocibox[1], /^\/ unbindable\n/);
        return;
      }
      if (propagation === "shared") {
        // The asked-for propagation is applied to the new / after pivot_root, as runc 1.2 does;
        // runc 1.1 leaves it private.
        assert.match(r.ocibox[1], /^\/ shared\n/);
        r.ocibox[1] = r.ocibox[1].replace(/^\/ shared\n/, "/ -\n");
      }
      sameObservations(r);
    });
  }
});

peerTest("without a mount namespace the container runs in the host's, chrooted, as with runc", {
  peers: ["runc", "busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-rt-", async (dir) => {
    const bundle = await busyboxBundle(
      `${dir}/b`,
      "pwd; ls /; df -k /tmp | tail -1 | awk '{print $2}'",
      (spec) => {
        spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== "mount");
        delete spec.linux!.maskedPaths;
        delete spec.linux!.readonlyPaths;
        spec.root!.readonly = false;
        spec.process!.cwd = "/tmp";
        spec.mounts = [
          { destination: "/proc", type: "proc", source: "proc" },
          { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["size=1m"] },
        ];
      },
    );
    const mounted = async () =>
      (await Deno.readTextFile("/proc/self/mountinfo")).includes(` ${bundle}/rootfs`);
    const ocibox = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", MAIN_TS, "--root", `${dir}/state/ocibox`, "run", "c1"],
      cwd: bundle,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(ocibox.stdout);
    assert.equal(ocibox.code, 0, new TextDecoder().decode(ocibox.stderr));
    // Its tmpfs was the host's mount while it ran; deleting the container took it away (runc
    // leaves it behind).
    assert.ok(!(await mounted()), "ocibox left its mount on the host");
    const runc = await new Deno.Command("runc", {
      args: ["--root", `${dir}/state/runc`, "run", "c1"],
      cwd: bundle,
      stdout: "piped",
    }).output();
    // runc leaves its rootfs bind, /proc and /tmp on the host.
    for (const path of [`${bundle}/rootfs/tmp`, `${bundle}/rootfs/proc`, `${bundle}/rootfs`]) {
      while (
        (await new Deno.Command("umount", { args: ["-l", path], stderr: "null" }).output()).success
      );
    }
    assert.equal(out, new TextDecoder().decode(runc.stdout));
    assert.match(out, /^\/tmp\nbin\n/);
    assert.match(out, /\n1024\n$/);
  });
});
