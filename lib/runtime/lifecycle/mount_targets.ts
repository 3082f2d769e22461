/**
 * A bundle check before init starts: no mount target may be reached through a symlink that
 * points out of the rootfs (absolute, or climbing above it). A runtime following it on the
 * host would mount outside the container, so such a bundle is refused rather than silently
 * reinterpreted; init enforces the same with RESOLVE_BENEATH, and this check names the symlink.
 * @module
 */
import { AT_FDCWD, O_DIRECTORY, O_PATH } from "../../../ffi/constants.ts";
import { Errno, ErrnoError } from "../../../ffi/errno.ts";
import { close, openat, readlinkat } from "../../../ffi/fs.ts";
import { InvalidImageError } from "../../errors.ts";
import type { Op } from "../plan/ops.ts";

/**
 * Checks the targets of the plan's mounts against the rootfs as it is on the host.
 *
 * @throws {InvalidImageError} naming the symlink that leads out.
 */
export function checkMountTargets(rootfs: string, ops: readonly Op[]): void {
  const targets = ops.flatMap((op) => op.op === "mount" ? [op.target] : []);
  if (targets.length === 0) return;
  const root = openat(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY);
  try {
    for (const target of targets) {
      const escape = escapingLink(root, target);
      if (escape) {
        throw new InvalidImageError(
          `mount target ${target}`,
          `goes through the symlink ${escape.at} -> ${escape.link}, out of the rootfs`,
        );
      }
    }
  } finally {
    close(root);
  }
}

/** The first symlink on the way to `target` that leads out of the root, if any. */
function escapingLink(root: number, target: string): { at: string; link: string } | undefined {
  const queue = target.split("/").filter((p) => p && p !== ".");
  const parts: string[] = [];
  for (let links = 0; queue.length;) {
    const name = queue.shift()!;
    if (name === "..") {
      parts.pop();
      continue;
    }
    let link: string;
    try {
      link = readlinkat(root, [...parts, name].join("/"));
    } catch (e) {
      if (e instanceof ErrnoError && (e.errno === Errno.EINVAL || e.errno === Errno.ENOENT)) {
        parts.push(name); // not a symlink, or not there yet (init makes it a directory)
        continue;
      }
      if (e instanceof ErrnoError && e.errno === Errno.ENOTDIR) return undefined;
      throw e;
    }
    if (++links > 40) return undefined; // init's openat2 reports the loop
    const at = "/" + [...parts, name].join("/");
    const linkParts = link.split("/").filter((p) => p && p !== ".");
    let depth = parts.length;
    const climbsOut = linkParts.some((p) => (depth += p === ".." ? -1 : 1) < 0);
    if (link.startsWith("/") || climbsOut) return { at, link };
    queue.unshift(...linkParts);
  }
  return undefined;
}
