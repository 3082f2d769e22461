/**
 * `linux.timeOffsets` as the kernel takes them in /proc/PID/timens_offsets: one
 * "<clock> <secs> <nanosecs>" line per clock, written by the runtime after the time namespace
 * is made and before any process enters it.
 * @module
 */
import { InvalidImageError } from "../../errors.ts";
import type { Spec } from "../spec/spec_types.ts";

const CLOCKS = new Set(["monotonic", "boottime"]);

/**
 * The timens_offsets text for `spec`, or undefined when it sets none.
 *
 * @example
 * ```ts
 * import { timeOffsetsText } from "./time_offsets.ts";
 * timeOffsetsText({
 *   ociVersion: "1.2.0",
 *   linux: { namespaces: [{ type: "time" }], timeOffsets: { boottime: { secs: 60 } } },
 * }); // "boottime 60 0\n"
 * ```
 */
export function timeOffsetsText(spec: Spec): string | undefined {
  const offsets = spec.linux?.timeOffsets;
  if (offsets === undefined) return undefined;
  const where = "config.json linux.timeOffsets";
  if (!spec.linux?.namespaces?.some((n) => n.type === "time" && !n.path)) {
    throw new InvalidImageError(where, "needs a new time namespace");
  }
  let text = "";
  for (const [clock, o] of Object.entries(offsets)) {
    if (!CLOCKS.has(clock)) {
      throw new InvalidImageError(
        where,
        `unknown clock ${JSON.stringify(clock)} (monotonic, boottime)`,
      );
    }
    const secs = o?.secs ?? 0, nanos = o?.nanosecs ?? 0;
    if (!Number.isSafeInteger(secs) || !Number.isInteger(nanos) || nanos < 0 || nanos > 999999999) {
      throw new InvalidImageError(
        `${where}.${clock}`,
        "secs must be an integer, nanosecs 0-999999999",
      );
    }
    text += `${clock} ${secs} ${nanos}\n`;
  }
  return text || undefined;
}
