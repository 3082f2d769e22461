import assert from "node:assert/strict";
import { InvalidImageError, UnsupportedError } from "../../errors.ts";
import { defaultSpec } from "../spec/default_spec.ts";
import type { LinuxSeccomp, Mount, POSIXRlimit, Spec } from "../spec/spec_types.ts";
import { MS, type Op } from "./ops.ts";
import { planContainer, type PlanContext, planExec } from "./planner.ts";

const BUNDLE = "/run/bundle";

function context(overrides: Partial<PlanContext> = {}): PlanContext {
  return {
    bundle: BUNDLE,
    rootless: false,
    userns: false,
    cgroupV2: true,
    cgroupV2Source: "/sys/fs/cgroup/c1",
    isFile: () => false,
    ...overrides,
  };
}

/** The default spec without a terminal, changed by `edit`. */
function spec(edit: (s: Spec) => void = () => {}, rootless = false): Spec {
  const s = defaultSpec({ terminal: false, rootless, hostUid: 1000, hostGid: 1000 });
  edit(s);
  return s;
}

const ops = (s: Spec, c: Partial<PlanContext> = {}) => planContainer(s, context(c)).ops;
const only = <K extends Op["op"]>(list: Op[], kind: K) =>
  list.filter((o): o is Extract<Op, { op: K }> => o.op === kind);
const mountOps = (list: Op[]) => only(list, "mount");

function mount(
  target: string,
  fstype: string | null,
  source: string | null,
  flags: number,
  data: string | null = null,
  extra: Partial<Extract<Op, { op: "mount" }>> = {},
): Op {
  return {
    op: "mount",
    source,
    target,
    fstype,
    flags,
    data,
    kind: "dir",
    propagation: [],
    ...extra,
  };
}

const NOSUID_NOEXEC_NODEV = MS.NOSUID | MS.NOEXEC | MS.NODEV;
const DEFAULT_CAPS = 2 ** 29 + 2 ** 5 + 2 ** 10; // AUDIT_WRITE, KILL, NET_BIND_SERVICE

