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
 * import { defaultSpec } from "../default_spec.ts";
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
import type { LinuxSeccomp, Process, Spec } from "../spec_types.ts";
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
   * cgroup v1 hierarchies mounted on the host, e.g. `["cpu,cpuacct", "memory", "name=systemd"]`:
   * what a `cgroup` mount shows on v1.
   */
  cgroupV1Controllers?: string[];
  /** Whether a host path is a regular file (bind mount of a file). */
  isFile(path: string): boolean;
  /** With `process.terminal`, init makes a pty and sends its master over this socket. */
  consoleSocketFd?: number;
  /** run = create + start: `waitStart` is still planned; init does not wait at it. */
  startNow?: boolean;
  /** Compiles `linux.seccomp` into a BPF program (injected so the planner stays pure). */
  compileSeccomp?: (
    profile: LinuxSeccomp,
  ) => { program: Uint8Array; flags: number; warnings: string[] };
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

/**
 * Plans the container described by `spec`.
 *
 * @throws {InvalidImageError} for invalid configs (`what` names the field, e.g.
 *   `config.json mounts[2]`).
 * @throws {UnsupportedError} for valid configs ocibox does not run (idmapped mounts, recursive
 *   mount attributes, no mount namespace, seccomp without a compiler, extra groups rootless).
 */
export function planContainer(spec: Spec, ctx: PlanContext): Plan {
  if (!ctx.bundle.startsWith("/")) throw new TypeError("PlanContext.bundle must be absolute");
  const warnings: string[] = [];
  const ops: Op[] = [];
  const linux = spec.linux ?? {};
  const process = checkProcess(spec.process);
  const namespaces = checkNamespaces(spec);
  const nsSet = new Set(namespaces);
  warnIgnored(spec, warnings);

  if (typeof spec.root?.path !== "string" || spec.root.path === "") {
    throw new InvalidImageError("config.json root.path", "is missing");
  }
  const rootfs = hostPath(ctx.bundle, spec.root.path);

  // 1-2. Keep the container's mounts from reaching the host, make the rootfs a mount point.
  let rootFlags = MS.REC | MS.SLAVE;
  if (linux.rootfsPropagation !== undefined) {
    const flags = rootPropagationFlags(String(linux.rootfsPropagation));
    if (flags === undefined) {
      throw new InvalidImageError(
        "config.json linux.rootfsPropagation",
        `unknown propagation ${JSON.stringify(linux.rootfsPropagation)}`,
      );
    }
    rootFlags = flags;
  }
  if (linux.namespaces?.some((n) => n.type === "cgroup" && !n.path)) {
    ops.push({ op: "cgroupNamespace" });
  }
  ops.push({ op: "propagation", target: "/", flags: rootFlags });
  ops.push({ op: "bindRootfs", rootfs });

  // 3-4. Mounts, then /dev.
  const mounts = planMounts(spec.mounts, {
    bundle: ctx.bundle,
    userns: ctx.userns,
    netns: nsSet.has("network"),
    cgroupns: nsSet.has("cgroup"),
    cgroupV2: ctx.cgroupV2,
    cgroupV1Controllers: ctx.cgroupV1Controllers,
    isFile: (p) => ctx.isFile(p),
    warnings,
  });
  ops.push(...mounts.ops);
  ops.push(...planDevices(linux.devices, mounts.mounts, { userns: ctx.userns, warnings }));

  // 5-6. Hooks (prestart, createRuntime, createContainer) run before pivot_root.
  ops.push({ op: "sync", point: "createRuntime" });
  ops.push({ op: "pivotRoot", rootfs, noPivot: !!ctx.noPivot });
  ops.push(...mounts.afterPivot);

  // 7. Kernel parameters and names, before /proc/sys turns read-only.
  ops.push(...planSysctl(linux.sysctl, nsSet));
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

  // 8. Restrictions.
  for (const path of containerPaths(linux.readonlyPaths, "readonlyPaths")) {
    ops.push({ op: "readonly", path });
  }
  for (const path of containerPaths(linux.maskedPaths, "maskedPaths")) {
    ops.push({ op: "mask", path });
  }
  if (spec.root.readonly) ops.push({ op: "readonlyRoot" });

  // 9. Console (without a socket the caller decides what the terminal is).
  if (process.terminal && ctx.consoleSocketFd !== undefined) {
    const size = process.consoleSize;
    ops.push({
      op: "console",
      socketFd: ctx.consoleSocketFd,
      ...(size ? { rows: size.height, cols: size.width } : {}),
    });
  }

  // 10. Limits.
  ops.push(...planRlimits(process.rlimits, warnings));
  if (process.oomScoreAdj !== undefined) {
    const value = process.oomScoreAdj;
    if (!Number.isInteger(value) || value < -1000 || value > 1000) {
      throw new InvalidImageError("config.json process.oomScoreAdj", "must be in -1000..1000");
    }
    ops.push({ op: "oomScoreAdj", value });
  }

  // 11. Without NNP, loading a filter needs CAP_SYS_ADMIN: load it before dropping privileges.
  // With NNP, load it as late as possible so init's own syscalls need not be allowed.
  const nnp = process.noNewPrivileges === true;
  const seccomp = planSeccomp(linux.seccomp, ctx, warnings);
  if (nnp) ops.push({ op: "noNewPrivileges" });
  if (seccomp && !nnp) ops.push(seccomp);

  // 12-13. Privileges: the bounding set needs CAP_SETPCAP, so it goes first; keepCaps carries
  // the permitted set across the uid change, then the final sets are applied.
  const caps = capabilityMasks(process.capabilities, warnings);
  ops.push({ op: "dropBounding", keep: caps.bounding });
  ops.push({ op: "keepCaps", on: true });
  const gids = process.user.additionalGids ?? [];
  if (ctx.rootless && ctx.userns) {
    // The runtime writes "deny" to /proc/<pid>/setgroups: setgroups(2) always fails there.
    if (gids.length) {
      throw new UnsupportedError(
        "config.json process.user.additionalGids: a rootless container cannot have additional groups",
      );
    }
  } else ops.push({ op: "setgroups", gids: [...gids] });
  ops.push({ op: "setresgid", gid: process.user.gid });
  ops.push({ op: "setresuid", uid: process.user.uid });
  ops.push({ op: "keepCaps", on: false });
  ops.push({
    op: "capabilities",
    effective: caps.effective,
    permitted: caps.permitted,
    inheritable: caps.inheritable,
    ambient: caps.ambient,
  });

  // 14. Process environment.
  ops.push({ op: "chdir", path: process.cwd });
  ops.push({ op: "umask", mask: process.user.umask ?? 0o022 });
  ops.push({ op: "closeFds", preserve: ctx.preserveFds ?? 0 });

  // 15. Start.
  ops.push({ op: "waitStart" });
  if (seccomp && nnp) ops.push(seccomp);
  const args = process.args!;
  ops.push({ op: "exec", path: args[0], args: [...args], env: [...(process.env ?? [])] });

  return { ops, namespaces, warnings };
}

