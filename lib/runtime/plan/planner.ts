/**
 * The container planner: config.json ({@linkcode Spec}) → the ordered operations the container's
 * init performs ({@linkcode Plan}). Pure: no file system, no syscalls (the few host facts it
 * needs come in through {@linkcode PlanContext}), so every decision is unit-tested without root.
 *
 * The order is runc's: propagation of `/`, the rootfs bind, the mounts, /dev, the createRuntime
 * sync (hooks), pivot_root, path restrictions, sysctls and names, the console, limits, then the
 * privilege drop (NNP, bounding set, ids, capabilities), the working directory, waiting for
 * `start`, and exec.
 *
 * @example
 * ```ts
 * import { planContainer } from "./planner.ts";
 * import { defaultSpec } from "../spec/default_spec.ts";
 * const plan = planContainer(defaultSpec({ terminal: false }), {
 *   bundle: "/tmp/bundle",
 *   rootless: false,
 *   userns: false,
 *   cgroupV2: true,
 *   isFile: () => false,
 * });
 * console.log(plan.ops.at(-1)); // { op: "exec", path: "sh", args: ["sh"], env: [...] }
 * ```
 * @module
 */
import { InvalidImageError, UnsupportedError } from "../../errors.ts";
import type { LinuxSeccomp, Process, Spec } from "../spec/spec_types.ts";
import { capabilityMasks } from "./capabilities.ts";
import { planDevices } from "./devices.ts";
import { rootPropagationFlags } from "./mount_options.ts";
import { planMounts } from "./mounts.ts";
import { MS, type Op, type Plan } from "./ops.ts";
import { cleanPath, hostPath } from "./paths.ts";
import { planRlimits } from "./rlimits.ts";
import { planSysctl } from "./sysctl.ts";

/** Host facts and runtime options the planner needs (everything not in config.json). */
export interface PlanContext {
  /** Absolute bundle dir; relative root.path and relative bind sources are relative to it. */
  bundle: string;
  /** The runtime is not running as root. */
  rootless: boolean;
  /** A new user namespace is created (mknod not allowed → bindDevice from the host's /dev). */
  userns: boolean;
  /** MS_MOVE + chroot instead of pivot_root (rootfs on a ramfs). */
  noPivot?: boolean;
  /** Descriptors from 3 on that the program inherits (LISTEN_FDS style). */
  preserveFds?: number;
  /** The host uses the unified cgroup hierarchy. */
  cgroupV2: boolean;
  /**
   * cgroup v1 hierarchies mounted on the host: what a `cgroup` mount shows on v1. `source` is
   * the container's own cgroup directory in that hierarchy (bound when the container has no
   * cgroup namespace of its own).
   */
  cgroupV1Hierarchies?: CgroupV1Hierarchy[];
  /** On v2, the container's cgroup directory on the host (bound without a cgroup namespace). */
  cgroupV2Source?: string;
  /** The host mount point holding the rootfs (made private when `/` is made shared). */
  rootfsParentMount?: string;
  /** Whether a host path is a regular file (bind mount of a file). */
  isFile(path: string): boolean;
  /** With `process.terminal`, init makes a pty and sends its master over this socket. */
  consoleSocketFd?: number;
  /** run = create + start: init does not wait for `start`. */
  startNow?: boolean;
  /** The config has prestart, createRuntime or createContainer hooks (init pauses for them). */
  hooks?: boolean;
  /** Compiles `linux.seccomp` into a BPF program (injected so the planner stays pure). */
  compileSeccomp?: (
    profile: LinuxSeccomp,
  ) => { program: Uint8Array; flags: number; warnings: string[] };
}

/** One cgroup v1 hierarchy as the planner needs it. */
export interface CgroupV1Hierarchy {
  /** Its controllers as mounted, e.g. "cpu,cpuacct" or "name=systemd". */
  controllers: string;
  /** The container's cgroup directory in it, on the host. */
  source: string;
}

/** Namespace types config-linux.md defines. */
const NAMESPACE_TYPES: ReadonlySet<string> = new Set([
  "pid",
  "network",
  "mount",
  "ipc",
  "uts",
  "user",
  "cgroup",
  "time",
]);

const isUint32 = (n: unknown): n is number =>
  typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

/** CAP_SYS_ADMIN: loading a seccomp filter without no_new_privs needs it. */
const CAP_SYS_ADMIN = 21;

/**
 * Plans the container described by `spec`.
 *
 * @throws {InvalidImageError} for invalid configs (`what` names the field, e.g.
 *   `config.json mounts[2]`).
 * @throws {UnsupportedError} for valid configs ocibox does not run (idmapped mounts, recursive
 *   mount attributes, seccomp without a compiler, extra groups rootless, an ociVersion
 *   other than 1.x).
 */
