/**
 * Runs one command as a child process and measures its wall time (performance.now() around
 * spawn and exit) and, through GNU time's `%M` (the kernel's ru_maxrss of the child and every
 * descendant it waited for), its peak resident set size and user/system CPU time. Without
 * /usr/bin/time it falls back to polling VmHWM in /proc/PID/status every 10 ms (the child
 * process only; may miss a final spike shorter than the interval).
 *
 * @example
 * ```ts
 * import { measure, median, rssMethod } from "./measure.ts";
 * const method = await rssMethod();
 * const s = await measure(["true"], { method, statsFile: "/tmp/stats" });
 * console.log(s.wallS, s.peakRssKb, median([3, 1, 2]));
 * ```
 * @module
 */

/** One run of a command. */
export interface Sample {
  /** Wall-clock seconds from spawn to exit. */
  wallS: number;
  /** Peak resident set size in KiB (null when unknown). */
  peakRssKb: number | null;
  /** User and system CPU seconds (null without GNU time). */
  userS: number | null;
  sysS: number | null;
}

/** How peak RSS is measured: GNU time's %M, or polling /proc/PID/status VmHWM. */
export type RssMethod = "gnu-time" | "proc-poll";

/** Options of {@linkcode measure}. */
export interface MeasureOptions {
  method: RssMethod;
  /** Scratch file GNU time writes its numbers to. */
  statsFile: string;
  cwd?: string;
}

/** The command's failure, with the tail of its stderr. */
export class CommandFailed extends Error {
  /** Creates the error for `cmd` exiting with `code`. */
  constructor(cmd: readonly string[], code: number, stderr: string) {
    const tail = stderr.trim().split("\n").slice(-15).join("\n");
    super(`command failed (exit ${code}): ${cmd.join(" ")}\n${tail}`);
    this.name = "CommandFailed";
  }
}

const GNU_TIME = "/usr/bin/time";

/** Picks the RSS method available here: GNU time when /usr/bin/time understands -f. */
export async function rssMethod(): Promise<RssMethod> {
  try {
    const out = await new Deno.Command(GNU_TIME, {
      args: ["-f", "%M", "true"],
      stdout: "null",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stderr).trim();
    if (out.success && /^\d+$/.test(text.split("\n").at(-1) ?? "")) return "gnu-time";
  } catch {
    // not installed
  }
  return "proc-poll";
}

/** Runs `cmd` to completion and measures it; throws {@linkcode CommandFailed} on failure. */
export async function measure(cmd: readonly string[], options: MeasureOptions): Promise<Sample> {
  const full = options.method === "gnu-time"
    ? [GNU_TIME, "-f", "%M %U %S", "-o", options.statsFile, "--", ...cmd]
    : [...cmd];
  const started = performance.now();
  const child = new Deno.Command(full[0], {
    args: full.slice(1),
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let hwmKb: number | null = null;
  let polling = true;
  const poller = options.method === "proc-poll"
    ? (async () => {
      while (polling) {
        const v = readVmHwm(child.pid);
        if (v !== null) hwmKb = Math.max(hwmKb ?? 0, v);
        await new Promise((r) => setTimeout(r, 10));
      }
    })()
    : Promise.resolve();
  const out = await child.output();
  const wallS = (performance.now() - started) / 1000;
  polling = false;
  await poller;
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new CommandFailed(cmd, out.code, err);
  }
  if (options.method === "proc-poll") {
    return { wallS, peakRssKb: hwmKb, userS: null, sysS: null };
  }
  const lines = (await Deno.readTextFile(options.statsFile)).trim().split("\n");
  const [rss, user, sys] = (lines.at(-1) ?? "").split(" ").map(Number);
  return { wallS, peakRssKb: rss, userS: user, sysS: sys };
}

function readVmHwm(pid: number): number | null {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/^VmHWM:\s+(\d+) kB/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The median of `xs` (mean of the two middle values for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Runs `cmd` and polls its own VmHWM every millisecond (children excluded: for ocibox that is
 * the CLI alone, not the container init it spawns); returns the peak in KiB, null when it was
 * never read. A rise in the last millisecond before exit can be missed.
 *
 * @throws {CommandFailed} when `cmd` fails.
 */
export async function ownPeakRssKb(
  cmd: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<number | null> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peak: number | null = null;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      try {
        const m = Deno.readTextFileSync(`/proc/${child.pid}/status`).match(/^VmHWM:\s+(\d+) kB/m);
        if (m) peak = Math.max(peak ?? 0, Number(m[1]));
      } catch {
        // exited
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  const out = await child.output();
  polling = false;
  await poller;
  if (!out.success) {
    const text = new TextDecoder();
    throw new CommandFailed(cmd, out.code, text.decode(out.stderr) + text.decode(out.stdout));
  }
  return peak;
}
