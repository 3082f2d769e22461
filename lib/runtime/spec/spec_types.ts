/**
 * Types for a runtime bundle's `config.json`, following the OCI Runtime Spec's config.md,
 * config-linux.md and `schema/*.json`. Only the POSIX and Linux parts are modelled: ocibox runs
 * Linux containers, and unknown properties (Windows, Solaris, VM, z/OS sections) are to be ignored
 * by runtimes anyway.
 *
 * Field names and optionality mirror the JSON schema; numbers that the spec types as int64/uint64
 * are plain `number` because `JSON.parse` yields numbers (values above 2^53 lose precision, which
 * only matters for "unlimited"-style limits that runtimes also accept as `-1`).
 *
 * @example
 * ```ts
 * import { OCI_RUNTIME_SPEC_VERSION, type Spec } from "./spec_types.ts";
 * const spec: Spec = {
 *   ociVersion: OCI_RUNTIME_SPEC_VERSION,
 *   root: { path: "rootfs" },
 *   process: { user: { uid: 0, gid: 0 }, args: ["sh"], cwd: "/" },
 * };
 * ```
 * @module
 */

/**
 * The `ociVersion` ocibox writes. The snapshot of the spec is newer (1.3.x), but runc 1.1.5
 * (`spec: 1.0.2-dev`) is the reference runtime here and accepts "1.0.2"; ocibox only emits
 * fields that exist in 1.0.2 unless a caller adds newer ones.
 */
export const OCI_RUNTIME_SPEC_VERSION = "1.0.2";

/** The whole `config.json` document. */
export interface Spec {
  /** SemVer 2.0.0 version of the runtime spec the bundle complies with. */
  ociVersion: string;
  /** The container process; REQUIRED when `start` is called. */
  process?: Process;
  /** The container's root filesystem; REQUIRED on Linux. */
  root?: Root;
  /** Hostname inside the container's UTS namespace. */
  hostname?: string;
  /** Domainname inside the container's UTS namespace. */
  domainname?: string;
  /** Mounts beyond `root`, mounted in the listed order. */
  mounts?: Mount[];
  /** Lifecycle hooks (POSIX platforms). */
  hooks?: Hooks;
  /** Arbitrary string metadata; keys MUST NOT be empty. */
  annotations?: Record<string, string>;
  /** Linux-specific configuration. */
  linux?: Linux;
}

/** `root`: where the root filesystem is and whether it is read-only. */
export interface Root {
  /** Absolute path, or path relative to the bundle (conventionally `rootfs`). */
  path: string;
  /** Mount the root filesystem read-only; defaults to false. */
  readonly?: boolean;
}

/** One user-namespace (or idmapped-mount) id mapping: `size` ids from `hostID` to `containerID`. */
export interface IDMapping {
  /** First uid/gid inside the container (uint32). */
  containerID: number;
  /** First uid/gid on the host mapped to `containerID` (uint32). */
  hostID: number;
  /** Number of ids mapped (uint32). */
  size: number;
}

/** An entry of `mounts`. */
export interface Mount {
  /** Path inside the container; SHOULD be absolute. */
  destination: string;
  /** Filesystem type (`proc`, `tmpfs`, ...); a dummy such as `none` for bind mounts. */
  type?: string;
  /** Device name, file or directory for bind mounts (absolute or relative to the bundle). */
  source?: string;
  /** mount(8)-style options; `bind`/`rbind` make it a bind mount. */
  options?: string[];
  /** idmapped-mount uid mapping; must come with `gidMappings`. */
  uidMappings?: IDMapping[];
  /** idmapped-mount gid mapping; must come with `uidMappings`. */
  gidMappings?: IDMapping[];
}

/** `process.consoleSize`, in characters; ignored unless `terminal` is true. */
export interface ConsoleSize {
  height: number;
  width: number;
}

/** `process.user` (POSIX): ids in the container's namespace. */
export interface User {
  /** User id (uint32). */
  uid: number;
  /** Group id (uint32). */
  gid: number;
  /** umask of the process; unchanged from the caller's when absent. */
  umask?: number;
  /** Supplementary group ids. */
  additionalGids?: number[];
  /** Windows user name; present in the shared schema, unused on Linux. */
  username?: string;
}

/** Capability names such as `CAP_KILL`, as in capabilities(7). */
export type Capability = string;

