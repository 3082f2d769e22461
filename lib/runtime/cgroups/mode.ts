/**
 * Cgroup mode detection and cgroup mount discovery from `/proc/self/mountinfo` (pure parsing).
 * @module
 */
import { CgroupError } from "./errors.ts";

/**
 * How cgroups are mounted: `v1` (controller hierarchies only), `hybrid` (v1 controllers plus a
 * controller-less v2 tree, usually at `/sys/fs/cgroup/unified`) or `v2` (one unified tree).
 */
export type CgroupMode = "v1" | "hybrid" | "v2";

/** One mounted cgroup hierarchy. */
export interface CgroupMount {
  /** Absolute mount point, e.g. `/sys/fs/cgroup/memory`. */
  mountPoint: string;
  /** `true` for a cgroup2 mount. */
  v2: boolean;
  /** v1 controllers bound to this hierarchy, including `name=...` for named ones; empty on v2. */
  controllers: string[];
}

/** Every v1 controller name the kernel may list in a cgroup mount's super options. */
export const V1_CONTROLLERS: readonly string[] = [
  "cpuset",
  "cpu",
  "cpuacct",
  "blkio",
  "memory",
  "devices",
  "freezer",
  "net_cls",
  "perf_event",
  "net_prio",
  "hugetlb",
  "pids",
  "rdma",
  "misc",
  "debug",
];

/** mountinfo escapes space, tab, newline and backslash as octal `\NNN`. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Lists the `cgroup` and `cgroup2` mounts of a `/proc/self/mountinfo` text, in file order. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split("\n")) {
    // Fields: id parent major:minor root mountpoint options [optional...] - fstype source superopts
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    const fsType = right[0];
    if ((fsType !== "cgroup" && fsType !== "cgroup2") || left.length < 5) continue;
    const mountPoint = unescapeMountField(left[4]);
    if (fsType === "cgroup2") {
      out.push({ mountPoint, v2: true, controllers: [] });
      continue;
    }
    const opts = (right[2] ?? "").split(",");
    const controllers = opts.filter((o) => V1_CONTROLLERS.includes(o) || o.startsWith("name="));
    out.push({ mountPoint, v2: false, controllers });
  }
  return out;
}

/**
 * Tells the cgroup mode from a `/proc/self/mountinfo` text (read from the running system when
 * omitted): v1 controller mounts plus a cgroup2 mount is `hybrid`, only v1 is `v1`, and a cgroup2
 * mount without v1 controllers is `v2`. A lone `name=systemd` v1 mount does not count as v1.
 */
export function detectCgroupMode(mountinfo?: string): CgroupMode {
  const text = mountinfo ?? Deno.readTextFileSync("/proc/self/mountinfo");
  const mounts = parseCgroupMounts(text);
  const v1 = mounts.some((m) => !m.v2 && m.controllers.some((c) => !c.startsWith("name=")));
  const v2 = mounts.some((m) => m.v2);
  if (v1) return v2 ? "hybrid" : "v1";
  if (v2) return "v2";
  throw new CgroupError(
    "cannot detect cgroup mode from mountinfo: no cgroup or cgroup2 mount found",
  );
}
