/**
 * `mounts[]` → `mount` (and a few `symlink`) operations, with runc's special cases: bind mounts
 * remounted for their flags, sysfs and cgroup bound from the host where they cannot be mounted,
 * cgroup v1 as a tmpfs of per-hierarchy mounts, read-only tmpfs made read-only only at the end.
 * @module
 */
import { InvalidImageError, UnsupportedError } from "../../errors.ts";
import type { Mount } from "../spec/spec_types.ts";
import { parseMountOptions } from "./mount_options.ts";
import { MS, type Op } from "./ops.ts";
import { cleanPath, hostPath, isWithin } from "./paths.ts";
import type { CgroupV1Hierarchy } from "./planner.ts";

/** What mount planning needs to know about the host and the config. */
export interface MountContext {
  bundle: string;
  /** A new user namespace: sysfs/cgroup may not be mountable. */
  userns: boolean;
  /** The config has a network namespace (sysfs needs to own one). */
  netns: boolean;
  /** The config has a cgroup namespace. */
  cgroupns: boolean;
  cgroupV2: boolean;
  cgroupV1Hierarchies?: readonly CgroupV1Hierarchy[];
  /** On v2, the container's cgroup directory on the host. */
  cgroupV2Source?: string;
  isFile(path: string): boolean;
  warnings: string[];
}

/** A config mount as later steps (devices, /dev symlinks) need to see it. */
export interface PlannedMount {
  /** Clean absolute destination. */
  target: string;
  /** `type` from the config ("" when absent). */
  type: string;
  bind: boolean;
}

/** The result of {@linkcode planMounts}. */
export interface MountPlan {
  /** Before pivot_root, in config order. */
  ops: Op[];
  /**
   * Read-only remounts of tmpfs mounts and `/dev`, once nothing more is made in them (runc's
   * finalizeRootfs).
   */
  afterSetup: Op[];
  mounts: PlannedMount[];
}

// The /proc entries lxcfs emulates: the only mounts runc allows inside /proc (checkProcMount).
const PROC_ALLOWED: ReadonlySet<string> = new Set([
  "/proc/cpuinfo",
  "/proc/diskstats",
  "/proc/meminfo",
  "/proc/stat",
  "/proc/swaps",
  "/proc/uptime",
  "/proc/loadavg",
  "/proc/slabinfo",
  "/proc/net/dev",
  "/proc/sys/kernel/ns_last_pid",
]);

const CGROUP_V1_FLAGS = MS.NOSUID | MS.NOEXEC | MS.NODEV;

/**
 * Plans the config's mounts.
 *
 * @throws {InvalidImageError} for entries without a destination/type/source, mounts over `/`
 *   or inside /proc.
 * @throws {UnsupportedError} for idmapped mounts and recursive mount attributes.
 */
export function planMounts(mounts: readonly Mount[] | undefined, ctx: MountContext): MountPlan {
  if (mounts !== undefined && !Array.isArray(mounts)) {
    throw new InvalidImageError("config.json mounts", "must be an array");
  }
  const plan: MountPlan = { ops: [], afterSetup: [], mounts: [] };
  for (const [i, mount] of (mounts ?? []).entries()) planMount(mount, i, ctx, plan);
  return plan;
}

function planMount(mount: Mount, i: number, ctx: MountContext, plan: MountPlan): void {
  const where = `config.json mounts[${i}]`;
  if (typeof mount?.destination !== "string" || mount.destination === "") {
    throw new InvalidImageError(where, "has no destination");
  }
  if (mount.uidMappings !== undefined || mount.gidMappings !== undefined) {
    throw new UnsupportedError(
      `${where}: idmapped mounts (uidMappings/gidMappings) are not supported`,
    );
  }
  if (!mount.destination.startsWith("/")) {
    // runc accepts these (with a warning) and resolves them against the rootfs.
    ctx.warnings.push(
      `${where}: destination ${mount.destination} is not absolute; taken as relative to /`,
    );
  }
  const target = cleanPath(mount.destination);
  if (target === "/") throw new InvalidImageError(where, "cannot mount over the container's /");
  const type = typeof mount.type === "string" ? mount.type : "";
  const options = parseMountOptions(mount.options, where);
  if (options.copyUp) {
    ctx.warnings.push(`${where}: tmpcopyup is not supported: ${target} starts empty`);
  }
  const bind = type === "bind" || (options.flags & MS.BIND) !== 0;
  checkProcTarget(target, type, bind, where);
  plan.mounts.push({ target, type, bind });

  if (bind) {
    if (typeof mount.source !== "string" || mount.source === "") {
      throw new InvalidImageError(where, "bind mount has no source");
    }
    if (options.data !== null) {
      ctx.warnings.push(`${where}: options ${options.data} mean nothing to a bind mount; ignored`);
    }
    const source = hostPath(ctx.bundle, mount.source);
    plan.ops.push(bindOp(source, target, options.flags, options.propagation, ctx.isFile(source)));
    return;
  }
  if (type === "") throw new InvalidImageError(where, "has no type and is not a bind mount");

  if (type === "sysfs" && ctx.userns && !ctx.netns) {
    // sysfs can only be mounted by the owner of the network namespace: use the host's (runc).
    plan.ops.push(bindOp("/sys", target, options.flags | MS.REC, options.propagation, false));
    return;
  }
  if (type === "cgroup") return planCgroup(target, options, ctx, plan);

  let flags = options.flags;
  if ((type === "tmpfs" || target === "/dev") && flags & MS.RDONLY) {
    // Mounted writable so device nodes and nested mount points can still be made in it.
    flags &= ~MS.RDONLY;
    plan.afterSetup.push(remountOp(target, options.flags));
  }
  plan.ops.push({
    op: "mount",
    source: typeof mount.source === "string" ? mount.source : null,
    target,
    fstype: type,
    flags,
    data: options.data,
    kind: "dir",
    propagation: options.propagation,
  });
}

