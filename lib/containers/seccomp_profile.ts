/**
 * Seccomp profiles in the format of containers-common and Docker (`seccomp.json`): rules carry
 * `includes`/`excludes` conditions on the container's capabilities, architecture and kernel, and
 * the profile an `archMap`. Resolving one for a container gives the plain OCI `linux.seccomp`
 * section, as podman does before it writes `config.json`. Plain OCI profiles (no conditions)
 * resolve to themselves, so `--security-opt seccomp=FILE` takes either. Pure.
 *
 * Resolution, as containers/common's `pkg/seccomp` does it:
 * - a rule is kept when every capability in `includes.caps` is in the container's bounding set,
 *   its `includes.arches` (Go names: `amd64`, `arm64`, `x32`, `386`/`x86`, `arm`) is empty or
 *   holds the native one, and the kernel is at least `includes.minKernel`; and when none of
 *   `excludes.caps` is in the set and `excludes.arches` does not hold the native arch;
 * - `architectures` = the native arch and its `subArchitectures` from `archMap`, or the
 *   profile's own `architectures`;
 * - `errnoRet` is kept, `valueTwo` only when non-zero, `args` only when non-empty; comments,
 *   `errno` names and the conditions are dropped.
 *
 * @example
 * ```ts
 * import { resolveSeccompProfile } from "./seccomp_profile.ts";
 * const linux = resolveSeccompProfile({
 *   defaultAction: "SCMP_ACT_ERRNO",
 *   syscalls: [
 *     { names: ["read"], action: "SCMP_ACT_ALLOW" },
 *     { names: ["chroot"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_CHROOT"] } },
 *   ],
 * }, { arch: "x86_64", capabilities: [] });
 * console.log(linux.syscalls?.length); // 1
 * ```
 * @module
 */
import { InvalidImageError } from "../errors.ts";
import type {
  LinuxSeccomp,
  LinuxSeccompArg,
  LinuxSyscall,
  SeccompAction,
  SeccompArch,
  SeccompFlag,
} from "../runtime/spec/spec_types.ts";

/** Conditions of a rule (containers-common / Docker profile format). */
export interface SeccompConditions {
  /** Capability names such as `CAP_SYS_ADMIN`. */
  caps?: string[] | null;
  /** Go architecture names: `amd64`, `arm64`, `x32`, `x86`, `arm` ... */
  arches?: string[] | null;
  /** A kernel version such as `4.8`. */
  minKernel?: string | null;
}

/** One rule of a containers-format profile. */
export interface SeccompRuleTemplate {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  /** An errno name (`EPERM`), used when `errnoRet` is absent. */
  errno?: string;
  args?: LinuxSeccompArg[] | null;
  includes?: SeccompConditions | null;
  excludes?: SeccompConditions | null;
  comment?: string;
}

/** A containers-format profile; a plain OCI `linux.seccomp` object is one too. */
export interface SeccompProfileTemplate {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  defaultErrno?: string;
  architectures?: SeccompArch[] | null;
  archMap?: { architecture: SeccompArch; subArchitectures?: SeccompArch[] | null }[] | null;
  flags?: SeccompFlag[] | null;
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompRuleTemplate[] | null;
}

/** What a profile is resolved for. */
export interface SeccompTarget {
  /** The architecture the container runs on. */
  arch: "x86_64" | "aarch64";
  /** The container's bounding capabilities (`CAP_*`). */
  capabilities: readonly string[];
  /** The running kernel's release (`6.1.0-13-amd64`); `minKernel` conditions hold when absent. */
  kernel?: string;
}

/** The Go name (as used in `arches` conditions) and libseccomp name of each native arch. */
const NATIVE: Readonly<Record<SeccompTarget["arch"], { go: string; scmp: SeccompArch }>> = {
  x86_64: { go: "amd64", scmp: "SCMP_ARCH_X86_64" },
  aarch64: { go: "arm64", scmp: "SCMP_ARCH_AARCH64" },
};

/** errno names a profile may use instead of numbers (the ones Docker's and podman's use). */
const ERRNO_NAMES: Readonly<Record<string, number>> = {
  EPERM: 1,
  ENOENT: 2,
  EACCES: 13,
  EFAULT: 14,
  EINVAL: 22,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
};

/**
 * Resolves `profile` for a container (see the module doc).
 *
 * @throws {InvalidImageError} the profile is not an object with `defaultAction`, a rule has no
 *   names, or an errno name is unknown.
 * @example
 * ```ts
 * import { resolveSeccompProfile } from "./seccomp_profile.ts";
 * resolveSeccompProfile(
 *   { defaultAction: "SCMP_ACT_ALLOW", archMap: [{ architecture: "SCMP_ARCH_X86_64",
 *     subArchitectures: ["SCMP_ARCH_X32"] }] },
 *   { arch: "x86_64", capabilities: [] },
 * ).architectures; // ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]
 * ```
 */