export function planContainer(spec: Spec, ctx: PlanContext): Plan {
  if (!ctx.bundle.startsWith("/")) throw new TypeError("PlanContext.bundle must be absolute");
  checkVersion(spec.ociVersion);
  const warnings: string[] = [];
  const ops: Op[] = [];
  const linux = spec.linux ?? {};
  const process = checkProcess(spec.process);
  const namespaces = checkNamespaces(spec);
  const nsSet = new Set(namespaces);
  const ownMounts = nsSet.has("mount");
  warnIgnored(spec, warnings);

  if (typeof spec.root?.path !== "string" || spec.root.path === "") {
    throw new InvalidImageError("config.json root.path", "is missing");
  }
  const rootfs = hostPath(ctx.bundle, spec.root.path);

  // 1. A new cgroup namespace, once init is in the container's cgroup (its root then).
  if (linux.namespaces?.some((n) => n.type === "cgroup" && !n.path)) {
    ops.push({ op: "sync", point: "cgroup" }, { op: "cgroupNamespace" });
  }

  // 2. Keep the container's mounts from reaching the host; make the rootfs a mount point.
  // pivot_root refuses a new root whose parent mount is shared, and an unbindable one cannot
  // be bound: then the mount holding the rootfs is made private (runc's
  // rootfsParentMountPrivate). The asked-for propagation is applied again to the new `/` after
  // pivot_root (as runc 1.2 does; 1.1 leaves the container's `/` private).
  const propagation = rootfsPropagation(linux.rootfsPropagation);
  if (ownMounts) {
    ops.push({ op: "propagation", target: "/", flags: propagation ?? MS.REC | MS.SLAVE });
    if (
      propagation !== undefined && propagation & (MS.SHARED | MS.UNBINDABLE) &&
      ctx.rootfsParentMount
    ) {
      ops.push({ op: "propagation", target: ctx.rootfsParentMount, flags: MS.PRIVATE });
    }
    ops.push({ op: "bindRootfs", rootfs });
  } else {
    // The container shares the runtime's mount namespace: its mounts land there (as the spec
    // says and runc does), and only chroot makes the rootfs its root. Hiding or protecting
    // paths would change the host's own view, so they are refused as runc refuses them.
    for (const field of ["maskedPaths", "readonlyPaths"] as const) {
      if (linux[field]?.length) {
        throw new UnsupportedError(
          `config.json linux.${field}: paths cannot be restricted without a mount namespace`,
        );
      }
    }
    if (spec.root.readonly) {
      throw new UnsupportedError(
        "config.json root.readonly: the rootfs cannot be made read-only without a mount namespace",
      );
    }
    ops.push({ op: "openRootfs", rootfs });
  }
  if (linux.namespaces?.some((n) => n.type === "network" && !n.path)) {
    ops.push({ op: "loopback" });
  }

  // 3-4. Mounts, then /dev.
  const mounts = planMounts(spec.mounts, {
    bundle: ctx.bundle,
    userns: ctx.userns,
    netns: nsSet.has("network"),
    cgroupns: nsSet.has("cgroup"),
    cgroupV2: ctx.cgroupV2,
    cgroupV1Hierarchies: ctx.cgroupV1Hierarchies,
    cgroupV2Source: ctx.cgroupV2Source,
    isFile: (p) => ctx.isFile(p),
    warnings,
  });
  ops.push(...mounts.ops);
  ops.push(...planDevices(linux.devices, mounts.mounts, { userns: ctx.userns, warnings }));
  if (process.cwd !== "/") ops.push({ op: "mkdirAll", path: cleanPath(process.cwd) });

  // 5. Hooks (prestart, createRuntime, createContainer) run before pivot_root.
  if (ctx.hooks) ops.push({ op: "sync", point: "hooks" });

  // 6. Kernel parameters, restrictions and the console, while the host's /proc still gives
  // init handles on what it mounts; read-only tmpfs mounts last, once nothing is made in them.
  ops.push(...planSysctl(linux.sysctl, nsSet));
  for (const path of containerPaths(linux.readonlyPaths, "readonlyPaths")) {
    ops.push({ op: "readonly", path });
  }
  for (const path of containerPaths(linux.maskedPaths, "maskedPaths")) {
    ops.push({ op: "mask", path });
  }
  // Without a socket the caller decides what the terminal is.
  if (process.terminal && ctx.consoleSocketFd !== undefined) {
    const size = process.consoleSize;
    ops.push({
      op: "console",
      socketFd: ctx.consoleSocketFd,
      ...(size ? { rows: size.height, cols: size.width } : {}),
    });
  }
  ops.push(...mounts.afterSetup);
  if (spec.root.readonly) ops.push({ op: "readonlyRoot" });
  if (process.oomScoreAdj !== undefined) {
    const value = process.oomScoreAdj;
    if (!Number.isInteger(value) || value < -1000 || value > 1000) {
      throw new InvalidImageError("config.json process.oomScoreAdj", "must be in -1000..1000");
    }
    ops.push({ op: "oomScoreAdj", value });
  }

  // 7. The rootfs becomes `/`.
  const mode = !ownMounts ? "chroot" : ctx.noPivot ? "move" : "pivot";
  ops.push({ op: "pivotRoot", rootfs, mode });
  if (ownMounts && propagation !== undefined) {
    ops.push({ op: "propagation", target: "/", flags: propagation });
  }
  for (const field of ["hostname", "domainname"] as const) {
    const name = spec[field];
    if (name === undefined || name === "") continue;
    if (typeof name !== "string") {
      throw new InvalidImageError(`config.json ${field}`, "must be a string");
    }
    if (!nsSet.has("uts")) {
      throw new InvalidImageError(
        `config.json ${field}`,
        "cannot be set without a new uts namespace",
      );
    }
    ops.push(field === "hostname" ? { op: "sethostname", name } : { op: "setdomainname", name });
  }

  // 8. The process: limits, privileges, then the pauses for the runtime, then the start.
  const created: Op[] = [{ op: "sync", point: "program" }, { op: "created" }];
  if (!ctx.startNow) created.push({ op: "waitStart" });
  const seccomp = planSeccomp(linux.seccomp, ctx, warnings);
  ops.push(...processOps(process, ctx, seccomp, warnings, null, created));
  return { ops, namespaces, warnings };
}

