/**
 * The container's cgroup as create makes it: the path resolved from config.json, the device
 * rules completed as runc completes them, and what the planner needs to know of the host.
 * @module
 */
import type { CgroupManager } from "../cgroups/manager.ts";
import type { LinuxResources, Spec } from "../spec_types.ts";

/** The host's cgroup v1 hierarchies (their controller lists), for the planner's cgroup mount. */
export async function cgroupV1Controllers(): Promise<string[]> {
  const { parseCgroupMounts } = await import("../cgroups/mode.ts");
  try {
    return parseCgroupMounts(Deno.readTextFileSync("/proc/self/mountinfo"))
      .filter((m) => !m.v2 && m.controllers.length)
      .map((m) => m.controllers.join(","));
  } catch {
    return [];
  }
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
 * the pty devices and every device in linux.devices, so a deny-all list still lets the
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
    ...(spec.linux?.devices ?? []).map((d) =>
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
