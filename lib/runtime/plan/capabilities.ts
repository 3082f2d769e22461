/**
 * Linux capability names and the bit masks the plan carries (bit n = capability number n, as
 * in capability.h; the highest, 40, still fits a double exactly).
 * @module
 */
import { InvalidImageError } from "../../errors.ts";
import type { LinuxCapabilities } from "../spec/spec_types.ts";

/** Capability names by number (linux/capability.h, up to CAP_CHECKPOINT_RESTORE = 40). */
export const CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

const NUMBERS: ReadonlyMap<string, number> = new Map(CAPABILITIES.map((name, i) => [name, i]));

/** The five sets as masks. */
export interface CapabilityMasks {
  bounding: number;
  effective: number;
  permitted: number;
  inheritable: number;
  ambient: number;
}

const SETS = ["bounding", "effective", "permitted", "inheritable", "ambient"] as const;

/** Whether capability number `cap` is in `mask`. */
export function hasCapability(mask: number, cap: number): boolean {
  return Math.floor(mask / 2 ** cap) % 2 === 1;
}

/** The mask of a set of capability numbers. */
export function capabilityMask(numbers: Iterable<number>): number {
  let mask = 0;
  for (const n of new Set(numbers)) mask += 2 ** n;
  return mask;
}

/**
 * `process.capabilities` → masks. Unknown names are left out with one warning (as runc does:
 * a config written for a newer kernel still runs). Ambient capabilities that are not also
 * permitted and inheritable are dropped with a warning: the kernel refuses to raise them
 * (runc's own default config lists ambient ones without inheritable ones).
 *
 * @example
 * ```ts
 * import { capabilityMasks } from "./capabilities.ts";
 * capabilityMasks({ bounding: ["CAP_NET_BIND_SERVICE"] }, []).bounding; // 1024
 * ```
 */
export function capabilityMasks(
  caps: LinuxCapabilities | undefined,
  warnings: string[],
): CapabilityMasks {
  const unknown = new Set<string>();
  const numbers = {} as Record<(typeof SETS)[number], Set<number>>;
  for (const set of SETS) {
    const names = caps?.[set] ?? [];
    if (!Array.isArray(names)) {
      throw new InvalidImageError(`config.json process.capabilities.${set}`, "must be an array");
    }
    numbers[set] = new Set();
    for (const name of names) {
      if (typeof name !== "string") {
        throw new InvalidImageError(
          `config.json process.capabilities.${set}`,
          `${JSON.stringify(name)} is not a capability name`,
        );
      }
      const n = NUMBERS.get(name);
      if (n === undefined) unknown.add(name);
      else numbers[set].add(n);
    }
  }
  if (unknown.size) {
    warnings.push(`ignoring unknown capabilities: ${[...unknown].join(", ")}`);
  }
  const ambient = [...numbers.ambient];
  const raisable = ambient.filter((n) => numbers.permitted.has(n) && numbers.inheritable.has(n));
  if (raisable.length < ambient.length) {
    const dropped = ambient.filter((n) => !raisable.includes(n)).map((n) => CAPABILITIES[n]);
    warnings.push(
      `ambient capabilities not in both the permitted and inheritable sets are not raised: ${
        dropped.join(", ")
      }`,
    );
  }
  return {
    bounding: capabilityMask(numbers.bounding),
    effective: capabilityMask(numbers.effective),
    permitted: capabilityMask(numbers.permitted),
    inheritable: capabilityMask(numbers.inheritable),
    ambient: capabilityMask(raisable),
  };
}