/** What {@linkcode planExec} needs to know of the running container and the runtime. */
export interface ExecPlanContext {
  /** The runtime is not running as root. */
  rootless: boolean;
  /** The container has a user namespace (setgroups may be denied in it). */
  userns: boolean;
  /** Open cgroup.procs files of the container's cgroup. */
  cgroupProcs: number[];
  /** Namespaces to join, user first, as open descriptors. */
  namespaces: { type: string; fd: number; flag: number }[];
  /** The program's path in the container (found by the runtime). */
  program: string;
  /** A pty slave (from the container's devpts) to use as the terminal. */
  terminalFd?: number;
  preserveFds?: number;
  /** The container's compiled seccomp filter, applied to exec'd processes too. */
  seccomp?: { program: string; flags: number };
}

/**
 * Plans a process `exec`'d into a running container: join its cgroup and namespaces (forking
 * into joined pid and time namespaces), then the same privilege and start sequence as the
 * container's own process ({@linkcode planContainer} shares it), so the two cannot drift apart.
 */
export function planExec(process: Process, ctx: ExecPlanContext): Plan {
  const checked = checkProcess(process, "process");
  const warnings: string[] = [];
  const ops: Op[] = [{ op: "dumpable", on: false }];
  for (const fd of ctx.cgroupProcs) ops.push({ op: "joinCgroup", fd });
  for (const ns of ctx.namespaces) ops.push({ op: "joinNamespace", ...ns });
  if (ctx.namespaces.some((ns) => ns.type === "pid" || ns.type === "time")) {
    ops.push({ op: "fork" });
  }
  if (ctx.terminalFd !== undefined) ops.push({ op: "terminal", fd: ctx.terminalFd });
  const seccomp = ctx.seccomp && { op: "seccomp" as const, ...ctx.seccomp };
  ops.push(...processOps(checked, ctx, seccomp, warnings, ctx.program, []));
  return { ops, namespaces: ctx.namespaces.map((n) => n.type), warnings };
}

/**
 * The security-critical tail shared by create and exec, in one order: limits (raising a hard
 * limit needs CAP_SYS_RESOURCE), the bounding set (needs CAP_SETPCAP), the user switch with
 * capabilities kept across it, the final capability sets, the working directory (as the
 * user), umask and descriptors, then `beforeStart` (create's pauses and its wait for `start`),
 * and last the signal reset, no_new_privs, the seccomp filter and execve: nothing of the
 * runtime's own runs under the container's filter. Without no_new_privs, loading the filter
 * needs CAP_SYS_ADMIN, which is kept in the effective and permitted sets only until execve
 * recomputes them.
 */
