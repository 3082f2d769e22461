/**
 * Durations as `ps` and `images` show them ("3 seconds", "2 minutes", "About an hour"), the way
 * docker and podman word them.
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
  // go-units' HumanDuration (docker and podman): seconds and minutes cut, hours rounded, then
  // days, weeks, months and years cut from the rounded hours.
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.floor(ms / 3_600_000 + 0.5);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** "`humanDuration` ago" for a time in the past. */
export function ago(then: Date, now: Date): string {
  return `${humanDuration(now.getTime() - then.getTime())} ago`;
}