Deno.test("planContainer: runc's default spec, in order", () => {
  const plan = planContainer(spec(), context());
  const mknod = (path: string, major: number, minor: number): Op => ({
    op: "mknod",
    path,
    type: "c",
    major,
    minor,
    mode: 0o666,
    uid: 0,
    gid: 0,
  });
  assert.deepEqual(plan.ops, [
    { op: "propagation", target: "/", flags: MS.REC | MS.SLAVE },
    { op: "bindRootfs", rootfs: "/run/bundle/rootfs" },
    { op: "loopback" },
    mount("/proc", "proc", "proc", 0),
    mount("/dev", "tmpfs", "tmpfs", MS.NOSUID | MS.STRICTATIME, "mode=755,size=65536k"),
    mount(
      "/dev/pts",
      "devpts",
      "devpts",
      MS.NOSUID | MS.NOEXEC,
      "newinstance,ptmxmode=0666,mode=0620,gid=5",
    ),
    mount("/dev/shm", "tmpfs", "shm", NOSUID_NOEXEC_NODEV, "mode=1777,size=65536k"),
    mount("/dev/mqueue", "mqueue", "mqueue", NOSUID_NOEXEC_NODEV),
    mount("/sys", "sysfs", "sysfs", NOSUID_NOEXEC_NODEV | MS.RDONLY),
    // No cgroup namespace: the container's own cgroup directory, bound from the host.
    mount("/sys/fs/cgroup", null, "/sys/fs/cgroup/c1", MS.BIND | MS.REC, null, {
      remountFlags: NOSUID_NOEXEC_NODEV | MS.RELATIME | MS.RDONLY,
    }),
    mknod("/dev/null", 1, 3),
    mknod("/dev/random", 1, 8),
    mknod("/dev/full", 1, 7),
    mknod("/dev/tty", 5, 0),
    mknod("/dev/zero", 1, 5),
    mknod("/dev/urandom", 1, 9),
    { op: "symlink", path: "/dev/fd", target: "/proc/self/fd" },
    { op: "symlink", path: "/dev/stdin", target: "/proc/self/fd/0" },
    { op: "symlink", path: "/dev/stdout", target: "/proc/self/fd/1" },
    { op: "symlink", path: "/dev/stderr", target: "/proc/self/fd/2" },
    { op: "symlink", path: "/dev/ptmx", target: "pts/ptmx" },
    ...["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"].map((
      path,
    ): Op => ({ op: "readonly", path })),
    ...[
      "/proc/acpi",
      "/proc/asound",
      "/proc/kcore",
      "/proc/keys",
      "/proc/latency_stats",
      "/proc/timer_list",
      "/proc/timer_stats",
      "/proc/sched_debug",
      "/sys/firmware",
      "/proc/scsi",
    ].map((path): Op => ({ op: "mask", path })),
    { op: "readonlyRoot" },
    { op: "pivotRoot", rootfs: "/run/bundle/rootfs", mode: "pivot" },
    { op: "sethostname", name: "ocibox" },
    { op: "setrlimit", resource: 7, soft: 1024, hard: 1024 },
    { op: "dropBounding", keep: DEFAULT_CAPS },
    { op: "keepCaps", on: true },
    { op: "setgroups", gids: [] },
    { op: "setresgid", gid: 0 },
    { op: "setresuid", uid: 0 },
    { op: "keepCaps", on: false },
    {
      op: "capabilities",
      effective: DEFAULT_CAPS,
      permitted: DEFAULT_CAPS,
      inheritable: 0,
      ambient: 0,
    },
    { op: "chdir", path: "/" },
    { op: "umask", mask: 0o022 },
    { op: "closeFds", preserve: 0 },
    { op: "sync", point: "program" },
    { op: "created" },
    { op: "waitStart" },
    { op: "resetSignals" },
    { op: "noNewPrivileges" },
    {
      op: "exec",
      path: null,
      args: ["sh"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    },
  ]);
  assert.deepEqual(plan.namespaces, ["pid", "network", "ipc", "uts", "mount"]);
  assert.deepEqual(plan.warnings, [
    "ambient capabilities not in both the permitted and inheritable sets are not raised: " +
    "CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE",
  ]);
  // The plan is plain JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan);
});

Deno.test("planContainer: rootless default spec binds /sys, cgroups and devices from the host", () => {
  const plan = planContainer(spec(() => {}, true), context({ rootless: true, userns: true }));
  assert.deepEqual(plan.namespaces, ["pid", "ipc", "uts", "mount", "user"]);
  const byTarget = new Map(mountOps(plan.ops).map((m) => [m.target, m]));
  assert.deepEqual(
    byTarget.get("/sys"),
    mount("/sys", null, "/sys", MS.BIND | MS.REC, null, {
      remountFlags: NOSUID_NOEXEC_NODEV | MS.RDONLY,
    }),
  );
  assert.deepEqual(
    byTarget.get("/sys/fs/cgroup"),
    mount("/sys/fs/cgroup", null, "/sys/fs/cgroup/c1", MS.BIND | MS.REC, null, {
      remountFlags: NOSUID_NOEXEC_NODEV | MS.RELATIME | MS.RDONLY,
    }),
  );
  assert.deepEqual(
    only(plan.ops, "bindDevice").map((d) => [d.path, d.source]),
    ["null", "random", "full", "tty", "zero", "urandom"].map((n) => [`/dev/${n}`, `/dev/${n}`]),
  );
  assert.deepEqual(only(plan.ops, "mknod"), []);
  // setgroups is denied in a rootless user namespace.
  assert.deepEqual(only(plan.ops, "setgroups"), []);
  assert.equal(only(plan.ops, "keepCaps").length, 2);
});

Deno.test("planContainer: bind mounts (ro remount, rbind, file, relative source)", () => {
  const mounts: Mount[] = [
    { destination: "/data", type: "bind", source: "data", options: ["ro"] },
    { destination: "/host", type: "none", source: "/srv/x/../host", options: ["rbind", "nosuid"] },
    { destination: "/etc/resolv.conf", source: "/etc/resolv.conf", options: ["bind", "ro"] },
    { destination: "/plain", type: "bind", source: "/plain" },
  ];
  const list = ops(spec((s) => s.mounts = mounts), {
    isFile: (p) => p === "/etc/resolv.conf",
  });
  assert.deepEqual(mountOps(list), [
    mount("/data", null, "/run/bundle/data", MS.BIND, null, { remountFlags: MS.RDONLY }),
    mount("/host", null, "/srv/host", MS.BIND | MS.REC, null, { remountFlags: MS.NOSUID }),
    mount("/etc/resolv.conf", null, "/etc/resolv.conf", MS.BIND, null, {
      kind: "file",
      remountFlags: MS.RDONLY,
    }),
    mount("/plain", null, "/plain", MS.BIND),
  ]);
});

Deno.test("planContainer: propagation options and rootfsPropagation", () => {
  const list = ops(spec((s) => {
    s.mounts = [
      { destination: "/a", type: "bind", source: "/a", options: ["rbind", "rshared"] },
      { destination: "/b", type: "bind", source: "/b", options: ["private", "runbindable"] },
    ];
    s.linux!.rootfsPropagation = "private";
  }));
  assert.deepEqual(list[0], { op: "propagation", target: "/", flags: MS.PRIVATE });
  assert.deepEqual(mountOps(list).map((m) => m.propagation), [
    [MS.REC | MS.SHARED],
    [MS.PRIVATE, MS.REC | MS.UNBINDABLE],
  ]);
  // shared: the rootfs's parent mount made private so pivot_root works; the propagation again
  // on the new `/` afterwards.
  const shared = ops(spec((s) => s.linux!.rootfsPropagation = "shared"), {
    rootfsParentMount: "/var",
  });
  assert.deepEqual(shared.slice(0, 3), [
    { op: "propagation", target: "/", flags: MS.SHARED },
    { op: "propagation", target: "/var", flags: MS.PRIVATE },
    { op: "bindRootfs", rootfs: "/run/bundle/rootfs" },
  ]);
  const pivot = shared.findIndex((o) => o.op === "pivotRoot");
  assert.deepEqual(shared[pivot + 1], { op: "propagation", target: "/", flags: MS.SHARED });
  assert.throws(
    () => ops(spec((s) => s.linux!.rootfsPropagation = "bogus" as "private")),
    new InvalidImageError("config.json linux.rootfsPropagation", 'unknown propagation "bogus"'),
  );
});

Deno.test("planContainer: tmpfs data, ro tmpfs remounted once set up, before pivot_root", () => {
  const plan = planContainer(
    spec((s) => {
      s.mounts = [
        { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["ro", "mode=755"] },
        {
          destination: "/run",
          type: "tmpfs",
          options: ["nodev", "size=1m", "", "rw", "noexec", "tmpcopyup"],
        },
      ];
    }),
    context(),
  );
  const list = plan.ops;
  assert.deepEqual(mountOps(list).slice(0, 2), [
    mount("/dev", "tmpfs", "tmpfs", 0, "mode=755"),
    mount("/run", "tmpfs", null, MS.NODEV | MS.NOEXEC, "size=1m"),
  ]);
  const pivot = list.findIndex((o) => o.op === "pivotRoot");
  assert.deepEqual(list[pivot - 2], mount("/dev", null, null, MS.REMOUNT | MS.BIND | MS.RDONLY));
  assert.deepEqual(list[pivot - 1], { op: "readonlyRoot" });
  assert.ok(
    plan.warnings.includes("config.json mounts[1]: tmpcopyup is not supported: /run starts empty"),
  );
});

Deno.test("planContainer: relative and climbing destinations stay under /", () => {
  const plan = planContainer(
    spec((s) => s.mounts = [{ destination: "run/../../../x", type: "tmpfs" }]),
    context(),
  );
  assert.deepEqual(mountOps(plan.ops), [mount("/x", "tmpfs", null, 0)]);
  assert.ok(plan.warnings[0].includes("not absolute"));
});

Deno.test("planContainer: linux.devices in and out of a user namespace", () => {
  const fuse = { path: "/dev/fuse", type: "c" as const, major: 10, minor: 229 };
  const devices = [
    fuse,
    { path: "/dev/null", type: "c" as const, major: 1, minor: 3, fileMode: 0o20600, uid: 5 },
    { path: "/dev/sda", type: "b" as const, major: 8, minor: 0, fileMode: 432, gid: 6 },
    { path: "/run/fifo", type: "p" as const },
  ];
  const list = ops(spec((s) => s.linux!.devices = devices));
  assert.deepEqual(
    only(list, "mknod").map((m) => [m.path, m.type, m.major, m.minor, m.mode, m.uid, m.gid]),
    [
      ["/dev/random", "c", 1, 8, 0o666, 0, 0],
      ["/dev/full", "c", 1, 7, 0o666, 0, 0],
      ["/dev/tty", "c", 5, 0, 0o666, 0, 0],
      ["/dev/zero", "c", 1, 5, 0o666, 0, 0],
      ["/dev/urandom", "c", 1, 9, 0o666, 0, 0],
      ["/dev/fuse", "c", 10, 229, 0o666, 0, 0],
      ["/dev/null", "c", 1, 3, 0o600, 5, 0],
      ["/dev/sda", "b", 8, 0, 0o660, 0, 6],
      ["/run/fifo", "p", 0, 0, 0o666, 0, 0],
    ],
  );
  const fifo = { path: "/run/fifo", type: "p" as const };
  const inUserns = ops(spec((s) => s.linux!.devices = [fuse, fifo]), { userns: true });
  assert.deepEqual(only(inUserns, "bindDevice").at(-1), {
    op: "bindDevice",
    path: "/dev/fuse",
    source: "/dev/fuse",
  });
  // FIFOs need no privilege: made, not bound.
  assert.deepEqual(only(inUserns, "mknod").map((m) => m.path), ["/run/fifo"]);
  assert.throws(
    () => ops(spec((s) => s.linux!.devices = [{ path: "/dev/x", type: "c" }])),
    new InvalidImageError(
      "config.json linux.devices[0]",
      "major and minor must be non-negative integers",
    ),
  );
  assert.throws(
    () => ops(spec((s) => s.linux!.devices = [{ path: "dev/x", type: "c", major: 1, minor: 1 }])),
    new InvalidImageError("config.json linux.devices[0]", "path must be absolute"),
  );
  assert.throws(
    () => ops(spec((s) => s.linux!.devices = [{ ...fuse, type: "x" as "c" }])),
    new InvalidImageError("config.json linux.devices[0]", 'unknown device type "x"'),
  );
});

Deno.test("planContainer: /dev not a tmpfs: only linux.devices, none into a host /dev", () => {
  const fuse = { path: "/dev/fuse", type: "c" as const, major: 10, minor: 229 };
  // No /dev mount: the rootfs's own /dev gets linux.devices only, and no symlinks.
  const noDev = ops(spec((s) => {
    s.mounts = s.mounts!.filter((m) => m.destination !== "/dev");
    s.linux!.devices = [fuse];
  }));
  assert.deepEqual(only(noDev, "mknod").map((m) => m.path), ["/dev/fuse"]);
  assert.deepEqual(only(noDev, "symlink"), []);
  // /dev bound from the host: nothing is created in it.
  const plan = planContainer(
    spec((s) => {
      s.mounts = [{ destination: "/dev", type: "bind", source: "/dev", options: ["rbind"] }];
      s.linux!.devices = [fuse, { path: "/opt/null", type: "c", major: 1, minor: 3 }];
    }),
    context(),
  );
  assert.deepEqual(only(plan.ops, "mknod").map((m) => m.path), ["/opt/null"]);
  assert.deepEqual(only(plan.ops, "symlink"), []);
  assert.ok(plan.warnings.some((w) => w.includes("/dev/fuse not created")));
});

Deno.test("planContainer: /dev/ptmx needs a devpts on /dev/pts", () => {
  const list = ops(spec((s) => {
    s.mounts = s.mounts!.filter((m) => m.type !== "proc" && m.type !== "devpts");
  }));
  assert.deepEqual(only(list, "symlink").map((l) => l.path), [
    "/dev/fd",
    "/dev/stdin",
    "/dev/stdout",
    "/dev/stderr",
  ]);
});

Deno.test("planContainer: cgroup mounts on v2, v1 and in a user namespace", () => {
  const cgroup: Mount = {
    destination: "/sys/fs/cgroup",
    type: "cgroup",
    source: "cgroup",
    options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
  };
  const only1 = (s: Spec) => {
    s.mounts = [cgroup];
  };
  const cgroupns = (s: Spec) => s.linux!.namespaces!.push({ type: "cgroup" });
  // v2 with a cgroup namespace: a fresh cgroup2 mount shows the container's cgroup.
  assert.deepEqual(mountOps(ops(spec((s) => (only1(s), cgroupns(s))))), [
    mount("/sys/fs/cgroup", "cgroup2", "cgroup", NOSUID_NOEXEC_NODEV | MS.RELATIME | MS.RDONLY),
  ]);
  // In a user namespace too, the container's directory is bound.
  const v2Userns = ops(
    spec((s) => {
      only1(s);
      s.linux!.namespaces!.push({ type: "user" });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    }),
    { userns: true },
  );
  assert.deepEqual(mountOps(v2Userns), [
    mount("/sys/fs/cgroup", null, "/sys/fs/cgroup/c1", MS.BIND | MS.REC, null, {
      remountFlags: NOSUID_NOEXEC_NODEV | MS.RELATIME | MS.RDONLY,
    }),
  ]);

  const hierarchies = [
    { controllers: "cpu,cpuacct", source: "/sys/fs/cgroup/cpu,cpuacct/c1" },
    { controllers: "memory", source: "/sys/fs/cgroup/memory/runtime/c1" },
    { controllers: "name=systemd", source: "/sys/fs/cgroup/systemd/c1" },
    { controllers: "../x", source: "/x" },
  ];
  const base = NOSUID_NOEXEC_NODEV;
  // v1 with a cgroup namespace: fresh mounts, whose roots are the namespace's.
  const v1 = planContainer(
    spec((s) => (only1(s), cgroupns(s))),
    context({ cgroupV2: false, cgroupV1Hierarchies: hierarchies }),
  );
  assert.deepEqual(mountOps(v1.ops), [
    mount("/sys/fs/cgroup", "tmpfs", "tmpfs", base, "mode=755"),
    mount("/sys/fs/cgroup/cpu,cpuacct", "cgroup", "cgroup", base | MS.RDONLY, "cpu,cpuacct"),
    mount("/sys/fs/cgroup/memory", "cgroup", "cgroup", base | MS.RDONLY, "memory"),
    mount("/sys/fs/cgroup/systemd", "cgroup", "systemd", base | MS.RDONLY, "none,name=systemd"),
  ]);
  assert.deepEqual(only(v1.ops, "symlink").slice(0, 2), [
    { op: "symlink", path: "/sys/fs/cgroup/cpu", target: "cpu,cpuacct" },
    { op: "symlink", path: "/sys/fs/cgroup/cpuacct", target: "cpu,cpuacct" },
  ]);
  assert.ok(v1.warnings.some((w) => w.includes('"../x" skipped')));
  // Without one: each hierarchy shows the container's own directory, bound (as runc does).
  const v1Bound = ops(spec(only1), { cgroupV2: false, cgroupV1Hierarchies: hierarchies });
  assert.deepEqual(mountOps(v1Bound).slice(1).map((m) => [m.target, m.source]), [
    ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/c1"],
    ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/runtime/c1"],
    ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/systemd/c1"],
  ]);

  const v1Userns = ops(
    spec((s) => {
      only1(s);
      s.linux!.namespaces!.push({ type: "cgroup" }, { type: "user" });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    }),
    {
      userns: true,
      cgroupV2: false,
      cgroupV1Hierarchies: [{ controllers: "memory", source: "/sys/fs/cgroup/memory/c1" }],
    },
  );
  // A user namespace may not mount v1 hierarchies: each is bound from the host.
  assert.deepEqual(mountOps(v1Userns), [
    mount("/sys/fs/cgroup", "tmpfs", "tmpfs", base, "mode=755"),
    mount("/sys/fs/cgroup/memory", null, "/sys/fs/cgroup/memory/c1", MS.BIND | MS.REC, null, {
      remountFlags: base | MS.RDONLY,
    }),
  ]);
});

Deno.test("planContainer: sysctl needs the matching namespace", () => {
  const sysctl = (values: Record<string, string>, drop: string[] = []) =>
    ops(spec((s) => {
      s.linux!.sysctl = values;
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => !drop.includes(n.type));
      if (drop.includes("uts")) delete s.hostname;
    }));
  assert.deepEqual(
    only(
      sysctl({
        "net.ipv4.ip_forward": "1",
        "kernel.shmmax": "100",
        "fs.mqueue.msg_max": "20",
        "kernel.domainname": "x",
      }),
      "sysctl",
    ),
    [
      { op: "sysctl", key: "net.ipv4.ip_forward", value: "1" },
      { op: "sysctl", key: "kernel.shmmax", value: "100" },
      { op: "sysctl", key: "fs.mqueue.msg_max", value: "20" },
      { op: "sysctl", key: "kernel.domainname", value: "x" },
    ],
  );
  const rejects = (values: Record<string, string>, drop: string[], reason: string) => {
    const key = Object.keys(values)[0];
    assert.throws(
      () => sysctl(values, drop),
      new InvalidImageError(`config.json linux.sysctl[${JSON.stringify(key)}]`, reason),
    );
  };
  rejects(
    { "net.core.somaxconn": "1" },
    ["network"],
    "needs a new network namespace: it would change the host's",
  );
  rejects(
    { "kernel.msgmax": "1" },
    ["ipc"],
    "needs a new ipc namespace: it would change the host's",
  );
  rejects(
    { "kernel.hostname": "a" },
    ["uts"],
    "needs a new uts namespace: it would change the host's",
  );
  rejects(
    { "vm.swappiness": "1" },
    [],
    "is not in a namespace of its own: it would change the host",
  );
  rejects({ "net/../../etc": "1" }, [], "is not a sysctl key");
});