/** Validates `process` (what the plan reads from it) and returns it. */
function checkProcess(process: Process | undefined): Process {
  if (typeof process !== "object" || process === null) {
    throw new InvalidImageError("config.json process", "is missing");
  }
  const args = process.args;
  if (
    !Array.isArray(args) || args.length === 0 || args[0] === "" ||
    !args.every((a) => typeof a === "string")
  ) {
    throw new InvalidImageError("config.json process.args", "must name the program to run");
  }
  if (typeof process.cwd !== "string" || !process.cwd.startsWith("/")) {
    throw new InvalidImageError(
      "config.json process.cwd",
      `${JSON.stringify(process.cwd)} is not an absolute path`,
    );
  }
  for (const [i, e] of (process.env ?? []).entries()) {
    if (typeof e !== "string" || e.indexOf("=") < 1 || e.includes("\0")) {
      throw new InvalidImageError(
        `config.json process.env[${i}]`,
        `${JSON.stringify(e)} is not NAME=value`,
      );
    }
  }
  const user = process.user;
  if (typeof user !== "object" || user === null) {
    throw new InvalidImageError("config.json process.user", "is missing");
  }
  if (!isUint32(user.uid) || !isUint32(user.gid)) {
    throw new InvalidImageError("config.json process.user", "uid and gid must be uint32");
  }
  if (
    user.additionalGids !== undefined &&
    !(Array.isArray(user.additionalGids) && user.additionalGids.every(isUint32))
  ) {
    throw new InvalidImageError("config.json process.user.additionalGids", "must be uint32s");
  }
  if (user.umask !== undefined && !(isUint32(user.umask) && user.umask <= 0o777)) {
    throw new InvalidImageError("config.json process.user.umask", "must be in 0..0o777");
  }
  const size = process.consoleSize;
  if (size !== undefined && !(isUint32(size.height) && isUint32(size.width))) {
    throw new InvalidImageError(
      "config.json process.consoleSize",
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
  if (!types.includes("mount")) {
    // Every mount operation would land in the host's mount namespace.
    throw new UnsupportedError("config.json linux.namespaces: a mount namespace is required");
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
): Op | undefined {
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
