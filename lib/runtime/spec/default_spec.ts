/**
 * The default runtime configuration: what `runc spec` (runc 1.1.5) writes, field by field, so a
 * bundle made by ocibox behaves like one made by runc's own template.
 *
 * Deliberate differences from `runc spec`: `ociVersion` is {@linkcode OCI_RUNTIME_SPEC_VERSION}
 * ("1.0.2" instead of runc's "1.0.2-dev") and `hostname` is "ocibox" instead of "runc".
 *
 * @example
 * ```ts
 * import { defaultSpec } from "./default_spec.ts";
 * const spec = defaultSpec({ args: ["/bin/true"], terminal: false });
 * console.log(spec.process?.args); // ["/bin/true"]
 * ```
 * @module
 */

import {
  type LinuxNamespace,
  type Mount,
  OCI_RUNTIME_SPEC_VERSION,
  type Spec,
} from "./spec_types.ts";

/** Options of {@linkcode defaultSpec}. */
export interface DefaultSpecOptions {
  /** Produce the `runc spec --rootless` variant (user namespace, no network namespace ...). */
  rootless?: boolean;
  /** `process.args`; `["sh"]` like runc when absent. */
  args?: string[];
  /** `process.terminal`; true like runc when absent. */
  terminal?: boolean;
  /**
   * Add a `cgroup` namespace, as runc does when the host runs cgroup v2 only. Deciding that needs
   * a look at `/sys/fs/cgroup`, which this pure module leaves to the caller.
   */
  cgroupNamespace?: boolean;
  /** Host uid mapped to container uid 0 in rootless mode; the caller's uid when absent. */
  hostUid?: number;
  /** Host gid mapped to container gid 0 in rootless mode; the caller's gid when absent. */
  hostGid?: number;
}

const DEFAULT_CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/** The hostname ocibox gives containers by default (runc uses "runc"). */
export const DEFAULT_HOSTNAME = "ocibox";

/** `process.env` of the default spec (also the base env of image conversion). */
export const DEFAULT_ENV: readonly string[] = [
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  "TERM=xterm",
];

/**
 * Returns a fresh copy of runc's default `config.json` (or its `--rootless` variant).
 *
 * Rootless, like runc: the network namespace is dropped (an unprivileged user cannot set one
 * up) and a user namespace appended, with container root mapped to the calling user; `gid=`/`uid=`
 * mount options are removed (only one id is mapped); `/sys` becomes a read-only rbind of the
 * host's (sysfs cannot be mounted without owning the network namespace); cgroup resources are
 * dropped (an unprivileged user cannot write the cgroup tree).
 *
 * @example
 * ```ts
 * import { defaultSpec } from "./default_spec.ts";
 * const spec = defaultSpec({ rootless: true, hostUid: 1000, hostGid: 1000 });
 * console.log(spec.linux?.uidMappings); // [{ containerID: 0, hostID: 1000, size: 1 }]
 * ```
 */
export function defaultSpec(options: DefaultSpecOptions = {}): Spec {
  const namespaces: LinuxNamespace[] = [
    { type: "pid" },
    { type: "network" },
    { type: "ipc" },
    { type: "uts" },
    { type: "mount" },
  ];
  if (options.cgroupNamespace) namespaces.push({ type: "cgroup" });

  const spec: Spec = {
    ociVersion: OCI_RUNTIME_SPEC_VERSION,
    process: {
      terminal: options.terminal ?? true,
      user: { uid: 0, gid: 0 },
      args: [...(options.args ?? ["sh"])],
      env: [...DEFAULT_ENV],
      cwd: "/",
      capabilities: {
        bounding: [...DEFAULT_CAPABILITIES],
        effective: [...DEFAULT_CAPABILITIES],
        permitted: [...DEFAULT_CAPABILITIES],
        ambient: [...DEFAULT_CAPABILITIES],
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: DEFAULT_HOSTNAME,
    mounts: defaultMounts(),
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces,
      maskedPaths: [
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
      ],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
  if (options.rootless) toRootless(spec, options);
  return spec;
}

function defaultMounts(): Mount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc" },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", "ro"],
    },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
    },
  ];
}

// Same transformation, in the same order, as runc's specconv.ToRootless so that key order and
// array positions match `runc spec --rootless` exactly.
function toRootless(spec: Spec, options: DefaultSpecOptions): void {
  const linux = spec.linux!;
  const namespaces = (linux.namespaces ?? []).filter((ns) =>
    ns.type !== "network" && ns.type !== "user"
  );
  namespaces.push({ type: "user" });
  const hostUid = options.hostUid ?? Deno.uid() ?? 0;
  const hostGid = options.hostGid ?? Deno.gid() ?? 0;
  spec.linux = {
    uidMappings: [{ containerID: 0, hostID: hostUid, size: 1 }],
    gidMappings: [{ containerID: 0, hostID: hostGid, size: 1 }],
    namespaces,
    maskedPaths: linux.maskedPaths,
    readonlyPaths: linux.readonlyPaths,
  };
  spec.mounts = (spec.mounts ?? []).map((mount): Mount => {
    if (mount.destination.replace(/\/+$/, "") === "/sys") {
      return {
        destination: "/sys",
        type: "none",
        source: "/sys",
        options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
      };
    }
    if (mount.options === undefined) return mount;
    const options = mount.options.filter((o) => !o.startsWith("gid=") && !o.startsWith("uid="));
    return { ...mount, options };
  });
}
