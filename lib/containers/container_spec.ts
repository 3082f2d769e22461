/**
 * The bundle config of a one-liner: the image's config (through `specFromImageConfig`) plus
 * what `ocibox run` was asked, with podman 4.3's defaults wherever the user said nothing. Pure:
 * the caller passes the image config, the rootfs's passwd/group text, the resolved environment,
 * the paths of the container's hosts/hostname/resolv.conf files and a few facts about the host.
 *
 * What podman puts in `config.json`, and so does this (checked field by field against podman
 * 4.3 with runc in tests/containers_spec_podman_test.ts):
 * - capabilities CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE SETFCAP SETGID SETPCAP
 *   SETUID SYS_CHROOT (containers-common's `default_capabilities`), changed by `--cap-add` and
 *   `--cap-drop` (`ALL` = every capability in the caller's bounding set), sorted; bounding,
 *   effective and permitted for uid 0; a non-root user gets the bounding set only, plus the
 *   added capabilities as effective, permitted, inheritable and ambient;
 * - podman's masked and read-only paths, its default seccomp profile (default_seccomp.ts)
 *   resolved for the bounding set, `no_new_privileges` off unless asked, umask 022;
 * - env: PATH and TERM=xterm, `container=ocibox`, the image's Env, HOME of the user, then
 *   `--env-file`/`-e`, then `HOSTNAME` unless set; the hostname is the first 12 hex digits of
 *   the id (the host's name with `--network host`);
 * - `-u` resolved through the image's /etc/passwd and /etc/group, with the primary gid among
 *   the supplementary groups when a user is named (podman does both);
 * - the entrypoint and command as podman's makeCommand: `--entrypoint` replaces the image's
 *   Entrypoint and drops its Cmd; a command after the image replaces Cmd; `--init` runs
 *   `/run/ocibox-init -- ARGS` with the init binary bound read-only there;
 * - mounts: proc, /dev (tmpfs), devpts, /dev/shm, mqueue, sysfs (ro), cgroup (ro), the
 *   container's /etc/hostname, /etc/hosts and /etc/resolv.conf (bind, rprivate; also ro, nosuid,
 *   noexec, nodev with `--read-only`), tmpfs on /run,
 *   /tmp and /var/tmp with `--read-only`, then `-v`/`--mount`/`--tmpfs` sorted by depth; a user
 *   mount replaces a default one at the same place;
 * - namespaces pid, network (not with `--network host`), ipc, uts, mount, cgroup on cgroup v2;
 *   `cgroupsPath` `/ocibox/<id>`; `net.ipv4.ping_group_range=0 0` in a private network;
 * - resources: pids 2048 unless `--pids-limit`; `--memory` with swap twice the limit;
 *   `--cpus` as quota over a 100000 µs period; rlimits NOFILE and NPROC 1048576 each (podman's
 *   default) lowered to the caller's hard limits (podman 4.3 does not lower them as root, and
 *   fails where the host's are lower), then `--ulimit`;
 * - `--privileged`: every capability of the bounding set, no seccomp, no masked or read-only
 *   paths, /sys and the cgroup tree writable, the device cgroup open, and the host's devices
 *   (podman adds every device node of the host's /dev but /dev/console and /dev/pts/*: the
 *   caller scans them with `hostDevices` of host_facts.ts and passes them in).
 *
 * Deliberate differences: `/dev/shm` is the runtime's own tmpfs (podman binds one it made
 * outside); no `/run/.containerenv`; a missing `-v` source is created (podman refuses, docker
 * creates); anonymous `Config.Volumes` of the image are not mounted (podman makes volumes); the
 * tmpfs option `tmpcopyup` is left out (ocibox's runtime cannot copy up).
 *
 * @example
 * ```ts
 * import { containerSpec } from "./container_spec.ts";
 * import { parseRunArgs } from "./run_flags.ts";
 * const spec = containerSpec({
 *   id: "0123456789ab".padEnd(64, "0"),
 *   image: { architecture: "amd64", os: "linux", config: { Cmd: ["sh"] } },
 *   request: parseRunArgs(["--rm", "busybox", "id"]),
 *   env: [],
 *   etc: { hosts: "/s/hosts", hostname: "/s/hostname", resolvConf: "/s/resolv.conf" },
 *   host: { arch: "x86_64", cgroupV2: false, rootless: false, hostname: "vm" },
 * });
 * console.log(spec.process?.args, spec.hostname); // ["id"] "0123456789ab"
 * ```
 * @module
 */
