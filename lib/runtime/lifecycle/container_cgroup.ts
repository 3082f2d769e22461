/**
 * The container's cgroup as create makes it: the path resolved from config.json, the device
 * rules completed as runc completes them, and what the planner needs to know of the host.
 * @module
 */
import type { CgroupManager } from "../cgroups/manager.ts";
import type { CgroupV1Hierarchy } from "../plan/planner.ts";
import type { LinuxResources, Spec } from "../spec/spec_types.ts";

/**
 * What a `cgroup` mount in the container shows of the host's hierarchies: each v1 hierarchy
 * (its controllers) and, on v2, the unified tree, with the container's own directory in it
 * (`cgroupPath`, or where the runtime itself is when the container has no cgroup).
 */
export async function cgroupSources(
  cgroupPath: string | undefined,
): Promise<{ v1: CgroupV1Hierarchy[]; v2?: string }> {
  const { parseCgroupMounts } = await import("../cgroups/mode.ts");
  let mounts;
  try {
    mounts = parseCgroupMounts(Deno.readTextFileSync("/proc/self/mountinfo"));
  } catch {
    return { v1: [] };
  }
  const own = ownPaths();
  const dir = (mountPoint: string, controllers: string) => {
    const path = cgroupPath ?? own.get(controllers) ?? "/";
    return path === "/" ? mountPoint : mountPoint + path;
  };
  const v2 = mounts.find((m) => m.v2);
  return {
    v1: mounts.filter((m) => !m.v2 && m.controllers.length).map((m) => {
      const controllers = m.controllers.join(",");
      return { controllers, source: dir(m.mountPoint, controllers) };
    }),
    v2: v2 ? dir(v2.mountPoint, "") : undefined,
  };
}

/** This process's cgroup per hierarchy (controllers as /proc/self/cgroup lists them). */
function ownPaths(): Map<string, string> {
  const out = new Map<string, string>();
  try {
    for (const line of Deno.readTextFileSync("/proc/self/cgroup").split("\n")) {
      const first = line.indexOf(":"), second = line.indexOf(":", first + 1);
      if (second < 0) continue;
      out.set(line.slice(first + 1, second), line.slice(second + 1));
    }
  } catch { /* no /proc: the roots */ }
  return out;
}

/** Creates the container's cgroup (none for a rootless runtime that may not, with no limits). */
export async function openCgroup(
  spec: Spec,
  id: string,
  systemd: boolean,
  rootless: boolean,
): Promise<CgroupManager | undefined> {
  const { cgroupManager, resolveCgroupsPath } = await import("../cgroups/manager.ts");
  const path = resolveCgroupsPath(spec.linux?.cgroupsPath, id, { systemd });
  const manager = cgroupManager(path);
  try {
    manager.create();
  } catch (e) {
    // An unprivileged user without a delegated cgroup runs without one, like rootless runc.
    if (rootless && !spec.linux?.resources) return undefined;
    throw e;
  }
  return manager;
}

/**
 * The cgroup device rules: the config's, then (as runc does) access to the default devices,
 * the pty devices and every device node in linux.devices, so a deny-all list still lets the
 * container make and use them.
 */
export function withDeviceDefaults(spec: Spec): LinuxResources | undefined {
  const r = spec.linux?.resources;
  if (!r?.devices?.length) return r;
  const allow = (
    type: string,
    major: number | undefined,
    minor: number | undefined,
    access = "rwm",
  ) => ({
    allow: true,
    type,
    major,
    minor,
    access,
  });
  const defaults = [
    allow("c", undefined, undefined, "m"),
    allow("b", undefined, undefined, "m"),
    allow("c", 1, 3),
    allow("c", 1, 5),
    allow("c", 1, 7),
    allow("c", 1, 8),
    allow("c", 1, 9),
    allow("c", 5, 0),
    allow("c", 5, 1),
    allow("c", 5, 2),
    allow("c", 136, undefined),
    // A FIFO is no device: the devices cgroup has no rule for it (nor needs one).
    ...(spec.linux?.devices ?? []).filter((d) => d.type !== "p").map((d) =>
      allow(d.type === "u" ? "c" : d.type, d.major, d.minor)
    ),
  ];
  return { ...r, devices: [...r.devices, ...defaults] };
}

/** Whether the host runs the unified hierarchy only. */
export function isCgroupV2(): boolean {
  try {
    return Deno.statSync("/sys/fs/cgroup/cgroup.controllers").isFile;
  } catch {
    return false;
  }
}
