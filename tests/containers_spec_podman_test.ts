/**
 * containerSpec against podman 4.3: for the same `run` flags and image, the config.json podman
 * writes (runc, cgroupfs, the host's containers.conf) and the one ocibox builds must agree on
 * what the container gets: command, cwd, user and groups, environment (but `container=`),
 * terminal, the five capability sets, rlimits, no_new_privileges, read-only root, hostname,
 * namespaces, masked and read-only paths, sysctls, cgroup resources, devices, seccomp (by
 * effect), and the mounts of volumes, tmpfs and the system mounts. What is left out and why:
 * podman's /dev/shm is a bind of a tmpfs it made outside (ocibox's runtime makes the tmpfs
 * itself), /run/.containerenv is podman's own, the etc files and cgroupsPath name each tool's
 * places, the tmpfs option `tmpcopyup` is not supported by ocibox's runtime, and the
 * annotations are each tool's own.
 */
import assert from "node:assert/strict";
import { callPolicies } from "../lib/containers/seccomp_profile.ts";
import type { Mount, Spec } from "../lib/runtime/spec/spec_types.ts";
import { withTempDir } from "./support/bundles.ts";
import { peerTest } from "./support/peers.ts";
import { podmanSpecs } from "./support/podman_spec.ts";

/** Mounts both tools make, compared by destination, type, source and option set. */
function mountView(spec: Spec): Record<string, string> {
  const skip = new Set(["/dev/shm", "/run/.containerenv", "/etc/hosts", "/etc/hostname"]);
  const view: Record<string, string> = {};
  for (const m of spec.mounts ?? [] as Mount[]) {
    if (skip.has(m.destination) || m.destination === "/etc/resolv.conf") continue;
    const options = (m.options ?? []).filter((o) => o !== "tmpcopyup");
    // podman writes rprivate on a few system mounts where ocibox's runtime has it anyway.
    const system = ["/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup"];
    const shown = system.includes(m.destination)
      ? options.filter((o) => o !== "rprivate")
      : options;
    const source = m.type === "bind" ? ` ${m.source}` : "";
    view[m.destination] = `${m.type}${source} [${[...shown].sort().join(",")}]`;
  }
  return view;
}

/** The fields that must agree, normalized (absent lists as empty, sets sorted). */
function view(spec: Spec) {
  const p = spec.process!;
  const l = spec.linux ?? {};
  const sorted = (xs: readonly string[] | undefined) => [...(xs ?? [])].sort();
  const seccomp = l.seccomp
    ? {
      default: `${l.seccomp.defaultAction}/${l.seccomp.defaultErrnoRet}`,
      architectures: l.seccomp.architectures,
      calls: Object.fromEntries(callPolicies(l.seccomp)),
    }
    : undefined;
  return {
    args: p.args,
    cwd: p.cwd,
    terminal: p.terminal ?? false,
    user: { ...p.user, additionalGids: [...(p.user.additionalGids ?? [])].sort() },
    env: sorted(p.env?.filter((e) => !e.startsWith("container="))),
    capabilities: {
      bounding: sorted(p.capabilities?.bounding),
      effective: sorted(p.capabilities?.effective),
      permitted: sorted(p.capabilities?.permitted),
      inheritable: sorted(p.capabilities?.inheritable),
      ambient: sorted(p.capabilities?.ambient),
    },
    rlimits: [...(p.rlimits ?? [])].sort((a, b) => a.type.localeCompare(b.type)),
    noNewPrivileges: p.noNewPrivileges ?? false,
    readonlyRoot: spec.root?.readonly ?? false,
    hostname: spec.hostname,
    namespaces: (l.namespaces ?? []).map((n) => n.type).sort(),
    maskedPaths: l.maskedPaths ?? [],
    readonlyPaths: l.readonlyPaths ?? [],
    sysctl: l.sysctl ?? {},
    resources: {
      devices: l.resources?.devices,
      memory: l.resources?.memory,
      cpu: l.resources?.cpu,
      pids: l.resources?.pids,
    },
    devices: (l.devices ?? []).map((d) => `${d.path} ${d.type} ${d.major}:${d.minor}`).sort(),
    seccomp,
    mounts: mountView(spec),
  };
}

peerTest("container spec: ocibox's config.json agrees with podman's, flag by flag", {
  peers: ["podman", "runc", "busybox"],
  root: true,
}, async () => {
  await withTempDir("ocibox-podspec-", async (dir) => {
    const vol = `${dir}/vol`;
    await Deno.mkdir(`${vol}/sub`, { recursive: true });
    const envFile = `${dir}/app.env`;
    await Deno.writeTextFile(envFile, "# settings\nX=1\nZ=a b\n\nHOME\n");
    const podman = await podmanSpecs(dir);
    const none = ["--network", "none"];
    const scenarios: [string, string[], string[]][] = [
      ["defaults", none, ["id"]],
      ["a terminal", [...none, "-t", "-i"], []],
      [
        "env, workdir, user, hostname",
        [
          ...none,
          "-e",
          "FOO=bar",
          "-e",
          "HOME",
          "--env-file",
          envFile,
          "-w",
          "/tmp",
          "-u",
          "1000:1000",
          "--hostname",
          "myhost",
        ],
        ["env"],
      ],
      ["a named user", [...none, "-u", "user"], []],
      ["a uid without passwd entry", [...none, "-u", "4242"], []],
      [
        "volumes and tmpfs",
        [
          ...none,
          "-v",
          `${vol}:/data:ro`,
          "-v",
          `${vol}/sub:/data2`,
          "-v",
          `${vol}:/f:rw,nosuid,Z`,
          "--mount",
          "type=tmpfs,destination=/scratch,tmpfs-size=1m",
          "--mount",
          `type=bind,source=${vol},destination=/b,readonly`,
          "--mount",
          `type=bind,src=${vol},dst=/e,bind-nonrecursive`,
          "--tmpfs",
          "/t1",
          "--tmpfs",
          "/t2:size=2m,mode=700",
          "--tmpfs",
          "/t3:ro,noexec",
        ],
        [],
      ],
      [
        "limits",
        [
          ...none,
          "--memory",
          "64m",
          "--cpus",
          "1.5",
          "--pids-limit",
          "100",
          "--ulimit",
          "core=0:1",
        ],
        [],
      ],
      ["read-only root", [...none, "--read-only"], []],
      ["read-only root without tmpfs", [...none, "--read-only", "--read-only-tmpfs=false"], []],
      ["cap add and drop", [...none, "--cap-add", "SYS_ADMIN", "--cap-drop", "CHOWN"], []],
      ["only one cap", [...none, "--cap-drop", "ALL", "--cap-add", "NET_RAW"], []],
      ["all caps", [...none, "--cap-add", "ALL"], []],
      ["a non-root user with an added cap", [...none, "-u", "1000", "--cap-add", "NET_RAW"], []],
      ["no-new-privileges", [...none, "--security-opt", "no-new-privileges"], []],
      ["seccomp unconfined", [...none, "--security-opt", "seccomp=unconfined"], []],
      ["privileged", [...none, "--privileged"], []],
      ["an entrypoint", [...none, "--entrypoint", "/bin/ls"], ["-l", "/"]],
      ["an entrypoint as JSON", [...none, "--entrypoint", '["/bin/ls","-a"]'], []],
      ["the host's network", ["--network", "host"], []],
    ];
    try {
      for (const [name, flags, cmd] of scenarios) {
        const { podman: theirs, ocibox: ours } = await podman.both(flags, cmd);
        assert.deepEqual(view(ours), view(theirs), name);
      }
    } finally {
      await podman.close();
    }
  });
});