Deno.test("planContainer: hostname and domainname need a uts namespace", () => {
  const noUts = (s: Spec) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "uts");
  };
  assert.throws(
    () => ops(spec(noUts)),
    new InvalidImageError("config.json hostname", "cannot be set without a new uts namespace"),
  );
  assert.throws(
    () =>
      ops(spec((s) => {
        noUts(s);
        delete s.hostname;
        s.domainname = "example.org";
      })),
    new InvalidImageError("config.json domainname", "cannot be set without a new uts namespace"),
  );
  const list = ops(spec((s) => s.domainname = "example.org"));
  assert.deepEqual(list.filter((o) => o.op === "sethostname" || o.op === "setdomainname"), [
    { op: "sethostname", name: "ocibox" },
    { op: "setdomainname", name: "example.org" },
  ]);
});

Deno.test("planContainer: rlimits, infinity and errors", () => {
  const plan = planContainer(
    spec((s) => {
      s.process!.rlimits = [
        { type: "RLIMIT_CORE", soft: 0, hard: 2 ** 64 - 1 },
        { type: "RLIMIT_MEMLOCK", soft: -1, hard: -1 },
        { type: "RLIMIT_RTTIME", soft: 2 ** 60, hard: 2 ** 60 },
      ];
    }),
    context(),
  );
  assert.deepEqual(only(plan.ops, "setrlimit"), [
    { op: "setrlimit", resource: 4, soft: 0, hard: -1 },
    { op: "setrlimit", resource: 8, soft: -1, hard: -1 },
    { op: "setrlimit", resource: 15, soft: -1, hard: -1 },
  ]);
  assert.ok(plan.warnings.some((w) => w.includes("beyond 2^53")));
  const rejects = (rlimits: POSIXRlimit[], error: Error) =>
    assert.throws(() => ops(spec((s) => s.process!.rlimits = rlimits)), error);
  rejects(
    [{ type: "RLIMIT_BOGUS", soft: 1, hard: 1 }],
    new InvalidImageError("config.json process.rlimits[0]", 'unknown rlimit type "RLIMIT_BOGUS"'),
  );
  rejects(
    [{ type: "RLIMIT_NOFILE", soft: 1, hard: 1 }, { type: "RLIMIT_NOFILE", soft: 2, hard: 2 }],
    new InvalidImageError("config.json process.rlimits[1]", "duplicate RLIMIT_NOFILE"),
  );
  rejects(
    [{ type: "RLIMIT_NOFILE", soft: 2, hard: 1 }],
    new InvalidImageError("config.json process.rlimits[0]", "soft limit is above the hard limit"),
  );
  rejects(
    [{ type: "RLIMIT_NOFILE", soft: -1, hard: 1 }],
    new InvalidImageError("config.json process.rlimits[0]", "soft limit is above the hard limit"),
  );
  rejects(
    [{ type: "RLIMIT_NOFILE", soft: -2, hard: 1 }],
    new InvalidImageError("config.json process.rlimits[0]", "soft -2 is not a uint64"),
  );
});

