/**
 * Resolution of the spec's `linux.cgroupsPath` to one absolute cgroup path (pure apart from the
 * optional reads of `/proc/self/cgroup` and `/proc/self/mountinfo`).
 * @module
 */
import { CgroupError } from "./errors.ts";
import { type CgroupMode, detectCgroupMode } from "./mode.ts";

/** Slice used when a systemd-style cgroupsPath leaves the slice empty (runc's default too). */
export const DEFAULT_SYSTEMD_SLICE = "system.slice";
/** Scope prefix used when no cgroupsPath is given with the systemd driver. */
export const DEFAULT_SCOPE_PREFIX = "ocibox";

/**
 * Normalizes an absolute cgroup path: collapses `//` and `.`, drops a trailing `/`, and rejects
 * `..` (which could escape the hierarchy) and relative input.
 */
export function cleanCgroupPath(path: string): string {
  if (!path.startsWith("/")) {
    throw new CgroupError(`invalid cgroup path ${JSON.stringify(path)}: must be absolute`);
  }
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) {
    throw new CgroupError(`invalid cgroup path ${JSON.stringify(path)}: ".." is not allowed`);
  }
  return "/" + parts.join("/");
}

/**
 * Expands a systemd slice name to its cgroupfs path the way systemd nests slices:
 * `a-b.slice` → `/a.slice/a-b.slice`, `-.slice` → `/`.
 */
export function expandSlice(slice: string): string {
  const bad = (why: string) =>
    new CgroupError(`invalid systemd slice ${JSON.stringify(slice)}: ${why}`);
  if (!slice.endsWith(".slice")) throw bad('must end in ".slice"');
  if (slice.includes("/")) throw bad('must not contain "/"');
  if (slice === "-.slice") return "/";
  const base = slice.slice(0, -".slice".length);
  if (base === "" || base.includes("--") || base.startsWith("-") || base.endsWith("-")) {
    throw bad('empty, leading, trailing or doubled "-"');
  }
  let path = "";
  let prefix = "";
  for (const part of base.split("-")) {
    prefix = prefix === "" ? part : `${prefix}-${part}`;
    path += `/${prefix}.slice`;
  }
  return path;
}

/**
 * Picks the runtime's own cgroup from a `/proc/self/cgroup` text. On v2 this is the parent of the
 * unified entry: the own cgroup usually holds processes, and v2 forbids enabling controllers for
 * children of a populated cgroup. On v1/hybrid there is one path per controller but the manager
 * uses one path everywhere, so the `name=systemd` entry (else the first controller entry) wins.
 */
export function ownCgroup(procSelfCgroup: string, mode: CgroupMode): string {
  const entries = procSelfCgroup.split("\n").filter((l) => l !== "").map((l) => {
    const first = l.indexOf(":");
    const second = l.indexOf(":", first + 1);
    return { controllers: l.slice(first + 1, second).split(","), path: l.slice(second + 1) };
  });
  const unified = entries.find((e) => e.controllers.length === 1 && e.controllers[0] === "");
  if (mode === "v2") {
    if (!unified) {
      throw new CgroupError("cannot find own cgroup: /proc/self/cgroup has no 0:: entry on v2");
    }
    const p = cleanCgroupPath(unified.path || "/");
    return p === "/" ? "/" : p.slice(0, p.lastIndexOf("/")) || "/";
  }
  const pick = entries.find((e) => e.controllers.includes("name=systemd")) ??
    entries.find((e) => e.controllers[0] !== "") ?? unified;
  if (!pick) throw new CgroupError("cannot find own cgroup: /proc/self/cgroup is empty");
  return cleanCgroupPath(pick.path || "/");
}

/** Options of {@link resolveCgroupsPath}. */
export interface ResolveOptions {
  /** Interpret the value as systemd's `slice:prefix:name` and map it to its cgroupfs path. */
  systemd: boolean;
  /** `/proc/self/cgroup` text for relative paths; read from the system when omitted. */
  procSelfCgroup?: string;
  /** Cgroup mode for relative paths; detected when omitted. */
  mode?: CgroupMode;
}

/**
 * Resolves `linux.cgroupsPath` to the absolute path used in every hierarchy (runc semantics):
 * - cgroupfs, absolute: taken as is (relative to each hierarchy's root);
 * - cgroupfs, relative: joined to the runtime's own cgroup (see {@link ownCgroup});
 * - cgroupfs, missing/empty: the container id as a relative path, as runc does;
 * - systemd `slice:prefix:name`: `<expanded slice>/<prefix>-<name>.scope` (a name ending in
 *   `.slice` is used as is); missing/empty means `system.slice:ocibox:<id>`.
 */
export function resolveCgroupsPath(
  cgroupsPath: string | undefined,
  id: string,
  opts: ResolveOptions,
): string {
  if (opts.systemd) {
    const value = cgroupsPath || `:${DEFAULT_SCOPE_PREFIX}:${id}`;
    const parts = value.split(":");
    if (parts.length !== 3 || parts[2] === "" || parts[2].includes("/")) {
      throw new CgroupError(
        `invalid systemd cgroupsPath ${JSON.stringify(value)}: expected "slice:prefix:name"`,
      );
    }
    const [slice, prefix, name] = parts;
    const unit = name.endsWith(".slice")
      ? name
      : prefix
      ? `${prefix}-${name}.scope`
      : `${name}.scope`;
    const parent = expandSlice(slice || DEFAULT_SYSTEMD_SLICE);
    return cleanCgroupPath(`${parent}/${unit}`);
  }
  const inner = cgroupsPath || id;
  if (inner.startsWith("/")) return cleanCgroupPath(inner);
  const mode = opts.mode ?? detectCgroupMode();
  const self = opts.procSelfCgroup ?? Deno.readTextFileSync("/proc/self/cgroup");
  return cleanCgroupPath(`${ownCgroup(self, mode)}/${inner}`);
}
