/**
 * The cgroup.procs file of a cgroup path in every mounted hierarchy: a process moves itself in
 * by writing "0" there, which is how a child that runs no JS joins the container's cgroup.
 * @module
 */
import { parseCgroupMounts } from "./mode.ts";

/** Every existing `<mount>/<path>/cgroup.procs` (v1 hierarchies and the v2 tree). */
export function cgroupProcsFiles(path: string, mountinfo?: string): string[] {
  const text = mountinfo ?? Deno.readTextFileSync("/proc/self/mountinfo");
  const files: string[] = [];
  for (const m of parseCgroupMounts(text)) {
    const file = `${m.mountPoint}${path === "/" ? "" : path}/cgroup.procs`;
    try {
      if (Deno.statSync(file).isFile) files.push(file);
    } catch { /* not in this hierarchy */ }
  }
  return files;
}
