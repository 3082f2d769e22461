/**
 * `process.rlimits` → `setrlimit` operations.
 * @module
 */
import { InvalidImageError } from "../../errors.ts";
import type { POSIXRlimit } from "../spec/spec_types.ts";
import type { Op } from "./ops.ts";

/** RLIMIT_* names and their resource numbers (asm-generic/resource.h, x86_64 and aarch64). */
export const RLIMITS: ReadonlyMap<string, number> = new Map([
  ["RLIMIT_CPU", 0],
  ["RLIMIT_FSIZE", 1],
  ["RLIMIT_DATA", 2],
  ["RLIMIT_STACK", 3],
  ["RLIMIT_CORE", 4],
  ["RLIMIT_RSS", 5],
  ["RLIMIT_NPROC", 6],
  ["RLIMIT_NOFILE", 7],
  ["RLIMIT_MEMLOCK", 8],
  ["RLIMIT_AS", 9],
  ["RLIMIT_LOCKS", 10],
  ["RLIMIT_SIGPENDING", 11],
  ["RLIMIT_MSGQUEUE", 12],
  ["RLIMIT_NICE", 13],
  ["RLIMIT_RTPRIO", 14],
  ["RLIMIT_RTTIME", 15],
]);

/**
 * One limit value: -1 (RLIM_INFINITY) for 2^64-1 (which JSON.parse rounds to 2^64), for -1, and
 * for any value beyond 2^53 (those cannot be carried exactly and are unlimited in practice).
 */
function limit(value: unknown, where: string, which: string, warnings: string[]): number {
  if (value === -1) return -1;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new InvalidImageError(where, `${which} ${JSON.stringify(value)} is not a uint64`);
  }
  if (value >= 2 ** 64 - 1) return -1;
  if (!Number.isSafeInteger(value)) {
    warnings.push(`${where}: ${which} ${value} is beyond 2^53; treated as unlimited`);
    return -1;
  }
  return value;
}

/**
 * Plans `process.rlimits`, in order.
 *
 * @throws {InvalidImageError} for unknown or duplicated types, bad values, soft above hard.
 * @example
 * ```ts
 * import { planRlimits } from "./rlimits.ts";
 * planRlimits([{ type: "RLIMIT_NOFILE", soft: 1024, hard: 1024 }], []);
 * // [{ op: "setrlimit", resource: 7, soft: 1024, hard: 1024 }]
 * ```
 */
export function planRlimits(rlimits: readonly POSIXRlimit[] | undefined, warnings: string[]): Op[] {
  if (rlimits !== undefined && !Array.isArray(rlimits)) {
    throw new InvalidImageError("config.json process.rlimits", "must be an array");
  }
  const ops: Op[] = [];
  const seen = new Set<string>();
  for (const [i, rlimit] of (rlimits ?? []).entries()) {
    const where = `config.json process.rlimits[${i}]`;
    const resource = RLIMITS.get(rlimit?.type);
    if (resource === undefined) {
      throw new InvalidImageError(where, `unknown rlimit type ${JSON.stringify(rlimit?.type)}`);
    }
    if (seen.has(rlimit.type)) throw new InvalidImageError(where, `duplicate ${rlimit.type}`);
    seen.add(rlimit.type);
    const soft = limit(rlimit.soft, where, "soft", warnings);
    const hard = limit(rlimit.hard, where, "hard", warnings);
    if (hard !== -1 && (soft === -1 || soft > hard)) {
      throw new InvalidImageError(where, `soft limit is above the hard limit`);
    }
    ops.push({ op: "setrlimit", resource, soft, hard });
  }
  return ops;
}