Deno.test("planContainer: oomScoreAdj, umask, user ids and groups", () => {
  const list = ops(spec((s) => {
    s.process!.oomScoreAdj = -500;
    s.process!.user = { uid: 1000, gid: 100, umask: 0o077, additionalGids: [10, 20] };
    s.process!.cwd = "/home/u";
  }));
  assert.deepEqual(only(list, "oomScoreAdj"), [{ op: "oomScoreAdj", value: -500 }]);
  const tail = list.slice(list.findIndex((o) => o.op === "keepCaps"));
  assert.deepEqual(tail.slice(0, 5), [
    { op: "keepCaps", on: true },
    { op: "setgroups", gids: [10, 20] },
    { op: "setresgid", gid: 100 },
    { op: "setresuid", uid: 1000 },
    { op: "keepCaps", on: false },
  ]);
  assert.deepEqual(tail.slice(6, 9), [
    { op: "chdir", path: "/home/u" },
    { op: "umask", mask: 0o077 },
    { op: "closeFds", preserve: 0 },
  ]);
  assert.throws(
    () =>
      ops(spec((s) => s.process!.user.additionalGids = [10], true), {
        rootless: true,
        userns: true,
      }),
    UnsupportedError,
  );
});

Deno.test("planContainer: capability masks", () => {
  const plan = planContainer(
    spec((s) => {
      s.process!.capabilities = {
        bounding: ["CAP_NET_BIND_SERVICE", "CAP_CHECKPOINT_RESTORE", "CAP_FUTURE"],
        effective: ["CAP_CHOWN"],
        permitted: ["CAP_CHOWN", "CAP_KILL"],
        inheritable: ["CAP_KILL"],
        ambient: ["CAP_KILL"],
      };
    }),
    context(),
  );
  assert.deepEqual(only(plan.ops, "dropBounding"), [{ op: "dropBounding", keep: 1024 + 2 ** 40 }]);
  assert.deepEqual(only(plan.ops, "capabilities"), [
    { op: "capabilities", effective: 1, permitted: 1 + 32, inheritable: 32, ambient: 32 },
  ]);
  assert.deepEqual(plan.warnings, ["ignoring unknown capabilities: CAP_FUTURE"]);
  // No capabilities object: every set empty.
  const none = ops(spec((s) => delete s.process!.capabilities));
  assert.deepEqual(only(none, "dropBounding"), [{ op: "dropBounding", keep: 0 }]);
  assert.deepEqual(only(none, "capabilities"), [
    { op: "capabilities", effective: 0, permitted: 0, inheritable: 0, ambient: 0 },
  ]);
});

