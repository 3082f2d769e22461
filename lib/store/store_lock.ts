/**
 * The store's lock: flock(2) on `STORE/lock`, shared for readers of `images/index.json`,
 * `layers/` and `containers/`, exclusive for their writers. Writers keep the exclusive section
 * short (downloads go to `STORE/tmp` first; only the renames and the index rewrite happen under
 * the lock). The lock belongs to the open file, so it ends with the process, however it ends.
 *
 * flock comes through Deno's `FsFile.lock` (flock(2) on Linux, checked in /proc/locks), which
 * waits on Deno's blocking pool: the event loop, signals and timers keep running while a
 * process waits for the lock, and no libc symbols are loaded for it.
 *
 * Sections do not nest: a second lock taken in the same process is a second open file, and
 * flock makes it wait for the first (an exclusive inside a shared one waits for ever).
 * @module
 */
import { lockFile } from "./store_root.ts";

/** Readers share the lock; a writer holds it alone. */
export type LockMode = "shared" | "exclusive";

async function openLockFile(store: string): Promise<Deno.FsFile> {
  const path = lockFile(store);
  try {
    return await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      await Deno.mkdir(store, { recursive: true, mode: 0o700 });
      return await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
    }
    // A store this user may read but not write: a shared lock through a read-only open.
    if (e instanceof Deno.errors.PermissionDenied) return await Deno.open(path, { read: true });
    throw e;
  }
}

/**
 * Runs `fn` holding the store lock in `mode`; the lock is released when `fn` settles.
 *
 * @example
 * ```ts
 * import { withStoreLock } from "./store_lock.ts";
 * const n = await withStoreLock("/tmp/store", "shared", async () => 42);
 * ```
 */
export async function withStoreLock<T>(
  store: string,
  mode: LockMode,
  fn: () => Promise<T> | T,
): Promise<T> {
  using file = await openLockFile(store);
  await file.lock(mode === "exclusive");
  try {
    return await fn();
  } finally {
    await file.unlock().catch(() => {});
  }
}
