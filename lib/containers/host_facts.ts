/**
 * The facts about this host that `containerSpec` needs (architecture, cgroup mode, the
 * caller's bounding set and hard limits, kernel, hostname), and the host's device nodes for
 * `--privileged`. The parsers are pure and exported for tests; the readers do the I/O.
 * @module
 */
import { UnsupportedError } from "../errors.ts";
import { CAPABILITIES } from "../runtime/plan/capabilities.ts";
import type { LinuxDevice } from "../runtime/spec/spec_types.ts";
import type { HostFacts } from "./container_spec.ts";

/**
 * The capability names of a `CapBnd:` (or any `Cap*:`) line of `/proc/self/status`.
 *
 * @example
 * ```ts
 * import { capabilitiesOf } from "./host_facts.ts";
 * capabilitiesOf("Name:\tx\nCapBnd:\t0000000000000401\n", "CapBnd"); // ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]
 * ```
 */
export function capabilitiesOf(status: string, field = "CapBnd"): string[] | undefined {
  const m = new RegExp(`^${field}:\\s*([0-9a-fA-F]+)$`, "m").exec(status);
  if (!m) return undefined;
  const mask = BigInt(`0x${m[1]}`);
  return CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

/**
 * The hard limits of `/proc/self/limits` for open files and processes (`undefined` when
 * unlimited or missing).
 *
 * @example
 * ```ts
 * import { hardLimitsOf } from "./host_facts.ts";
 * hardLimitsOf("Max processes   96367   96367   processes\nMax open files  1024  20000  files\n");
 * // { nofile: 20000, nproc: 96367 }
 * ```
 */
export function hardLimitsOf(limits: string): { nofile?: number; nproc?: number } {
  const hard = (label: string) => {
    const m = new RegExp(`^${label}\\s+(\\S+)\\s+(\\S+)`, "m").exec(limits);
    return m && /^\d+$/.test(m[2]) ? Number(m[2]) : undefined;
  };
  return { nofile: hard("Max open files"), nproc: hard("Max processes") };
}

function readOr(path: string, fallback: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return fallback;
  }
}

/**
 * Reads this host's facts for `containerSpec`.
 *
 * @throws {UnsupportedError} the host is neither x86_64 nor aarch64.
 */
export function readHostFacts(): HostFacts {
  const arch = Deno.build.arch;
  if (arch !== "x86_64" && arch !== "aarch64") {
    throw new UnsupportedError(`containers on ${arch} are not supported (x86_64 and aarch64 are)`);
  }
  let cgroupV2 = false;
  try {
    cgroupV2 = Deno.statSync("/sys/fs/cgroup/cgroup.controllers").isFile;
  } catch { /* v1 or hybrid */ }
  const uid = Deno.uid() ?? 0;
  let hostname = "localhost";
  try {
    hostname = Deno.hostname();
  } catch { /* no --allow-sys */ }
  let kernel: string | undefined;
  try {
    kernel = Deno.osRelease();
  } catch { /* no --allow-sys */ }
  return {
    arch,
    cgroupV2,
    rootless: uid !== 0,
    hostname,
    boundingCapabilities: capabilitiesOf(readOr("/proc/self/status", "")),
    rlimitCeilings: hardLimitsOf(readOr("/proc/self/limits", "")),
    kernel,
    uid,
    gid: Deno.gid() ?? 0,
  };
}

/** Directories of /dev whose nodes are not the host's devices (runc's HostDevices skips them). */
const SKIPPED_DIRS = new Set(["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]);

/**
 * Every character and block device under `/dev`, for `--privileged` (as podman adds them):
 * not /dev/console, nothing under pts, shm, fd or mqueue, no symlinks. `fileMode` is the full
 * `st_mode`, as podman writes it.
 */
export function hostDevices(root = "/dev"): LinuxDevice[] {
  const out: LinuxDevice[] = [];
  const walk = (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) {
        if (!(dir === root && SKIPPED_DIRS.has(e.name))) walk(path);
        continue;
      }
      if (e.isSymlink || path === `${root}/console`) continue;
      let st: Deno.FileInfo;
      try {
        st = Deno.lstatSync(path);
      } catch {
        continue;
      }
      if (!st.isCharDevice && !st.isBlockDevice) continue;
      const { major, minor } = splitDev(st.rdev ?? 0);
      out.push({
        path: `/dev${path.slice(root.length)}`,
        type: st.isCharDevice ? "c" : "b",
        major,
        minor,
        fileMode: st.mode ?? 0o20600,
        uid: st.uid ?? 0,
        gid: st.gid ?? 0,
      });
    }
  };
  walk(root);
  return out;
}

/** glibc's major()/minor() of a 64-bit dev_t held in a number. */
export function splitDev(dev: number): { major: number; minor: number } {
  const lo = dev % 2 ** 32;
  const hi = Math.floor(dev / 2 ** 32);
  return {
    major: (((lo >>> 8) & 0xfff) | (hi & ~0xfff)) >>> 0,
    minor: ((lo & 0xff) | (((lo >>> 12) | (hi << 20)) & ~0xff)) >>> 0,
  };
}