const PROFILE: LinuxSeccomp = { defaultAction: "SCMP_ACT_ALLOW" };
const compileSeccomp = (profile: LinuxSeccomp) => {
  assert.equal(profile, PROFILE);
  return { program: new Uint8Array([6, 0, 0, 0, 0, 0, 0xff, 0x7f]), flags: 2, warnings: ["w"] };
};
const SECCOMP: Op = { op: "seccomp", program: "BgAAAAAA/38=", flags: 2 };

Deno.test("planContainer: seccomp is the last step before exec, with or without no_new_privs", () => {
  const withNnp = planContainer(
    spec((s) => s.linux!.seccomp = PROFILE),
    context({ compileSeccomp }),
  );
  assert.deepEqual(withNnp.ops.slice(-5).map((o) => o.op), [
    "waitStart",
    "resetSignals",
    "noNewPrivileges",
    "seccomp",
    "exec",
  ]);
  assert.deepEqual(withNnp.ops.at(-2), SECCOMP);
  assert.ok(withNnp.warnings.includes("w"));
  assert.deepEqual(only(withNnp.ops, "capabilities")[0].effective, DEFAULT_CAPS);

  // Without no_new_privs loading the filter needs CAP_SYS_ADMIN: it is kept in the effective
  // and permitted sets (not the bounding set), and execve recomputes both.
  const without = ops(
    spec((s) => {
      s.linux!.seccomp = PROFILE;
      s.process!.noNewPrivileges = false;
    }),
    { compileSeccomp },
  );
  assert.deepEqual(without.slice(-3).map((o) => o.op), ["resetSignals", "seccomp", "exec"]);
  assert.deepEqual(only(without, "noNewPrivileges"), []);
  assert.deepEqual(only(without, "capabilities"), [{
    op: "capabilities",
    effective: DEFAULT_CAPS + 2 ** 21,
    permitted: DEFAULT_CAPS + 2 ** 21,
    inheritable: 0,
    ambient: 0,
  }]);
  assert.deepEqual(only(without, "dropBounding"), [{ op: "dropBounding", keep: DEFAULT_CAPS }]);

  assert.throws(
    () => ops(spec((s) => s.linux!.seccomp = PROFILE)),
    new UnsupportedError("config.json linux.seccomp: no seccomp support"),
  );
});

