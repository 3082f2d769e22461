import assert from "node:assert/strict";
import { UserNotFoundError } from "../errors.ts";
import type { ImageConfigInput } from "../bundle/image_to_spec.ts";
import { CAPABILITIES } from "../runtime/plan/capabilities.ts";
import {
  containerSpec,
  type ContainerSpecInput,
  MASKED_PATHS,
  PODMAN_CAPABILITIES,
  READONLY_PATHS,
} from "./container_spec.ts";
import { parseRunArgs } from "./run_flags.ts";

const ID = "abcdef0123456789".repeat(4);
const PASSWD = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n";
const GROUP = "root:x:0:\nuser:x:1000:\nwheel:x:10:user\n";
const IMAGE: ImageConfigInput = {
  architecture: "amd64",
  os: "linux",
  config: { Env: ["PATH=/bin"], Entrypoint: ["/bin/echo"], Cmd: ["sh", "from-cmd"] },
};

function build(args: string[], more: Partial<ContainerSpecInput> = {}) {
  const request = parseRunArgs([...args.slice(0, -1), "img", ...(args.at(-1) ?? "").split(" ")]
    .filter((a) => a !== ""));
  return containerSpec({
    id: ID,
    image: IMAGE,
    passwd: PASSWD,
    group: GROUP,
    request,
    env: [],
    etc: { hosts: "/c/hosts", hostname: "/c/hostname", resolvConf: "/c/resolv.conf" },
    host: { arch: "x86_64", cgroupV2: false, rootless: false, hostname: "vm" },
    ...more,
  });
}

Deno.test("container spec: podman's defaults", () => {
  const spec = build([""]);
  const p = spec.process!;
  assert.equal(spec.hostname, ID.slice(0, 12));
  assert.deepEqual(p.args, ["/bin/echo", "sh", "from-cmd"]);
  assert.deepEqual(p.user, { uid: 0, gid: 0, umask: 0o022 });
  assert.deepEqual(p.env, [
    "PATH=/bin",
    "TERM=xterm",
    "HOME=/root",
    "container=ocibox",
    `HOSTNAME=${ID.slice(0, 12)}`,
  ]);
  assert.equal(p.terminal, false);
  assert.equal(p.noNewPrivileges, false);
  assert.deepEqual(p.capabilities, {
    bounding: PODMAN_CAPABILITIES,
    effective: PODMAN_CAPABILITIES,
    permitted: PODMAN_CAPABILITIES,
  });
  assert.deepEqual(p.rlimits, [
    { type: "RLIMIT_NOFILE", hard: 1048576, soft: 1048576 },
    { type: "RLIMIT_NPROC", hard: 1048576, soft: 1048576 },
  ]);
  assert.deepEqual(spec.root, { path: "rootfs", readonly: false });
  const linux = spec.linux!;
  assert.deepEqual(linux.namespaces?.map((n) => n.type), ["pid", "network", "ipc", "uts", "mount"]);
  assert.equal(linux.cgroupsPath, `/ocibox/${ID}`);
  assert.deepEqual(linux.resources, {
    devices: [{ allow: false, access: "rwm" }],
    pids: { limit: 2048 },
  });
  assert.deepEqual(linux.sysctl, { "net.ipv4.ping_group_range": "0 0" });
  assert.deepEqual(linux.maskedPaths, MASKED_PATHS);
  assert.deepEqual(linux.readonlyPaths, READONLY_PATHS);
  assert.equal(linux.seccomp?.defaultErrnoRet, 38);
  assert.deepEqual(spec.mounts?.map((m) => `${m.destination} ${m.type}`), [
    "/proc proc",
    "/dev tmpfs",
    "/dev/pts devpts",
    "/dev/shm tmpfs",
    "/dev/mqueue mqueue",
    "/sys sysfs",
    "/sys/fs/cgroup cgroup",
    "/etc/hostname bind",
    "/etc/hosts bind",
    "/etc/resolv.conf bind",
  ]);
  assert.deepEqual(spec.mounts?.[8], {
    destination: "/etc/hosts",
    type: "bind",
    source: "/c/hosts",
    options: ["bind", "rprivate"],
  });
});