export function resolveSeccompProfile(
  profile: SeccompProfileTemplate,
  target: SeccompTarget,
): LinuxSeccomp {
  const where = "seccomp profile";
  if (typeof profile !== "object" || profile === null || Array.isArray(profile)) {
    throw new InvalidImageError(where, "must be a JSON object");
  }
  if (typeof profile.defaultAction !== "string") {
    throw new InvalidImageError(where, "defaultAction is missing");
  }
  const native = NATIVE[target.arch];
  const caps = new Set(target.capabilities);
  const out: LinuxSeccomp = { defaultAction: profile.defaultAction };
  const defaultErrno = errnoOf(profile.defaultErrnoRet, profile.defaultErrno, where);
  if (defaultErrno !== undefined) out.defaultErrnoRet = defaultErrno;

  const archMap = profile.archMap ?? [];
  if (archMap.length > 0) {
    const entry = archMap.find((a) => a.architecture === native.scmp);
    if (entry) out.architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];
  } else if (profile.architectures && profile.architectures.length > 0) {
    out.architectures = [...profile.architectures];
  }
  if (profile.flags && profile.flags.length > 0) out.flags = [...profile.flags];
  if (profile.listenerPath !== undefined) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata !== undefined) out.listenerMetadata = profile.listenerMetadata;

  const syscalls: LinuxSyscall[] = [];
  (profile.syscalls ?? []).forEach((rule, i) => {
    const at = `${where}: syscalls[${i}]`;
    if (!Array.isArray(rule?.names) || rule.names.length === 0) {
      throw new InvalidImageError(at, "names must list at least one syscall");
    }
    if (!applies(rule, native.go, caps, target.kernel)) return;
    const call: LinuxSyscall = { names: [...rule.names], action: rule.action };
    const errno = errnoOf(rule.errnoRet, rule.errno, at);
    if (errno !== undefined) call.errnoRet = errno;
    if (rule.args && rule.args.length > 0) {
      call.args = rule.args.map((a) => {
        const arg: LinuxSeccompArg = { index: a.index, value: a.value, op: a.op };
        if (a.valueTwo) arg.valueTwo = a.valueTwo;
        return arg;
      });
    }
    syscalls.push(call);
  });
  out.syscalls = syscalls;
  return out;
}

/** Whether a rule's conditions hold for the container. */
function applies(
  rule: SeccompRuleTemplate,
  arch: string,
  caps: ReadonlySet<string>,
  kernel: string | undefined,
): boolean {
  const inc = rule.includes ?? {};
  const exc = rule.excludes ?? {};
  if (inc.arches?.length && !inc.arches.includes(arch)) return false;
  if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) return false;
  if (inc.minKernel && kernel !== undefined && compareKernel(kernel, inc.minKernel) < 0) {
    return false;
  }
  if (exc.arches?.length && exc.arches.includes(arch)) return false;
  if (exc.caps?.length && exc.caps.some((c) => caps.has(c))) return false;
  if (exc.minKernel && kernel !== undefined && compareKernel(kernel, exc.minKernel) >= 0) {
    return false;
  }
  return true;
}

/** Compares kernel versions by their leading numbers (`6.1.0-13-amd64` vs `5.8`). */
export function compareKernel(a: string, b: string): number {
  const nums = (v: string) => (v.match(/^\d+(?:\.\d+)*/)?.[0] ?? "0").split(".").map(Number);
  const [x, y] = [nums(a), nums(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

function errnoOf(
  value: number | undefined,
  name: string | undefined,
  where: string,
): number | undefined {
  if (value !== undefined) return value;
  if (name === undefined || name === "") return undefined;
  const n = ERRNO_NAMES[name];
  if (n === undefined) {
    throw new InvalidImageError(where, `unknown errno name ${JSON.stringify(name)}`);
  }
  return n;
}

/** What a profile does with one syscall: its argument rules in order, then the fallback. */
export interface CallPolicy {
  /** Rules with `args`, in profile order, later duplicates left out (they never match first). */
  conditional: string[];
  /** The first rule without `args` (`action` or `action/errno`); the default when absent. */
  fallback: string;
}

/**
 * A profile's effect per syscall name, as ocibox's compiler and libseccomp apply it: for
 * comparing two profiles that differ only in form (rule order, grouping, dead duplicates).
 *
 * @example
 * ```ts
 * import { callPolicies } from "./seccomp_profile.ts";
 * const p = callPolicies({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38,
 *   syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }] });
 * console.log(p.get("read")); // { conditional: [], fallback: "SCMP_ACT_ALLOW" }
 * ```
 */
export function callPolicies(profile: LinuxSeccomp): Map<string, CallPolicy> {
  const show = (action: string, errno: number | undefined) =>
    errno === undefined ? action : `${action}/${errno}`;
  const dflt = show(profile.defaultAction, profile.defaultErrnoRet);
  const byName = new Map<string, { conditional: string[]; fallback?: string }>();
  for (const rule of profile.syscalls ?? []) {
    const action = show(rule.action, rule.errnoRet);
    for (const name of rule.names) {
      let entry = byName.get(name);
      if (!entry) byName.set(name, entry = { conditional: [] });
      if (rule.args && rule.args.length > 0) {
        const args = rule.args.map((a) => `${a.index} ${a.op} ${a.value} ${a.valueTwo ?? 0}`);
        const text = `${action} if ${args.join(" && ")}`;
        if (!entry.conditional.includes(text)) entry.conditional.push(text);
      } else {
        entry.fallback ??= action;
      }
    }
  }
  return new Map(
    [...byName].map((
      [name, e],
    ) => [name, { conditional: e.conditional, fallback: e.fallback ?? dflt }]),
  );
}