Deno.test("planExec: joins, then the container's own privilege and start order", () => {
  const process = spec((s) => {
    s.process!.user = { uid: 1000, gid: 1000 };
    s.process!.noNewPrivileges = false;
  }).process!;
  const plan = planExec(process, {
    rootless: false,
    userns: false,
    cgroupProcs: [7],
    namespaces: [
      { type: "mnt", fd: 8, flag: 0x20000 },
      { type: "pid", fd: 9, flag: 0x20000000 },
    ],
    program: "/bin/sh",
    terminalFd: 10,
    seccomp: { program: "BgAAAAAA/38=", flags: 2 },
  });
  assert.deepEqual(plan.ops.slice(0, 6), [
    { op: "dumpable", on: false },
    { op: "joinCgroup", fd: 7 },
    { op: "joinNamespace", type: "mnt", fd: 8, flag: 0x20000 },
    { op: "joinNamespace", type: "pid", fd: 9, flag: 0x20000000 },
    { op: "fork" },
    { op: "terminal", fd: 10 },
  ]);
  // The same tail as create's, from the same code: only the pauses for the runtime differ.
  const create = planContainer(
    spec((s) => {
      s.process = process;
      s.linux!.seccomp = PROFILE;
    }),
    context({ compileSeccomp }),
  ).ops;
  const tail = (list: Op[]) =>
    list.slice(list.findIndex((o) => o.op === "setrlimit")).filter((o) =>
      o.op !== "sync" && o.op !== "created" && o.op !== "waitStart"
    ).map((o) => o.op === "exec" ? { ...o, path: null } : o);
  assert.deepEqual(tail(plan.ops), tail(create));
  assert.deepEqual(plan.ops.at(-1), {
    op: "exec",
    path: "/bin/sh",
    args: ["sh"],
    env: process.env,
  });
  assert.deepEqual(plan.ops.slice(-3).map((o) => o.op), ["resetSignals", "seccomp", "exec"]);
});