Deno.test("container spec: entrypoint and command as podman's makeCommand", () => {
  // Each row checked with podman 4.3 on an image with Entrypoint [/bin/echo], Cmd [sh, from-cmd].
  const rows: [string[], string[]][] = [
    [["x y"], ["/bin/echo", "x", "y"]],
    [["--entrypoint", "/bin/ls", ""], ["/bin/ls"]],
    [["--entrypoint", "/bin/ls", "-l"], ["/bin/ls", "-l"]],
    [["--entrypoint", '["/bin/ls","-a"]', ""], ["/bin/ls", "-a"]],
    [["--entrypoint=", "id"], ["id"]],
    [["--entrypoint", "[]", "id"], ["id"]],
    [["--init", "id -u"], ["/run/ocibox-init", "--", "/bin/echo", "id", "-u"]],
  ];
  for (const [args, want] of rows) {
    const spec = build(args, { initBinary: "/usr/bin/catatonit" });
    assert.deepEqual(spec.process?.args, want, args.join(" "));
  }
  assert.throws(() => build(["--entrypoint=", ""]), /no command or entrypoint provided/);
  assert.throws(() => build(["--init", ""]), /--init: no init binary/);
  const init = build(["--init", ""], { initBinary: "/usr/bin/catatonit" }).mounts!.at(-1);
  assert.deepEqual(init, {
    destination: "/run/ocibox-init",
    type: "bind",
    source: "/usr/bin/catatonit",
    options: ["bind", "ro", "rprivate"],
  });
});

Deno.test("container spec: users through the image's files, podman's groups and HOME", () => {
  const rows: [string, object, string | undefined][] = [
    ["1000:1000", { uid: 1000, gid: 1000, additionalGids: [1000] }, "/home/user"],
    ["1000", { uid: 1000, gid: 1000, additionalGids: [1000] }, "/home/user"],
    ["user", { uid: 1000, gid: 1000, additionalGids: [1000, 10] }, "/home/user"],
    ["0", { uid: 0, gid: 0, additionalGids: [0] }, "/root"],
    ["root:user", { uid: 0, gid: 1000, additionalGids: [1000] }, "/root"],
    ["4242", { uid: 4242, gid: 0, additionalGids: [0] }, undefined],
  ];
  for (const [user, ids, home] of rows) {
    const p = build(["-u", user, ""]).process!;
    assert.deepEqual(p.user, { ...ids, umask: 0o022 }, user);
    assert.equal(p.env?.find((e) => e.startsWith("HOME="))?.slice(5), home, user);
    // A non-root user keeps only the bounding set.
    assert.deepEqual(
      Object.keys(p.capabilities!),
      p.user.uid === 0 ? ["bounding", "effective", "permitted"] : ["bounding"],
    );
  }
  assert.throws(() => build(["-u", "nobody", ""]), UserNotFoundError);
  const imageUser = containerSpec({
    id: ID,
    image: { ...IMAGE, config: { ...IMAGE.config, User: "user" } },
    passwd: PASSWD,
    group: GROUP,
    request: parseRunArgs(["img"]),
    env: [],
    etc: { hosts: "/h", hostname: "/n" },
    host: { arch: "x86_64", cgroupV2: false, rootless: false, hostname: "vm" },
  });
  assert.equal(imageUser.process?.user.uid, 1000);
  const added = build(["-u", "1000", "--cap-add", "NET_RAW", ""]).process!.capabilities!;
  assert.deepEqual(added.ambient, ["CAP_NET_RAW"]);
  assert.deepEqual(added.effective, ["CAP_NET_RAW"]);
  assert.ok(added.bounding?.includes("CAP_NET_RAW"));
});

Deno.test("container spec: environment precedence and workdir", () => {
  const spec = containerSpec({
    id: ID,
    image: { ...IMAGE, config: { ...IMAGE.config, Env: ["PATH=/bin", "A=1", "container=img"] } },
    request: parseRunArgs(["-w", "/tmp", "-t", "--hostname", "box", "img"]),
    env: ["A=2", "B=3", "HOSTNAME=mine"],
    etc: { hosts: "/h", hostname: "/n" },
    host: { arch: "x86_64", cgroupV2: false, rootless: false, hostname: "vm" },
  });
  assert.deepEqual(spec.process?.env, [
    "PATH=/bin",
    "TERM=xterm",
    "A=2",
    "container=img",
    "B=3",
    "HOSTNAME=mine",
  ]);
  assert.equal(spec.process?.cwd, "/tmp");
  assert.equal(spec.process?.terminal, true);
  assert.equal(spec.hostname, "box");
  assert.ok(!spec.mounts?.some((m) => m.destination === "/etc/resolv.conf"));
});