function processOps(
  process: Process,
  ctx: { rootless: boolean; userns: boolean; preserveFds?: number },
  seccomp: Extract<Op, { op: "seccomp" }> | undefined,
  warnings: string[],
  program: string | null,
  beforeStart: Op[],
): Op[] {
  const ops: Op[] = [];
  ops.push(...planRlimits(process.rlimits, warnings));
  const caps = capabilityMasks(process.capabilities, warnings);
  ops.push({ op: "dropBounding", keep: caps.bounding });
  ops.push({ op: "keepCaps", on: true });
  const user = process.user;
  const gids = user.additionalGids ?? [];
  if (ctx.rootless && ctx.userns) {
    // The runtime writes "deny" to /proc/<pid>/setgroups: setgroups(2) always fails there.
    if (gids.length) {
      throw new UnsupportedError(
        "config.json process.user.additionalGids: a rootless container cannot have additional groups",
      );
    }
  } else ops.push({ op: "setgroups", gids: [...gids] });
  ops.push({ op: "setresgid", gid: user.gid });
  ops.push({ op: "setresuid", uid: user.uid });
  ops.push({ op: "keepCaps", on: false });

  const nnp = process.noNewPrivileges === true;
  const keep = seccomp && !nnp ? capBit(CAP_SYS_ADMIN) : 0;
  ops.push({
    op: "capabilities",
    effective: orMask(caps.effective, keep),
    permitted: orMask(caps.permitted, keep),
    inheritable: caps.inheritable,
    ambient: caps.ambient,
  });
  ops.push({ op: "chdir", path: process.cwd });
  ops.push({ op: "umask", mask: user.umask ?? 0o022 });
  ops.push({ op: "closeFds", preserve: ctx.preserveFds ?? 0 });
  ops.push(...beforeStart);
  ops.push({ op: "resetSignals" });
  if (nnp) ops.push({ op: "noNewPrivileges" });
  if (seccomp) ops.push(seccomp);
  const args = process.args!;
  ops.push({ op: "exec", path: program, args: [...args], env: [...(process.env ?? [])] });
  return ops;
}

const capBit = (cap: number) => 2 ** cap;
/** Bitwise OR of two capability masks (up to 53 bits, beyond 32-bit operators). */
function orMask(a: number, b: number): number {
  const hi = (Math.floor(a / 2 ** 32) | Math.floor(b / 2 ** 32)) >>> 0;
  const lo = ((a % 2 ** 32) | (b % 2 ** 32)) >>> 0;
  return hi * 2 ** 32 + lo;
}

/** The ociVersion this runtime runs: a 1.x SemVer (runtime-spec's versions so far). */
function checkVersion(version: unknown): void {
  const semver = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
  if (typeof version !== "string" || !semver.test(version)) {
    throw new InvalidImageError(
      "config.json ociVersion",
      `${JSON.stringify(version)} is not a SemVer version`,
    );
  }
  if (!version.startsWith("1.")) {
    throw new UnsupportedError(
      `config.json ociVersion: runtime-spec ${version} is not supported (ocibox runs 1.x)`,
    );
  }
}

/** `linux.rootfsPropagation` as mount flags (undefined when not set). */
function rootfsPropagation(value: unknown): number | undefined {
  if (value === undefined || value === "") return undefined;
  const flags = rootPropagationFlags(String(value));
  if (flags === undefined) {
    throw new InvalidImageError(
      "config.json linux.rootfsPropagation",
      `unknown propagation ${JSON.stringify(value)}`,
    );
  }
  return flags;
}

/** Validates `process` (what the plan reads from it) and returns it. */
function checkProcess(process: Process | undefined, where = "config.json process"): Process {
  if (typeof process !== "object" || process === null) {
    throw new InvalidImageError(where, "is missing");
  }
  const args = process.args;
  if (
    !Array.isArray(args) || args.length === 0 || args[0] === "" ||
    !args.every((a) => typeof a === "string")
  ) {
    throw new InvalidImageError(`${where}.args`, "must name the program to run");
  }
  if (typeof process.cwd !== "string" || !process.cwd.startsWith("/")) {
    throw new InvalidImageError(
      `${where}.cwd`,
      `${JSON.stringify(process.cwd)} is not an absolute path`,
    );
  }
  for (const [i, e] of (process.env ?? []).entries()) {
    if (typeof e !== "string" || e.indexOf("=") < 1 || e.includes("\0")) {
      throw new InvalidImageError(
        `${where}.env[${i}]`,
        `${JSON.stringify(e)} is not NAME=value`,
      );
    }
  }
  const user = process.user;
  if (typeof user !== "object" || user === null) {
    throw new InvalidImageError(`${where}.user`, "is missing");
  }
  if (!isUint32(user.uid) || !isUint32(user.gid)) {
    throw new InvalidImageError(`${where}.user`, "uid and gid must be uint32");
  }
  if (
    user.additionalGids !== undefined &&
    !(Array.isArray(user.additionalGids) && user.additionalGids.every(isUint32))
  ) {
    throw new InvalidImageError(`${where}.user.additionalGids`, "must be uint32s");
  }
  if (user.umask !== undefined && !(isUint32(user.umask) && user.umask <= 0o777)) {
    throw new InvalidImageError(`${where}.user.umask`, "must be in 0..0o777");
  }
  const size = process.consoleSize;
  if (size !== undefined && !(isUint32(size.height) && isUint32(size.width))) {
    throw new InvalidImageError(
      `${where}.consoleSize`,
      "height and width must be uint32",
    );
  }
  return process;
}