/** Only a proc file system on /proc, and nothing inside it but what lxcfs provides. */
function checkProcTarget(target: string, type: string, bind: boolean, where: string): void {
  if (target === "/proc") {
    if (bind || type !== "proc") {
      throw new InvalidImageError(where, "only a proc file system may be mounted on /proc");
    }
  } else if (isWithin(target, "/proc") && !PROC_ALLOWED.has(target)) {
    throw new InvalidImageError(where, `${target} is inside /proc: not allowed`);
  }
}

/**
 * A bind mount. mount(2) ignores every flag but MS_REC when binding, so the others (ro, nosuid
 * ...) are applied by a second, remounting call.
 */
function bindOp(
  source: string,
  target: string,
  flags: number,
  propagation: number[],
  file: boolean,
): Op {
  const extra = flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  return {
    op: "mount",
    source,
    target,
    fstype: null,
    flags: MS.BIND | (flags & MS.REC),
    data: null,
    kind: file ? "file" : "dir",
    propagation,
    ...(extra ? { remountFlags: extra } : {}),
  };
}

/** A remount of the mount at `target` with `flags` (for read-only-after-setup mounts). */
function remountOp(target: string, flags: number): Op {
  return {
    op: "mount",
    source: null,
    target,
    fstype: null,
    flags: MS.REMOUNT | MS.BIND | (flags & ~(MS.BIND | MS.REC | MS.REMOUNT)),
    data: null,
    kind: "dir",
    propagation: [],
  };
}

function planCgroup(
  target: string,
  options: ReturnType<typeof parseMountOptions>,
  ctx: MountContext,
  plan: MountPlan,
): void {
  if (ctx.cgroupV2) {
    // A fresh cgroup2 mount shows the cgroup namespace's root: the container's cgroup when it
    // has a namespace of its own. Without one (and in a user namespace, where the kernel
    // refuses cgroup2 unless it owns the cgroup namespace) the container's own directory is
    // bound from the host instead of showing the host's whole tree.
    if (ctx.cgroupns && !ctx.userns) {
      plan.ops.push({
        op: "mount",
        source: "cgroup",
        target,
        fstype: "cgroup2",
        flags: options.flags,
        data: options.data,
        kind: "dir",
        propagation: options.propagation,
      });
    } else {
      plan.ops.push(
        bindOp(
          ctx.cgroupV2Source ?? "/sys/fs/cgroup",
          target,
          options.flags | MS.BIND | MS.REC,
          options.propagation,
          false,
        ),
      );
    }
    return;
  }
  // v1: a tmpfs holding one mount per host hierarchy, like the host's /sys/fs/cgroup. Each
  // shows the container's own cgroup: with a cgroup namespace a fresh mount's root is the
  // namespace's (the container's cgroup); without one, and in a user namespace (which may not
  // mount v1 hierarchies), the container's directory is bound from the host, as runc does.
  plan.ops.push({
    op: "mount",
    source: "tmpfs",
    target,
    fstype: "tmpfs",
    flags: CGROUP_V1_FLAGS,
    data: "mode=755",
    kind: "dir",
    propagation: options.propagation,
  });
  const hierarchies = ctx.cgroupV1Hierarchies ?? [];
  if (hierarchies.length === 0) {
    ctx.warnings.push(`no cgroup v1 hierarchies known: ${target} stays empty`);
  }
  const links: Op[] = [];
  for (const { controllers: hierarchy, source } of hierarchies) {
    const named = hierarchy.startsWith("name=") ? hierarchy.slice(5) : undefined;
    const dir = named ?? hierarchy;
    if (dir === "" || dir === "." || dir === ".." || dir.includes("/")) {
      ctx.warnings.push(`cgroup v1 hierarchy ${JSON.stringify(hierarchy)} skipped: bad name`);
      continue;
    }
    plan.ops.push(
      ctx.userns || !ctx.cgroupns
        ? bindOp(
          source,
          `${target}/${dir}`,
          MS.BIND | MS.REC | CGROUP_V1_FLAGS | (options.flags & MS.RDONLY),
          [],
          false,
        )
        : {
          op: "mount",
          source: named ?? "cgroup",
          target: `${target}/${dir}`,
          fstype: "cgroup",
          flags: CGROUP_V1_FLAGS | (options.flags & MS.RDONLY),
          data: named === undefined ? hierarchy : `none,name=${named}`,
          kind: "dir",
          propagation: [],
        },
    );
    // Co-mounted controllers are reachable under each name, as on the host (cpu -> cpu,cpuacct).
    if (named === undefined && hierarchy.includes(",")) {
      for (const name of hierarchy.split(",")) {
        if (name && !name.startsWith("name=")) {
          links.push({ op: "symlink", path: `${target}/${name}`, target: hierarchy });
        }
      }
    }
  }
  // The tmpfs itself stays writable, as runc leaves it; the hierarchies carry `ro`.
  plan.ops.push(...links);
}