Deno.test("container spec: --cap-add and --cap-drop as podman merges them", () => {
  const caps = (args: string[], bounding?: string[]) =>
    build([...args, ""], {
      host: {
        arch: "x86_64",
        cgroupV2: false,
        rootless: false,
        hostname: "vm",
        boundingCapabilities: bounding,
      },
    }).process!.capabilities!.bounding!;
  assert.deepEqual(
    caps(["--cap-add", "SYS_ADMIN", "--cap-drop", "CHOWN"]),
    [...PODMAN_CAPABILITIES.filter((c) => c !== "CAP_CHOWN"), "CAP_SYS_ADMIN"].sort(),
  );
  assert.deepEqual(caps(["--cap-drop", "ALL", "--cap-add", "NET_RAW"]), ["CAP_NET_RAW"]);
  assert.deepEqual(caps(["--cap-drop", "ALL"]), []);
  assert.equal(caps(["--cap-add", "ALL"]).length, CAPABILITIES.length);
  // ALL is the caller's bounding set (this host's lacks CAP_SYS_RESOURCE, and podman's ALL too).
  const host = CAPABILITIES.filter((c) => c !== "CAP_SYS_RESOURCE");
  assert.deepEqual(caps(["--cap-add", "ALL"], host), [...host].sort());
  assert.deepEqual(
    caps(["--cap-add", "ALL", "--cap-drop", "KILL"]),
    [...CAPABILITIES].filter((c) => c !== "CAP_KILL").sort(),
  );
  assert.throws(() => caps(["--cap-add", "KILL", "--cap-drop", "kill"]), /cannot be both/);
  // The seccomp profile follows the bounding set.
  const admin = build(["--cap-add", "SYS_ADMIN", ""]).linux!.seccomp!;
  assert.ok(admin.syscalls?.some((s) => s.names.includes("bpf") && s.action === "SCMP_ACT_ALLOW"));
});

Deno.test("container spec: --privileged", () => {
  const devices = [{
    path: "/dev/fuse",
    type: "c" as const,
    major: 10,
    minor: 229,
    fileMode: 0o20666,
  }];
  const spec = build(["--privileged", ""], {
    devices,
    host: {
      arch: "x86_64",
      cgroupV2: false,
      rootless: false,
      hostname: "vm",
      boundingCapabilities: CAPABILITIES.slice(0, 30),
    },
  });
  assert.equal(spec.process?.capabilities?.bounding?.length, 30);
  assert.equal(spec.linux?.seccomp, undefined);
  assert.equal(spec.linux?.maskedPaths, undefined);
  assert.equal(spec.linux?.readonlyPaths, undefined);
  assert.deepEqual(spec.linux?.devices, devices);
  assert.deepEqual(spec.linux?.resources?.devices, [{ allow: true, access: "rwm" }]);
  const sys = spec.mounts?.find((m) => m.destination === "/sys");
  assert.deepEqual(sys?.options, ["rprivate", "nosuid", "noexec", "nodev", "rw"]);
  assert.equal(spec.mounts?.find((m) => m.destination === "/sys/fs/cgroup")?.options?.at(-1), "rw");
});