/** Validates `linux.namespaces` and the id mappings; returns the namespace types in order. */
function checkNamespaces(spec: Spec): string[] {
  const list = spec.linux?.namespaces ?? [];
  if (!Array.isArray(list)) {
    throw new InvalidImageError("config.json linux.namespaces", "must be an array");
  }
  const types: string[] = [];
  for (const [i, ns] of list.entries()) {
    const where = `config.json linux.namespaces[${i}]`;
    const type = ns?.type;
    if (!NAMESPACE_TYPES.has(type)) {
      throw new InvalidImageError(where, `unknown namespace type ${JSON.stringify(type)}`);
    }
    if (types.includes(type)) throw new InvalidImageError(where, `duplicate ${type} namespace`);
    types.push(type);
  }
  const user = list.find((ns) => ns.type === "user");
  for (const field of ["uidMappings", "gidMappings"] as const) {
    const mappings = spec.linux?.[field];
    if (mappings !== undefined && !Array.isArray(mappings)) {
      throw new InvalidImageError(`config.json linux.${field}`, "must be an array");
    }
    if (mappings?.length && !user) {
      throw new InvalidImageError(`config.json linux.${field}`, "needs a user namespace");
    }
    if (user && !user.path && !mappings?.length) {
      throw new InvalidImageError(`config.json linux.${field}`, "a new user namespace needs them");
    }
  }
  return types;
}

/** `linux.maskedPaths`/`readonlyPaths`: absolute container paths, cleaned. */
function containerPaths(paths: readonly string[] | undefined, field: string): string[] {
  if (paths !== undefined && !Array.isArray(paths)) {
    throw new InvalidImageError(`config.json linux.${field}`, "must be an array");
  }
  return (paths ?? []).map((path, i) => {
    if (typeof path !== "string" || !path.startsWith("/")) {
      throw new InvalidImageError(
        `config.json linux.${field}[${i}]`,
        `${JSON.stringify(path)} is not an absolute path`,
      );
    }
    return cleanPath(path);
  });
}

/** The seccomp op, or undefined without `linux.seccomp`. */
function planSeccomp(
  profile: LinuxSeccomp | undefined,
  ctx: PlanContext,
  warnings: string[],
): Extract<Op, { op: "seccomp" }> | undefined {
  if (profile === undefined) return undefined;
  // Running without the filter the config asks for would silently weaken the container.
  if (!ctx.compileSeccomp) {
    throw new UnsupportedError("config.json linux.seccomp: no seccomp support");
  }
  const compiled = ctx.compileSeccomp(profile);
  warnings.push(...compiled.warnings);
  return { op: "seccomp", program: toBase64(compiled.program), flags: compiled.flags };
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Config fields the plan has no operation for: said once, not silently dropped. */
function warnIgnored(spec: Spec, warnings: string[]): void {
  const process = spec.process;
  const linux = spec.linux;
  const ignored: [string, unknown][] = [
    ["process.apparmorProfile", process?.apparmorProfile],
    ["process.selinuxLabel", process?.selinuxLabel],
    ["process.scheduler", process?.scheduler],
    ["process.ioPriority", process?.ioPriority],
    ["process.execCPUAffinity", process?.execCPUAffinity],
    ["linux.mountLabel", linux?.mountLabel],
    ["linux.personality", linux?.personality],
    ["linux.memoryPolicy", linux?.memoryPolicy],
  ];
  for (const [field, value] of ignored) {
    if (value !== undefined && value !== "") {
      warnings.push(`config.json ${field} is not supported; ignored`);
    }
  }
}