Deno.test("planContainer: console op only with a terminal and a socket", () => {
  const terminal = (s: Spec) => {
    s.process!.terminal = true;
    s.process!.consoleSize = { height: 24, width: 80 };
  };
  const list = ops(spec(terminal), { consoleSocketFd: 5 });
  const i = list.findIndex((o) => o.op === "console");
  assert.deepEqual(list[i], { op: "console", socketFd: 5, rows: 24, cols: 80 });
  assert.equal(list[i - 1].op, "mask");
  assert.equal(list[i + 1].op, "readonlyRoot");
  assert.deepEqual(only(ops(spec(terminal)), "console"), []);
  assert.deepEqual(only(ops(spec(), { consoleSocketFd: 5 }), "console"), []);
  const noSize = ops(spec((s) => s.process!.terminal = true), { consoleSocketFd: 3 });
  assert.deepEqual(only(noSize, "console"), [{ op: "console", socketFd: 3 }]);
});

Deno.test("planContainer: context options reach the plan", () => {
  const list = ops(spec((s) => s.root = { path: "/abs/rootfs/" }), {
    noPivot: true,
    preserveFds: 2,
    startNow: true,
  });
  assert.deepEqual(list[1], { op: "bindRootfs", rootfs: "/abs/rootfs" });
  assert.deepEqual(only(list, "pivotRoot"), [{
    op: "pivotRoot",
    rootfs: "/abs/rootfs",
    mode: "move",
  }]);
  assert.deepEqual(only(list, "closeFds"), [{ op: "closeFds", preserve: 2 }]);
  assert.deepEqual(only(list, "waitStart"), []);
  assert.deepEqual(only(list, "created"), [{ op: "created" }]);
  assert.deepEqual(only(list, "readonlyRoot"), []);
  assert.deepEqual(only(list, "sync"), [{ op: "sync", point: "program" }]);
  // Hooks: a pause before pivot_root.
  const hooked = ops(spec(), { hooks: true });
  const sync = hooked.findIndex((o) => o.op === "sync");
  assert.deepEqual(hooked[sync], { op: "sync", point: "hooks" });
  assert.ok(sync < hooked.findIndex((o) => o.op === "pivotRoot"));
});