Deno.test("container spec: resources, rlimits, read-only root, security options", () => {
  const spec = build([
    "--memory",
    "64m",
    "--cpus",
    "1.5",
    "--pids-limit",
    "100",
    "--ulimit",
    "nofile=20000:20000",
    "--ulimit",
    "core=0:1",
    "--read-only",
    "--security-opt",
    "no-new-privileges",
    "",
  ], {
    host: {
      arch: "x86_64",
      cgroupV2: true,
      rootless: false,
      hostname: "vm",
      rlimitCeilings: { nofile: 20000, nproc: 96367 },
    },
  });
  assert.deepEqual(spec.linux?.resources, {
    devices: [{ allow: false, access: "rwm" }],
    memory: { limit: 67108864, swap: 134217728 },
    cpu: { quota: 150000, period: 100000 },
    pids: { limit: 100 },
  });
  assert.deepEqual(spec.process?.rlimits, [
    { type: "RLIMIT_NOFILE", hard: 20000, soft: 20000 },
    { type: "RLIMIT_NPROC", hard: 96367, soft: 96367 },
    { type: "RLIMIT_CORE", hard: 1, soft: 0 },
  ]);
  assert.equal(spec.root?.readonly, true);
  assert.equal(spec.process?.noNewPrivileges, true);
  assert.deepEqual(spec.linux?.namespaces?.at(-1), { type: "cgroup" });
  const tmpfs = spec.mounts?.filter((m) => m.type === "tmpfs" && !m.destination.startsWith("/dev"));
  assert.deepEqual(tmpfs?.map((m) => m.destination), ["/run", "/tmp", "/var/tmp"]);
  // podman makes its /etc binds read-only with the root.
  const hosts = (s: typeof spec) => s.mounts?.find((m) => m.destination === "/etc/hosts")?.options;
  assert.deepEqual(hosts(spec), ["bind", "rprivate", "ro", "nosuid", "noexec", "nodev"]);
  assert.deepEqual(hosts(build([""])), ["bind", "rprivate"]);
  assert.ok(
    !build(["--read-only", "--read-only-tmpfs=false", ""]).mounts?.some((m) =>
      m.destination === "/tmp"
    ),
  );
  assert.equal(build(["--pids-limit", "-1", ""]).linux?.resources?.pids, undefined);
  assert.equal(build(["--security-opt", "seccomp=unconfined", ""]).linux?.seccomp, undefined);
  assert.throws(() => build(["--security-opt", "seccomp=/p.json", ""]), /was not read/);
  const file = build(["--security-opt", "seccomp=/p.json", ""], {
    seccompProfile: { defaultAction: "SCMP_ACT_LOG" },
  });
  assert.deepEqual(file.linux?.seccomp, { defaultAction: "SCMP_ACT_LOG", syscalls: [] });
});

Deno.test("container spec: user mounts sorted by depth and replacing defaults", () => {
  const spec = build([
    "-v",
    "/srv/a:/tmp/x/y",
    "--tmpfs",
    "/tmp",
    "-v",
    "/my/hosts:/etc/hosts:ro",
    "--mount",
    "type=tmpfs,dst=/dev/shm",
    "",
  ]);
  const list = spec.mounts!.map((m) => m.destination);
  assert.deepEqual(list, [
    "/proc",
    "/dev",
    "/dev/pts",
    "/dev/mqueue",
    "/sys",
    "/sys/fs/cgroup",
    "/tmp",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/dev/shm",
    "/tmp/x/y",
  ]);
  assert.deepEqual(spec.mounts?.find((m) => m.destination === "/etc/hosts"), {
    destination: "/etc/hosts",
    type: "bind",
    source: "/my/hosts",
    options: ["ro", "rprivate", "rbind"],
  });
});

Deno.test("container spec: --network host and none", () => {
  const host = build(["--network", "host", ""]);
  assert.deepEqual(host.linux?.namespaces?.map((n) => n.type), ["pid", "ipc", "uts", "mount"]);
  assert.equal(host.hostname, "vm");
  assert.equal(host.linux?.sysctl, undefined);
  const none = build(["--network", "none", ""]);
  assert.ok(none.linux?.namespaces?.some((n) => n.type === "network"));
});

Deno.test("container spec: rootless gets a user namespace, a network namespace, no cgroup limits", () => {
  const spec = build(["--memory", "64m", ""], {
    host: { arch: "x86_64", cgroupV2: false, rootless: true, hostname: "vm", uid: 1000, gid: 1000 },
  });
  const types = spec.linux?.namespaces?.map((n) => n.type);
  assert.ok(types?.includes("user") && types.includes("network"));
  assert.deepEqual(spec.linux?.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assert.equal(spec.linux?.resources, undefined);
  assert.equal(spec.process?.user.additionalGids, undefined);
  assert.deepEqual(spec.mounts?.find((m) => m.destination === "/sys")?.options, [
    "rbind",
    "nosuid",
    "noexec",
    "nodev",
    "ro",
  ]);
});
