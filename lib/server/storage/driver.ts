/**
 * The storage driver under the registry store: the few operations registry_store.ts needs,
 * on paths relative to the driver's root (`blobs/sha256/ab…`, `repositories/a/index.json`).
 * The local file system (fs_driver.ts) is the first driver; an object store can implement the
 * same interface (`write` = a multipart upload committed at the end, `move` = copy + delete,
 * `lock` = a conditional put, `touch` = a metadata copy) without any change to the store or to
 * the protocol code above it.
 *
 * Rules every driver keeps:
 * - `write` and `writeBytes` are atomic: the path holds the old content or the whole new
 *   content, never part of it, also after a crash (fs: temp file, fsync, rename, fsync dir).
 * - `move` replaces the target atomically; with `durable`, the source's bytes reach stable
 *   storage first.
 * - Missing parent "directories" are created as needed.
 * - `hardlink` is optional (the fs driver has it; object stores do not).
 *
 * @example
 * ```ts
 * import type { StorageDriver } from "./driver.ts";
 * async function size(d: StorageDriver, path: string): Promise<number | undefined> {
 *   return (await d.stat(path))?.size;
 * }
 * ```
 * @module
 */

/** What a path holds. */
export interface DriverStat {
  readonly kind: "file" | "directory" | "other";
  readonly size: number;
  /** Last modification, ms since the epoch (gc compares it with the mark's start). */
  readonly mtimeMs: number;
  /** Names the file has (hard links), when the driver knows. */
  readonly links?: number;
}

/** One entry of a directory listing. */
export interface DriverEntry {
  readonly name: string;
  readonly kind: "file" | "directory" | "other";
}

/** The bytes of a file, or of one inclusive range of it. */
export interface DriverRead {
  /** The whole file's size. */
  readonly size: number;
  readonly body: ReadableStream<Uint8Array>;
}

/** A held lock; release it exactly once. */
export interface DriverLock {
  release(): Promise<void>;
}

/** The storage operations of the registry store. Paths are relative, `/`-separated. */
export interface StorageDriver {
  /** Where the driver stores (a directory, a bucket URL), for messages. */
  readonly location: string;

  /**
   * Writes `body` to `path` atomically and returns the number of bytes written. When `body`
   * errors (e.g. a verifying transform in front of it), nothing appears at `path`.
   * `mtimeMs` is the modification time the file has when it appears (gc relies on it; file
   * systems stamp new files from a coarse clock that can lag the process's).
   */
  write(
    path: string,
    body: ReadableStream<Uint8Array>,
    options?: { signal?: AbortSignal; mtimeMs?: number },
  ): Promise<number>;
  /** Writes `bytes` to `path` atomically (with `mtimeMs` as in `write`). */
  writeBytes(path: string, bytes: Uint8Array, options?: { mtimeMs?: number }): Promise<void>;
  /**
   * Writes `body` into `path` starting at `offset` (creating the file when `offset` is 0),
   * dropping anything after `offset` first. Not atomic and not synced: for upload sessions,
   * which are moved (durably) into place once verified. Returns the new size.
   * `onChunk` sees every chunk after it is written.
   */
  append(
    path: string,
    offset: number,
    body: ReadableStream<Uint8Array>,
    options?: { signal?: AbortSignal; onChunk?: (chunk: Uint8Array) => void },
  ): Promise<number>;
  /** The file's bytes (inclusive `range`), or undefined when it does not exist. */
  read(path: string, range?: { start: number; end: number }): Promise<DriverRead | undefined>;
  /** The whole file, or undefined when it does not exist. */
  readBytes(path: string): Promise<Uint8Array | undefined>;
  /** What `path` holds, or undefined. */
  stat(path: string): Promise<DriverStat | undefined>;
  /** The entries of a directory (prefix), sorted by name; empty when it does not exist. */
  list(path: string): Promise<DriverEntry[]>;
  /** Removes a file (or a directory tree with `recursive`); false when nothing was there. */
  delete(path: string, options?: { recursive?: boolean }): Promise<boolean>;
  /**
   * Moves `from` to `to`, replacing `to` atomically. `durable`: sync `from`'s bytes before and
   * the rename after. Throws NotFound (Deno.errors.NotFound for fs) when `from` is missing.
   */
  move(from: string, to: string, options?: { durable?: boolean }): Promise<void>;
  /** Sets the modification time; false when `path` does not exist. */
  touch(path: string, timeMs: number): Promise<boolean>;
  /**
   * An exclusive lock named `path`, held across processes sharing the storage (fs: flock on a
   * lock file), waited for when taken.
   */
  lock(path: string): Promise<DriverLock>;
  /**
   * Makes `path` another name of the file at `existing` (a hard link: same bytes, same mtime,
   * no copy); true when done or when `path` already exists, false when `existing` does not.
   * Drivers without such a thing omit it: the store then records repository membership in
   * marker files, and repositories are not OCI layouts on disk.
   */
  hardlink?(existing: string, path: string): Promise<boolean>;
}