import { UsageError } from "../errors.ts";
import { type ImageConfigInput, specFromImageConfig } from "../bundle/image_to_spec.ts";
import { CAPABILITIES } from "../runtime/plan/capabilities.ts";
import type {
  LinuxCapabilities,
  LinuxDevice,
  LinuxResources,
  LinuxSeccomp,
  Mount,
  POSIXRlimit,
  Spec,
} from "../runtime/spec/spec_types.ts";
import { defaultSeccomp } from "./default_seccomp.ts";
import type { MountRequest, RunRequest } from "./run_request.ts";
import { resolveSeccompProfile, type SeccompProfileTemplate } from "./seccomp_profile.ts";

/** containers-common's `default_capabilities` (podman 4.3). */
export const PODMAN_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_NET_BIND_SERVICE",
  "CAP_SETFCAP",
  "CAP_SETGID",
  "CAP_SETPCAP",
  "CAP_SETUID",
  "CAP_SYS_CHROOT",
];

/** podman's masked paths. */
export const MASKED_PATHS: readonly string[] = [
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/fs/selinux",
  "/sys/dev/block",
];

/** podman's read-only paths. */
export const READONLY_PATHS: readonly string[] = [
  "/proc/asound",
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/** Where `--init` puts the init binary in the container. */
export const INIT_PATH = "/run/ocibox-init";

/** podman's default `--pids-limit`. */
export const DEFAULT_PIDS_LIMIT = 2048;

/** podman's default RLIMIT_NOFILE and RLIMIT_NPROC (`define.RLimitDefaultValue`). */
export const DEFAULT_RLIMIT = 1048576;

/** The CPU period `--cpus` is expressed over, in µs (podman's). */
export const CPU_PERIOD = 100000;

/** What `containerSpec` needs to know about the host (host_facts.ts reads them). */
export interface HostFacts {
  arch: "x86_64" | "aarch64";
  /** The host runs cgroup v2 only: the container gets a cgroup namespace. */
  cgroupV2: boolean;
  /** The caller is not root: a user namespace mapping it to root, no cgroup resources. */
  rootless: boolean;
  /** The host's name (the container's with `--network host`). */
  hostname: string;
  /** The caller's bounding set: what `ALL` and `--privileged` give. Every capability if absent. */
  boundingCapabilities?: readonly string[];
  /** The caller's hard limits, which podman's default NOFILE/NPROC are lowered to. */
  rlimitCeilings?: { nofile?: number; nproc?: number };
  /** The kernel release, for `minKernel` conditions of a seccomp profile. */
  kernel?: string;
  /** The caller's uid and gid (mapped to root when rootless). */
  uid?: number;
  gid?: number;
}

/** The host paths of the files etc_files.ts wrote for the container. */
export interface EtcFilePaths {
  hosts: string;
  hostname: string;
  /** Absent with `--network none` (the image's own file stays, as with podman). */
  resolvConf?: string;
}

/** Everything {@linkcode containerSpec} builds from. */
export interface ContainerSpecInput {
  /** The container id (64 hex digits). */
  id: string;
  /** The image's config (the parsed config blob). */
  image: ImageConfigInput;
  /** Text of the rootfs's /etc/passwd and /etc/group, when they exist. */
  passwd?: string;
  group?: string;
  request: RunRequest;
  /** `NAME=VALUE` entries from `resolveRunEnv`. */
  env: readonly string[];
  etc: EtcFilePaths;
  host: HostFacts;
  /** `root.path`; `rootfs` (beside config.json) when absent. */
  rootfs?: string;
  /** The parsed contents of `--security-opt seccomp=FILE`. */
  seccompProfile?: SeccompProfileTemplate;
  /** Host path of the init binary for `--init` (ocibox's own, catatonit or tini). */
  initBinary?: string;
  /** Host devices for `--privileged` (see `hostDevices`). */
  devices?: readonly LinuxDevice[];
}

/**
 * Builds the container's `config.json` (see the module doc for every default).
 *
 * @throws {UsageError} no command anywhere, `--cap-add` and `--cap-drop` of the same capability
 *   or of ALL both, `seccomp=FILE` without its contents, `--init` without a binary.
 * @throws {UserNotFoundError} `-u` (or the image's User) names someone the image does not know.
 * @throws {UnsupportedError} the image is not for Linux.
 */
export function containerSpec(input: ContainerSpecInput): Spec {
  const { request, host } = input;
  const args = command(input);
  const user = request.user ?? input.image.config?.User ?? "";
  const spec = specFromImageConfig(
    {
      ...input.image,
      config: {
        ...input.image.config,
        User: user,
        Entrypoint: args,
        Cmd: null,
        WorkingDir: request.workdir ?? input.image.config?.WorkingDir,
      },
    },
    {
      passwd: input.passwd,
      group: input.group,
      terminal: request.tty,
      readonlyRootfs: request.readOnly,
      rootless: host.rootless,
      cgroupNamespace: host.cgroupV2,
      hostUid: host.uid,
      hostGid: host.gid,
    },
  );
  const hostname = request.hostname ??
    (request.network === "host" ? host.hostname : input.id.slice(0, 12));
  spec.hostname = hostname;
  spec.root = { path: input.rootfs ?? "rootfs", readonly: request.readOnly };

  const proc = spec.process!;
  proc.user.umask = 0o022;
  if (user !== "" && !host.rootless) {
    proc.user.additionalGids = [...new Set([proc.user.gid, ...(proc.user.additionalGids ?? [])])];
  }
  proc.env = environment(proc.env ?? [], input.env, hostname);
  const bounding = capabilitySet(request, host);
  proc.capabilities = capabilitySets(bounding, request, proc.user.uid);
  proc.rlimits = rlimits(request, host);
  proc.noNewPrivileges = request.noNewPrivileges;

  spec.mounts = mounts(input, request);
  const linux = spec.linux ??= {};
  linux.namespaces = (linux.namespaces ?? []).filter((ns) =>
    ns.type !== "network" || request.network !== "host"
  );
  if (
    host.rootless && request.network !== "host" &&
    !linux.namespaces.some((n) => n.type === "network")
  ) {
    // The user namespace owns a new network namespace, so pasta can set it up.
    linux.namespaces.splice(1, 0, { type: "network" });
  }
  linux.cgroupsPath = `/ocibox/${input.id}`;
  if (!host.rootless) linux.resources = resources(request);
  else delete linux.resources;
  if (request.network !== "host") linux.sysctl = { "net.ipv4.ping_group_range": "0 0" };
  if (request.privileged) {
    delete linux.maskedPaths;
    delete linux.readonlyPaths;
    if (input.devices?.length) linux.devices = input.devices.map((d) => ({ ...d }));
  } else {
    linux.maskedPaths = [...MASKED_PATHS];
    linux.readonlyPaths = [...READONLY_PATHS];
  }
  const seccomp = seccompFor(input, bounding);
  if (seccomp) linux.seccomp = seccomp;
  return spec;
}

/** process.args by podman's makeCommand, with --init in front. */
function command(input: ContainerSpecInput): string[] {
  const { request } = input;
  const config = input.image.config ?? {};
  const entrypoint = request.entrypoint ?? config.Entrypoint ?? [];
  const cmd = request.command.length > 0
    ? request.command
    : request.entrypoint === undefined
    ? config.Cmd ?? []
    : [];
  // An entrypoint of [""] means none (podman).
  const args = [...(entrypoint.length === 1 && entrypoint[0] === "" ? [] : entrypoint), ...cmd];
  if (args.length === 0) {
    throw new UsageError(
      "no command or entrypoint provided, and no CMD or ENTRYPOINT from image",
    );
  }
  if (!request.init) return args;
  if (!input.initBinary) {
    throw new UsageError("--init: no init binary found (ocibox's own, catatonit or tini)");
  }
  return [INIT_PATH, "--", ...args];
}

/** `NAME=VALUE` list where a later entry of the same name replaces the earlier in place. */
function environment(base: readonly string[], extra: readonly string[], hostname: string) {
  const out: string[] = [];
  const at = new Map<string, number>();
  const set = (entry: string, keep = false) => {
    const name = entry.slice(0, Math.max(0, entry.indexOf("=")));
    const i = at.get(name);
    if (i === undefined) {
      at.set(name, out.length);
      out.push(entry);
    } else if (!keep) out[i] = entry;
  };
  // podman's containers.conf env (PATH, TERM, container=) sits below the image's Env.
  for (const e of base) set(e);
  set("container=ocibox", true);
  for (const e of extra) set(e);
  set(`HOSTNAME=${hostname}`, true);
  return out;
}

/** The container's capability set (bounding), podman's MergeCapabilities. */
function capabilitySet(request: RunRequest, host: HostFacts): string[] {
  const all = CAPABILITIES.filter((c) =>
    !host.boundingCapabilities || host.boundingCapabilities.includes(c)
  );
  if (request.privileged) return [...all].sort();
  const { capAdd, capDrop } = request;
  for (const c of capAdd) {
    if (capDrop.includes(c)) {
      throw new UsageError(`--cap-add ${c} and --cap-drop ${c}: a capability cannot be both`);
    }
  }
  let caps: string[];
  if (capDrop.includes("ALL")) {
    caps = capAdd.includes("ALL") ? [...all] : capAdd.filter((c) => c !== "ALL");
  } else {
    const base = capAdd.includes("ALL") ? all : PODMAN_CAPABILITIES;
    caps = [...base.filter((c) => !capDrop.includes(c)), ...capAdd.filter((c) => c !== "ALL")];
  }
  return [...new Set(caps)].sort();
}

/** The five sets: root gets the set; another user only what was added explicitly. */
function capabilitySets(bounding: string[], request: RunRequest, uid: number): LinuxCapabilities {
  if (uid === 0) return { bounding, effective: [...bounding], permitted: [...bounding] };
  const added = request.capAdd.includes("ALL")
    ? [...bounding]
    : bounding.filter((c) => request.capAdd.includes(c));
  const sets: LinuxCapabilities = { bounding };
  if (added.length > 0) {
    sets.effective = [...added];
    sets.inheritable = [...added];
    sets.permitted = [...added];
    sets.ambient = [...added];
  }
  return sets;
}

function rlimits(request: RunRequest, host: HostFacts): POSIXRlimit[] {
  const ceiling = (n: number | undefined) => Math.min(DEFAULT_RLIMIT, n ?? DEFAULT_RLIMIT);
  const out: POSIXRlimit[] = [
    {
      type: "RLIMIT_NOFILE",
      hard: ceiling(host.rlimitCeilings?.nofile),
      soft: ceiling(host.rlimitCeilings?.nofile),
    },
    {
      type: "RLIMIT_NPROC",
      hard: ceiling(host.rlimitCeilings?.nproc),
      soft: ceiling(host.rlimitCeilings?.nproc),
    },
  ];
  for (const u of request.ulimits) {
    const entry = { type: u.type, hard: u.hard, soft: u.soft };
    const i = out.findIndex((r) => r.type === u.type);
    if (i < 0) out.push(entry);
    else out[i] = entry;
  }
  return out;
}

function resources(request: RunRequest): LinuxResources {
  const r: LinuxResources = {
    devices: [{ allow: request.privileged, access: "rwm" }],
  };
  if (request.memory !== undefined) r.memory = { limit: request.memory, swap: 2 * request.memory };
  if (request.cpus !== undefined) {
    r.cpu = { quota: Math.round(request.cpus * CPU_PERIOD), period: CPU_PERIOD };
  }
  if (request.pidsLimit !== "unlimited") {
    r.pids = { limit: request.pidsLimit ?? DEFAULT_PIDS_LIMIT };
  }
  return r;
}

function seccompFor(input: ContainerSpecInput, bounding: string[]): LinuxSeccomp | undefined {
  const { request, host } = input;
  if (request.privileged || request.seccomp.kind === "unconfined") return undefined;
  const target = { arch: host.arch, capabilities: bounding, kernel: host.kernel };
  if (request.seccomp.kind === "default") return defaultSeccomp(target);
  if (!input.seccompProfile) {
    throw new UsageError(
      `--security-opt seccomp=${request.seccomp.path}: the profile was not read`,
    );
  }
  return resolveSeccompProfile(input.seccompProfile, target);
}

const bind = (destination: string, source: string): Mount => ({
  destination,
  type: "bind",
  source,
  options: ["bind", "rprivate"],
});

/** Every mount, in the order the runtime must make them. */
function mounts(input: ContainerSpecInput, request: RunRequest): Mount[] {
  const { host } = input;
  const privileged = request.privileged;
  const system: Mount[] = [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: [
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
        ...(host.rootless ? [] : ["gid=5"]),
      ],
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
    host.rootless
      ? {
        destination: "/sys",
        type: "none",
        source: "/sys",
        options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
      }
      : {
        destination: "/sys",
        type: "sysfs",
        source: "sysfs",
        options: privileged
          ? ["rprivate", "nosuid", "noexec", "nodev", "rw"]
          : ["nosuid", "noexec", "nodev", "ro"],
      },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["rprivate", "nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro"],
    },
  ];
  // With --read-only, the files ocibox makes are read-only too (podman: ro, nosuid, noexec,
  // nodev on every bind it makes for the container but /dev/shm).
  const etcBind = (destination: string, source: string): Mount => {
    const m = bind(destination, source);
    if (request.readOnly) m.options = [...m.options!, "ro", "nosuid", "noexec", "nodev"];
    return m;
  };
  const extra: Mount[] = [
    etcBind("/etc/hostname", input.etc.hostname),
    etcBind("/etc/hosts", input.etc.hosts),
  ];
  if (input.etc.resolvConf) extra.push(etcBind("/etc/resolv.conf", input.etc.resolvConf));
  if (request.readOnly && request.readOnlyTmpfs) {
    for (const destination of ["/run", "/tmp", "/var/tmp"]) {
      extra.push({
        destination,
        type: "tmpfs",
        source: "tmpfs",
        options: ["rw", "rprivate", "nosuid", "nodev"],
      });
    }
  }
  if (request.init && input.initBinary) {
    extra.push({
      destination: INIT_PATH,
      type: "bind",
      source: input.initBinary,
      options: ["bind", "ro", "rprivate"],
    });
  }
  const user = request.mounts.map(userMount);
  const taken = new Set(user.map((m) => m.destination));
  const rest = [...extra.filter((m) => !taken.has(m.destination)), ...user];
  // Parents before children: stable by the number of path components.
  const depth = (p: string) => p.split("/").filter(Boolean).length;
  rest.sort((a, b) => depth(a.destination) - depth(b.destination));
  return [...system.filter((m) => !taken.has(m.destination)), ...rest];
}

function userMount(m: MountRequest): Mount {
  return m.type === "bind"
    ? { destination: m.destination, type: "bind", source: m.source, options: [...m.options] }
    : { destination: m.destination, type: "tmpfs", source: "tmpfs", options: [...m.options] };
}
