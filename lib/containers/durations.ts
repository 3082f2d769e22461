/**
 * Durations as `ps` shows them ("3 seconds", "2 minutes", "About an hour"), the way docker and
 * podman word them.
 * @module
 */

/**
 * A human duration for `ms` milliseconds.
 *
 * @example
 * ```ts
 * import { humanDuration } from "./durations.ts";
 * humanDuration(5_000); // "5 seconds"
 * humanDuration(90 * 60_000); // "About an hour"
 * ```
 */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  const d = Math.round(h / 24);
  if (d < 14) return `${d} days`;
  if (d < 60) return `${Math.round(d / 7)} weeks`;
  if (d < 730) return `${Math.round(d / 30)} months`;
  return `${Math.round(d / 365)} years`;
}

/** "`humanDuration` ago" for a time in the past. */
export function ago(then: Date, now: Date): string {
  return `${humanDuration(now.getTime() - then.getTime())} ago`;
}