/** `process.capabilities`: the five Linux capability sets. */
export interface LinuxCapabilities {
  bounding?: Capability[];
  effective?: Capability[];
  inheritable?: Capability[];
  permitted?: Capability[];
  ambient?: Capability[];
}

/** A `process.rlimits` entry; duplicated `type`s are an error. */
export interface POSIXRlimit {
  /** `RLIMIT_*` name from getrlimit(2), e.g. `RLIMIT_NOFILE`. */
  type: string;
  /** Ceiling for `soft` (uint64). */
  hard: number;
  /** Enforced value (uint64). */
  soft: number;
}

/** Scheduling policies accepted in `process.scheduler.policy`. */
export type SchedulerPolicy =
  | "SCHED_OTHER"
  | "SCHED_FIFO"
  | "SCHED_RR"
  | "SCHED_BATCH"
  | "SCHED_ISO"
  | "SCHED_IDLE"
  | "SCHED_DEADLINE";

/** Flags accepted in `process.scheduler.flags`. */
export type SchedulerFlag =
  | "SCHED_FLAG_RESET_ON_FORK"
  | "SCHED_FLAG_RECLAIM"
  | "SCHED_FLAG_DL_OVERRUN"
  | "SCHED_FLAG_KEEP_POLICY"
  | "SCHED_FLAG_KEEP_PARAMS"
  | "SCHED_FLAG_UTIL_CLAMP_MIN"
  | "SCHED_FLAG_UTIL_CLAMP_MAX";

/** `process.scheduler`, passed to sched_setattr(2). */
export interface Scheduler {
  policy: SchedulerPolicy;
  nice?: number;
  priority?: number;
  flags?: SchedulerFlag[];
  /** Nanoseconds (SCHED_DEADLINE). */
  runtime?: number;
  /** Nanoseconds (SCHED_DEADLINE). */
  deadline?: number;
  /** Nanoseconds (SCHED_DEADLINE). */
  period?: number;
}

/** `process.ioPriority`, applied with ioprio_set(2). */
export interface IOPriority {
  class: "IOPRIO_CLASS_RT" | "IOPRIO_CLASS_BE" | "IOPRIO_CLASS_IDLE";
  /** 0 (highest) to 7 (lowest). */
  priority?: number;
}

/** `process.execCPUAffinity`: CPU lists such as `0-3,7` (not applied to the init process). */
export interface CPUAffinity {
  initial?: string;
  final?: string;
}

/** `process`: what to run and with which credentials and limits. */
export interface Process {
  /** Allocate a pseudoterminal for the process; defaults to false. */
  terminal?: boolean;
  consoleSize?: ConsoleSize;
  user: User;
  /** argv; at least one entry is REQUIRED on Linux, `args[0]` is resolved like execvp's file. */
  args?: string[];
  /** Windows only: the full command line. */
  commandLine?: string;
  /** `NAME=value` entries. */
  env?: string[];
  /** Absolute working directory. */
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: POSIXRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  /** Written to `/proc/<pid>/oom_score_adj` when set. */
  oomScoreAdj?: number;
  selinuxLabel?: string;
  scheduler?: Scheduler;
  ioPriority?: IOPriority;
  execCPUAffinity?: CPUAffinity;
}

/** One hook: an executable run in the runtime or container namespace, state JSON on stdin. */
export interface Hook {
  /** Absolute path of the executable. */
  path: string;
  /** argv, including argv[0]. */
  args?: string[];
  env?: string[];
  /** Seconds before the hook is aborted; greater than zero when set. */
  timeout?: number;
}

