/**
 * The command line that starts ocibox again in a new process (the monitor of a detached
 * container): the executable alone when compiled; else Deno with the same entry module (main.ts
 * with its deno.json, or the single-file bundle).
 * @module
 */

/** Where the running ocibox came from. */
export interface SelfOrigin {
  /** Deno.execPath(). */
  execPath: string;
  /** Deno.mainModule. */
  mainModule: string;
}

/**
 * argv (program first) that runs `ocibox ARGS...`.
 *
 * @example
 * ```ts
 * import { selfCommand } from "./self_command.ts";
 * selfCommand(["ps"], { execPath: "/usr/bin/deno", mainModule: "file:///src/main.ts" });
 * // ["/usr/bin/deno", "run", "-A", "--quiet", "--config=/src/deno.json", "/src/main.ts", "ps"]
 * ```
 */
export function selfCommand(
  args: readonly string[],
  origin: SelfOrigin = { execPath: Deno.execPath(), mainModule: Deno.mainModule },
): string[] {
  const exe = origin.execPath;
  if (exe.slice(exe.lastIndexOf("/") + 1) !== "deno") return [exe, ...args];
  const entry = decodeURIComponent(new URL(origin.mainModule).pathname);
  const dir = entry.slice(0, entry.lastIndexOf("/"));
  // From source the config carries the unstable flags main.ts relies on; a bundle needs none.
  const config = entry.endsWith("/main.ts") ? `--config=${dir}/deno.json` : "--no-config";
  return [exe, "run", "-A", "--quiet", config, entry, ...args];
}