Deno.test("planContainer: invalid configs, with their messages", () => {
  const rejects = (edit: (s: Spec) => void, error: Error, c: Partial<PlanContext> = {}) =>
    assert.throws(() => ops(spec(edit), c), error);
  rejects(
    (s) => s.process!.args = [],
    new InvalidImageError("config.json process.args", "must name the program to run"),
  );
  rejects(
    (s) => s.process!.cwd = "home",
    new InvalidImageError("config.json process.cwd", '"home" is not an absolute path'),
  );
  rejects(
    (s) => s.process!.env = ["NOEQUALS"],
    new InvalidImageError("config.json process.env[0]", '"NOEQUALS" is not NAME=value'),
  );
  rejects(
    (s) => delete s.process,
    new InvalidImageError("config.json process", "is missing"),
  );
  rejects(
    (s) => delete s.root,
    new InvalidImageError("config.json root.path", "is missing"),
  );
  rejects(
    (s) => s.linux!.namespaces!.push({ type: "pid" }),
    new InvalidImageError("config.json linux.namespaces[5]", "duplicate pid namespace"),
  );
  rejects(
    (s) => s.linux!.namespaces!.push({ type: "bogus" as "pid" }),
    new InvalidImageError("config.json linux.namespaces[5]", 'unknown namespace type "bogus"'),
  );
  const noMountNs = (s: Spec) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "mount");
  };
  rejects(
    noMountNs,
    new UnsupportedError(
      "config.json linux.maskedPaths: paths cannot be restricted without a mount namespace",
    ),
  );
  rejects(
    (s) => {
      noMountNs(s);
      delete s.linux!.maskedPaths;
      delete s.linux!.readonlyPaths;
    },
    new UnsupportedError(
      "config.json root.readonly: the rootfs cannot be made read-only without a mount namespace",
    ),
  );
  rejects(
    (s) => s.ociVersion = "2.0.0",
    new UnsupportedError(
      "config.json ociVersion: runtime-spec 2.0.0 is not supported (ocibox runs 1.x)",
    ),
  );
  rejects(
    (s) => s.ociVersion = "banana",
    new InvalidImageError("config.json ociVersion", '"banana" is not a SemVer version'),
  );
  rejects(
    (s) => s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }],
    new InvalidImageError("config.json linux.uidMappings", "needs a user namespace"),
  );
  rejects(
    (s) => s.linux!.namespaces!.push({ type: "user" }),
    new InvalidImageError("config.json linux.uidMappings", "a new user namespace needs them"),
  );
  rejects(
    (s) => s.linux!.maskedPaths = ["proc/kcore"],
    new InvalidImageError(
      "config.json linux.maskedPaths[0]",
      '"proc/kcore" is not an absolute path',
    ),
  );
  rejects(
    (s) => s.linux!.readonlyPaths = ["/ok", "rel"],
    new InvalidImageError("config.json linux.readonlyPaths[1]", '"rel" is not an absolute path'),
  );
  rejects(
    (s) => s.mounts = [{ destination: "/x", type: "tmpfs", options: ["idmap"] }],
    new UnsupportedError("config.json mounts[0]: idmapped mounts (option idmap) are not supported"),
  );
  rejects(
    (s) =>
      s.mounts = [{
        destination: "/x",
        type: "bind",
        source: "/x",
        uidMappings: [{ containerID: 0, hostID: 1, size: 1 }],
        gidMappings: [{ containerID: 0, hostID: 1, size: 1 }],
      }],
    new UnsupportedError(
      "config.json mounts[0]: idmapped mounts (uidMappings/gidMappings) are not supported",
    ),
  );
  rejects(
    (s) => s.mounts = [{ destination: "/x", type: "bind", source: "/x", options: ["rro"] }],
    new UnsupportedError(
      "config.json mounts[0]: recursive mount attribute rro (mount_setattr) is not supported",
    ),
  );
  rejects(
    (s) => s.mounts!.push({ destination: "/x", type: "bind" }),
    new InvalidImageError("config.json mounts[7]", "bind mount has no source"),
  );
  rejects(
    (s) => s.mounts!.push({ destination: "/x" }),
    new InvalidImageError("config.json mounts[7]", "has no type and is not a bind mount"),
  );
  rejects(
    (s) => s.mounts!.push({ destination: "/proc/self/x", type: "tmpfs" }),
    new InvalidImageError("config.json mounts[7]", "/proc/self/x is inside /proc: not allowed"),
  );
  rejects(
    (s) => s.mounts!.push({ destination: "/proc", type: "tmpfs" }),
    new InvalidImageError(
      "config.json mounts[7]",
      "only a proc file system may be mounted on /proc",
    ),
  );
  rejects(
    (s) => s.mounts!.push({ destination: "/..", type: "tmpfs" }),
    new InvalidImageError("config.json mounts[7]", "cannot mount over the container's /"),
  );
  rejects(
    (s) => s.process!.oomScoreAdj = 2000,
    new InvalidImageError("config.json process.oomScoreAdj", "must be in -1000..1000"),
  );
});

Deno.test("planContainer: lxcfs-style binds inside /proc are allowed", () => {
  const list = ops(
    spec((s) =>
      s.mounts!.push({
        destination: "/proc/meminfo",
        type: "bind",
        source: "/var/lib/lxcfs/proc/meminfo",
        options: ["bind"],
      })
    ),
    { isFile: () => true },
  );
  assert.equal(mountOps(list).at(-1)?.target, "/proc/meminfo");
  assert.equal(mountOps(list).at(-1)?.kind, "file");
});

Deno.test("planContainer: ignored fields become warnings", () => {
  const plan = planContainer(
    spec((s) => {
      s.process!.apparmorProfile = "docker-default";
      s.linux!.mountLabel = "";
    }),
    context(),
  );
  assert.ok(
    plan.warnings.includes("config.json process.apparmorProfile is not supported; ignored"),
  );
  assert.ok(!plan.warnings.some((w) => w.includes("mountLabel")));
});

Deno.test("planContainer: a new cgroup namespace is made first, a joined one is not", () => {
  const withCgroupns = (path?: string) =>
    ops(
      spec((s) => s.linux!.namespaces!.push(path ? { type: "cgroup", path } : { type: "cgroup" })),
    );
  assert.deepEqual(withCgroupns().slice(0, 2), [
    { op: "sync", point: "cgroup" },
    { op: "cgroupNamespace" },
  ]);
  assert.deepEqual(only(withCgroupns("/proc/1/ns/cgroup"), "cgroupNamespace"), []);
  assert.deepEqual(only(ops(spec()), "cgroupNamespace"), []);
});
