/**
 * Writes that are never seen half-done: data goes to a temporary file in the target's
 * directory (or a given temp directory on the same file system), is fsynced, and is renamed
 * into place; the directory is fsynced after the rename.
 * @module
 */

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function tempName(dir: string, base: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(2));
  return `${dir}/.tmp-${base.slice(0, 40)}-${rand[0].toString(36)}${rand[1].toString(36)}`;
}

/** fsyncs a directory so a rename inside it survives a crash. */
export function syncDir(dir: string): void {
  // Through Deno rather than ffi: copies then never load libc's symbol table.
  const d = Deno.openSync(dir, { read: true });
  try {
    d.syncSync();
  } finally {
    d.close();
  }
}

/**
 * Replaces `path` with `data` atomically.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic_file.ts";
 * await writeFileAtomic("/tmp/index.json", new TextEncoder().encode("{}\n"));
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array,
  options: { mode?: number; tempDir?: string } = {},
): Promise<void> {
  const file = await AtomicFile.create(path, options);
  try {
    await file.write(data);
    await file.commit();
  } catch (e) {
    await file.abort();
    throw e;
  }
}

/** A file being written that appears at its final path only on {@linkcode AtomicFile.commit}. */
export class AtomicFile {
  #done = false;
  private constructor(
    readonly path: string,
    readonly tempPath: string,
    readonly file: Deno.FsFile,
  ) {}

  /** Opens a temporary file for `path` (in `tempDir` when given, else beside `path`). */
  static async create(
    path: string,
    options: { mode?: number; tempDir?: string } = {},
  ): Promise<AtomicFile> {
    const tmp = tempName(options.tempDir ?? dirname(path), basename(path));
    const file = await Deno.open(tmp, {
      write: true,
      createNew: true,
      mode: options.mode ?? 0o644,
    });
    return new AtomicFile(path, tmp, file);
  }

  /** Appends `data`. */
  async write(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) off += await this.file.write(data.subarray(off));
  }

  /**
   * fsyncs, closes and renames the file into place (at `path` when given, else its own), then
   * fsyncs the directory unless `options.syncDir` is false: a caller writing many files syncs
   * their directories once before it publishes anything that refers to them (the file's bytes
   * are on disk before its name appears either way, so a crash never shows a half file).
   */
  async commit(
    path: string = this.path,
    options: { syncDir?: boolean } = {},
  ): Promise<void> {
    if (this.#done) throw new Error(`${this.path}: already committed or aborted`);
    this.#done = true;
    try {
      await this.file.sync();
    } finally {
      this.file.close();
    }
    await Deno.rename(this.tempPath, path);
    if (options.syncDir !== false) syncDir(dirname(path));
  }

  /** Discards the temporary file; safe to call after commit. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      this.file.close();
    } catch { /* already closed */ }
    await Deno.remove(this.tempPath).catch(() => {});
  }
}