/** `hooks`: lifecycle hooks, each list run in order. */
export interface Hooks {
  /** DEPRECATED in favour of `createRuntime`, `createContainer` and `startContainer`. */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

/** Namespace kinds of `linux.namespaces[].type`. */
export type LinuxNamespaceType =
  | "pid"
  | "network"
  | "mount"
  | "ipc"
  | "uts"
  | "user"
  | "cgroup"
  | "time";

/** A `linux.namespaces` entry: create a new namespace, or join the one at `path`. */
export interface LinuxNamespace {
  type: LinuxNamespaceType;
  /** Absolute path of a namespace file (e.g. `/proc/1234/ns/net`) to join. */
  path?: string;
}

/** A `linux.devices` entry: a device node that must exist in the container. */
export interface LinuxDevice {
  /** Absolute path inside the container. */
  path: string;
  /** `c` (char), `b` (block), `u` (unbuffered char) or `p` (FIFO). */
  type: "c" | "b" | "u" | "p";
  /** REQUIRED unless `type` is `p`. */
  major?: number;
  /** REQUIRED unless `type` is `p`. */
  minor?: number;
  /** Permission bits in decimal (e.g. 438 for 0o666). */
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** A `linux.resources.devices` entry of the device cgroup allow/deny list. */
export interface LinuxDeviceCgroup {
  allow: boolean;
  /** `a` (all), `c` or `b`; unset means all. */
  type?: string;
  /** Unset means all (`*`). */
  major?: number;
  /** Unset means all (`*`). */
  minor?: number;
  /** A combination of `r`, `w` and `m`. */
  access?: string;
}

/** `linux.resources.memory`; limits in bytes, `-1` for unlimited. */
export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
  /** NOT RECOMMENDED by the spec. */
  kernel?: number;
  /** NOT RECOMMENDED by the spec. */
  kernelTCP?: number;
  /** 0..100. */
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

/** `linux.resources.cpu` (cpu and cpuset controllers); times in microseconds. */
export interface LinuxCPU {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  /** CPU list such as `0-3,7`. */
  cpus?: string;
  /** Memory node list such as `0-3,7`. */
  mems?: string;
  /** 1 puts the cgroup in SCHED_IDLE. */
  idle?: number;
}

/** `linux.resources.pids`. */
export interface LinuxPids {
  /** Maximum number of tasks, `-1` for no limit; 0 is a valid limit. */
  limit: number;
}

/** A per-device weight of `blockIO.weightDevice`; at least one of the weights is REQUIRED. */
export interface LinuxWeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

/** A per-device rate limit of the `blockIO.throttle*Device` lists. */
export interface LinuxThrottleDevice {
  major: number;
  minor: number;
  /** Bytes per second or IO operations per second, depending on the list. */
  rate: number;
}

/** `linux.resources.blockIO` (blkio on cgroup v1, io on cgroup v2). */
export interface LinuxBlockIO {
  /** uint16 default weight. */
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

/** A `linux.resources.hugepageLimits` entry. */
export interface LinuxHugepageLimit {
  /** `<size><K|M|G>B`, e.g. `2MB`. */
  pageSize: string;
  limit: number;
}

/** A `linux.resources.network.priorities` entry. */
export interface LinuxInterfacePriority {
  name: string;
  priority: number;
}

/** `linux.resources.network` (net_cls and net_prio controllers). */
export interface LinuxNetwork {
  classID?: number;
  priorities?: LinuxInterfacePriority[];
}

/** A value of `linux.resources.rdma`, keyed by device name. */
export interface LinuxRdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

/** `linux.resources`: cgroup settings. */
export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  rdma?: Record<string, LinuxRdma>;
  /** cgroup v2 files to write, keyed by file name (e.g. `memory.high`). */
  unified?: Record<string, string>;
}

/** Seccomp actions (libseccomp names). */
export type SeccompAction =
  | "SCMP_ACT_KILL"
  | "SCMP_ACT_KILL_PROCESS"
  | "SCMP_ACT_KILL_THREAD"
  | "SCMP_ACT_TRAP"
  | "SCMP_ACT_ERRNO"
  | "SCMP_ACT_TRACE"
  | "SCMP_ACT_ALLOW"
  | "SCMP_ACT_LOG"
  | "SCMP_ACT_NOTIFY";

/** Seccomp architectures (libseccomp names). */
export type SeccompArch =
  | "SCMP_ARCH_X86"
  | "SCMP_ARCH_X86_64"
  | "SCMP_ARCH_X32"
  | "SCMP_ARCH_ARM"
  | "SCMP_ARCH_AARCH64"
  | "SCMP_ARCH_LOONGARCH64"
  | "SCMP_ARCH_M68K"
  | "SCMP_ARCH_MIPS"
  | "SCMP_ARCH_MIPS64"
  | "SCMP_ARCH_MIPS64N32"
  | "SCMP_ARCH_MIPSEL"
  | "SCMP_ARCH_MIPSEL64"
  | "SCMP_ARCH_MIPSEL64N32"
  | "SCMP_ARCH_PPC"
  | "SCMP_ARCH_PPC64"
  | "SCMP_ARCH_PPC64LE"
  | "SCMP_ARCH_S390"
  | "SCMP_ARCH_S390X"
  | "SCMP_ARCH_SH"
  | "SCMP_ARCH_SHEB"
  | "SCMP_ARCH_PARISC"
  | "SCMP_ARCH_PARISC64"
  | "SCMP_ARCH_RISCV64";

/** Flags passed to seccomp(2). */
export type SeccompFlag =
  | "SECCOMP_FILTER_FLAG_TSYNC"
  | "SECCOMP_FILTER_FLAG_LOG"
  | "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
  | "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV";

/** Comparison operators for syscall arguments. */
export type SeccompOperator =
  | "SCMP_CMP_NE"
  | "SCMP_CMP_LT"
  | "SCMP_CMP_LE"
  | "SCMP_CMP_EQ"
  | "SCMP_CMP_GE"
  | "SCMP_CMP_GT"
  | "SCMP_CMP_MASKED_EQ";

/** A condition on one syscall argument. */
export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}

/** A seccomp rule: `action` for the named syscalls (when `args` match). */
export interface LinuxSyscall {
  /** At least one name. */
  names: string[];
  action: SeccompAction;
  /** errno for `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE`; EPERM when absent. */
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

/** `linux.seccomp`. */
export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: SeccompArch[];
  flags?: SeccompFlag[];
  /** UNIX socket receiving the seccomp fd for `SCMP_ACT_NOTIFY`. */
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

/** `linux.intelRdt`: resctrl class of service and schemata. */
export interface LinuxIntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  schemata?: string[];
  enableMonitoring?: boolean;
}

/** `linux.personality`, passed to personality(2). */
export interface LinuxPersonality {
  domain: "LINUX" | "LINUX32";
  flags?: string[];
}

/** An offset of `linux.timeOffsets` for a clock in the time namespace. */
export interface LinuxTimeOffset {
  secs?: number;
  nanosecs?: number;
}

/** `linux.memoryPolicy`, passed to set_mempolicy(2). */
export interface LinuxMemoryPolicy {
  mode:
    | "MPOL_DEFAULT"
    | "MPOL_BIND"
    | "MPOL_INTERLEAVE"
    | "MPOL_WEIGHTED_INTERLEAVE"
    | "MPOL_PREFERRED"
    | "MPOL_PREFERRED_MANY"
    | "MPOL_LOCAL";
  /** Node list such as `0-3,7`. */
  nodes?: string;
  flags?: ("MPOL_F_NUMA_BALANCING" | "MPOL_F_RELATIVE_NODES" | "MPOL_F_STATIC_NODES")[];
}

/** A value of `linux.netDevices`, keyed by the host interface name. */
export interface LinuxNetDevice {
  /** Name inside the container; the host name when absent. */
  name?: string;
}

/** Mount propagation of the root filesystem. */
export type RootfsPropagation = "private" | "shared" | "slave" | "unbindable";

/** `linux`: namespaces, id mappings, cgroups, devices, seccomp and path masking. */
export interface Linux {
  namespaces?: LinuxNamespace[];
  uidMappings?: IDMapping[];
  gidMappings?: IDMapping[];
  /** Offsets keyed by clock name (`monotonic`, `boottime`). */
  timeOffsets?: Record<string, LinuxTimeOffset>;
  devices?: LinuxDevice[];
  netDevices?: Record<string, LinuxNetDevice>;
  /** Absolute (relative to the cgroup mount) or runtime-relative cgroup path. */
  cgroupsPath?: string;
  resources?: LinuxResources;
  /** Kernel parameters, e.g. `{"net.ipv4.ip_forward": "1"}`. */
  sysctl?: Record<string, string>;
  seccomp?: LinuxSeccomp;
  rootfsPropagation?: RootfsPropagation;
  /** Paths made unreadable inside the container. */
  maskedPaths?: string[];
  /** Paths made read-only inside the container. */
  readonlyPaths?: string[];
  mountLabel?: string;
  intelRdt?: LinuxIntelRdt;
  memoryPolicy?: LinuxMemoryPolicy;
  personality?: LinuxPersonality;
}
