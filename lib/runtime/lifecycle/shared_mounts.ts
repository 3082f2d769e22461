/**
 * A container without a mount namespace of its own shares the runtime's: its mounts land in the
 * host's namespace (as the spec says and runc does), so delete, or a failed create, takes them
 * away again (runc leaves them).
 * @module
 */
import { umount2 } from "../../../ffi/process.ts";

/** Detaches the mounts, deepest (last made) first. */
export function unmountShared(targets: readonly string[]): void {
  const MNT_DETACH = 2;
  for (const target of [...targets].reverse()) {
    try {
      umount2(target, MNT_DETACH);
    } catch { /* not mounted (any more) */ }
  }
}
