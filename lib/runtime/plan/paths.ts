/**
 * Lexical path helpers of the planner: no file system access, so plans stay reproducible and
 * testable without a rootfs.
 * @module
 */

/**
 * Cleans a container path lexically: collapses `//`, `.` and `..`, never climbing above `/`.
 * A relative path is taken as relative to `/` (the caller decides whether to warn).
 *
 * @example
 * ```ts
 * import { cleanPath } from "./paths.ts";
 * cleanPath("/dev/../../etc//x/."); // "/etc/x"
 * ```
 */
export function cleanPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return "/" + parts.join("/");
}

/** Whether clean absolute `path` is `dir` or below it. */
export function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === "/" ? "/" : dir + "/");
}

/** A host path from config.json: absolute as is, otherwise relative to the bundle. */
export function hostPath(bundle: string, path: string): string {
  return cleanPath(path.startsWith("/") ? path : `${bundle}/${path}`);
}
