/**
 * The local file system {@linkcode StorageDriver}: a directory tree under `root`. Atomic
 * writes go to a temporary file in `ROOT/tmp/` (same file system), are fsynced, renamed into
 * place, and the directory is fsynced, so a crash leaves either the old file or the whole new
 * one and never a partial file at a final path. Locks are `flock`s on files, so they hold
 * between processes (`ocibox serve` and `ocibox gc` on one root) and vanish with a killed
 * process.
 *
 * @example
 * ```ts
 * import { FsDriver } from "./fs_driver.ts";
 * const d = new FsDriver(await Deno.makeTempDir());
 * await d.writeBytes("a/b.txt", new TextEncoder().encode("hi"));
 * (await d.stat("a/b.txt"))?.size; // 2
 * ```
 * @module
 */

import { syncDir } from "../../io/atomic_file.ts";
import { fileStream } from "../../io/file_stream.ts";
import type { DriverEntry, DriverLock, DriverRead, DriverStat, StorageDriver } from "./driver.ts";

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

function kindOf(info: Deno.FileInfo): "file" | "directory" | "other" {
  return info.isFile ? "file" : info.isDirectory ? "directory" : "other";
}

function randomName(): string {
  const r = crypto.getRandomValues(new Uint32Array(3));
  return [...r].map((n) => n.toString(36)).join("");
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

/** Bytes gathered before one write: request bodies arrive in chunks of 64 KiB or less. */
const WRITE_BATCH = 1 << 20;

/**
 * Writes a stream's chunks to a file in writes of up to {@linkcode WRITE_BATCH} bytes: one
 * write per 64 KiB chunk of a request body took three times as long (each write is an op of
 * its own). `onWritten` sees every chunk, in order, once its bytes were written.
 */
class BatchedWriter {
  readonly #file: Deno.FsFile;
  readonly #onWritten: ((chunk: Uint8Array) => void) | undefined;
  readonly #buf = new Uint8Array(WRITE_BATCH);
  #fill = 0;
  #held: Uint8Array[] = [];

  constructor(file: Deno.FsFile, onWritten?: (chunk: Uint8Array) => void) {
    this.#file = file;
    this.#onWritten = onWritten;
  }

  async add(chunk: Uint8Array): Promise<void> {
    if (this.#fill + chunk.length > WRITE_BATCH) await this.flush();
    if (chunk.length >= WRITE_BATCH) {
      await writeAll(this.#file, chunk);
      this.#onWritten?.(chunk);
      return;
    }
    this.#buf.set(chunk, this.#fill);
    this.#fill += chunk.length;
    this.#held.push(chunk);
  }

  async flush(): Promise<void> {
    if (this.#fill === 0) return;
    await writeAll(this.#file, this.#buf.subarray(0, this.#fill));
    this.#fill = 0;
    const held = this.#held;
    this.#held = [];
    for (const c of held) this.#onWritten?.(c);
  }
}

async function setTimes(file: Deno.FsFile, timeMs: number): Promise<void> {
  const t = new Date(timeMs);
  await file.utime(t, t);
}

/** The file system driver. */
export class FsDriver implements StorageDriver {
  readonly location: string;
  readonly #tmp: string;

  /** `root` must be absolute or is resolved against the working directory. */
  constructor(root: string) {
    this.location = root.startsWith("/") ? root : `${Deno.cwd()}/${root}`;
    this.#tmp = `${this.location}/tmp`;
  }

  #abs(path: string): string {
    // Store paths are built from checked names and digests; refuse anything that could leave
    // the root anyway, as a last line.
    if (path.startsWith("/") || path.split("/").some((p) => p === ".." || p === ".")) {
      throw new Error(`storage path ${JSON.stringify(path)} is not a plain relative path`);
    }
    return path === "" ? this.location : `${this.location}/${path}`;
  }

  // Runs op; on NotFound (a missing parent) makes the parent and runs it again.
  async #withParent<T>(abs: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      await Deno.mkdir(parentOf(abs), { recursive: true });
      return await op();
    }
  }

  async #tempFile(): Promise<{ path: string; file: Deno.FsFile }> {
    const path = `${this.#tmp}/${randomName()}`;
    const file = await this.#withParent(
      path,
      () => Deno.open(path, { write: true, createNew: true, mode: 0o644 }),
    );
    return { path, file };
  }

  async #commitTemp(temp: string, abs: string): Promise<void> {
    await this.#withParent(abs, () => Deno.rename(temp, abs));
    syncDir(parentOf(abs));
  }

  async write(
    path: string,
    body: ReadableStream<Uint8Array>,
    options: { signal?: AbortSignal; mtimeMs?: number } = {},
  ): Promise<number> {
    const signal = options.signal;
    const abs = this.#abs(path);
    const { path: temp, file } = await this.#tempFile();
    let size = 0;
    let closed = false;
    try {
      const out = new BatchedWriter(file);
      for await (const chunk of body) {
        signal?.throwIfAborted();
        await out.add(chunk);
        size += chunk.length;
      }
      await out.flush();
      signal?.throwIfAborted();
      if (options.mtimeMs !== undefined) await setTimes(file, options.mtimeMs);
      await file.sync();
      file.close();
      closed = true;
      await this.#commitTemp(temp, abs);
      return size;
    } catch (e) {
      if (!closed) file.close();
      await Deno.remove(temp).catch(() => {});
      throw e;
    }
  }

  async writeBytes(
    path: string,
    bytes: Uint8Array,
    options: { mtimeMs?: number } = {},
  ): Promise<void> {
    const abs = this.#abs(path);
    const { path: temp, file } = await this.#tempFile();
    try {
      await writeAll(file, bytes);
      if (options.mtimeMs !== undefined) await setTimes(file, options.mtimeMs);
      await file.sync();
    } catch (e) {
      file.close();
      await Deno.remove(temp).catch(() => {});
      throw e;
    }
    file.close();
    try {
      await this.#commitTemp(temp, abs);
    } catch (e) {
      await Deno.remove(temp).catch(() => {});
      throw e;
    }
  }

  async append(
    path: string,
    offset: number,
    body: ReadableStream<Uint8Array>,
    options: { signal?: AbortSignal; onChunk?: (chunk: Uint8Array) => void } = {},
  ): Promise<number> {
    const abs = this.#abs(path);
    const file = await this.#withParent(
      abs,
      () => Deno.open(abs, { write: true, create: offset === 0 }),
    );
    let size = offset;
    try {
      await file.truncate(offset);
      await file.seek(offset, Deno.SeekMode.Start);
      const out = new BatchedWriter(file, (chunk) => {
        size += chunk.length;
        options.onChunk?.(chunk);
      });
      try {
        for await (const chunk of body) {
          options.signal?.throwIfAborted();
          await out.add(chunk);
        }
      } finally {
        // What arrived before an error or an abort is kept, as the session's offset says.
        await out.flush();
      }
      return size;
    } finally {
      file.close();
    }
  }

  async read(
    path: string,
    range?: { start: number; end: number },
  ): Promise<DriverRead | undefined> {
    const abs = this.#abs(path);
    try {
      const info = await Deno.stat(abs);
      if (!info.isFile) return undefined;
      // A whole file as FsFile.readable: Deno.serve sends such a stream from Rust, with no JS
      // per chunk and no 1 MiB buffer per chunk left for the GC (a server sending a 344 MB
      // blob three times peaked at 140 MB RSS before, 90 MB after). Blobs never change once
      // in place, so its length is the size stat saw.
      const body = range
        ? await fileStream(abs, { offset: range.start, length: range.end - range.start + 1 })
        : (await Deno.open(abs, { read: true })).readable;
      return { size: info.size, body };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  async readBytes(path: string): Promise<Uint8Array | undefined> {
    try {
      return await Deno.readFile(this.#abs(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  async stat(path: string): Promise<DriverStat | undefined> {
    try {
      const info = await Deno.stat(this.#abs(path));
      return {
        kind: kindOf(info),
        size: info.size,
        mtimeMs: info.mtime?.getTime() ?? 0,
        ...(info.nlink !== null ? { links: info.nlink } : {}),
      };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
        return undefined;
      }
      throw e;
    }
  }

  async list(path: string): Promise<DriverEntry[]> {
    const out: DriverEntry[] = [];
    try {
      for await (const e of Deno.readDir(this.#abs(path))) {
        out.push({
          name: e.name,
          kind: e.isFile ? "file" : e.isDirectory ? "directory" : "other",
        });
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return [];
      throw e;
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async delete(path: string, options: { recursive?: boolean } = {}): Promise<boolean> {
    try {
      await Deno.remove(this.#abs(path), { recursive: options.recursive ?? false });
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }

  async move(from: string, to: string, options: { durable?: boolean } = {}): Promise<void> {
    const src = this.#abs(from);
    const dst = this.#abs(to);
    if (options.durable) {
      const f = await Deno.open(src, { read: true });
      try {
        await f.sync();
      } finally {
        f.close();
      }
    }
    try {
      await Deno.rename(src, dst);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      // Either the source is gone (rethrow) or the target's directory is missing.
      await Deno.lstat(src);
      await Deno.mkdir(parentOf(dst), { recursive: true });
      await Deno.rename(src, dst);
    }
    if (options.durable) syncDir(parentOf(dst));
  }

  async touch(path: string, timeMs: number): Promise<boolean> {
    const t = new Date(timeMs);
    try {
      await Deno.utime(this.#abs(path), t, t);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }

  async lock(path: string): Promise<DriverLock> {
    const abs = this.#abs(path);
    const file = await this.#withParent(
      abs,
      () => Deno.open(abs, { read: true, write: true, create: true }),
    );
    try {
      await file.lock(true);
    } catch (e) {
      file.close();
      throw e;
    }
    let released = false;
    return {
      async release() {
        if (released) return;
        released = true;
        try {
          await file.unlock();
        } finally {
          file.close();
        }
      },
    };
  }

  async hardlink(existing: string, path: string): Promise<boolean> {
    const src = this.#abs(existing);
    const dst = this.#abs(path);
    try {
      await Deno.link(src, dst);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return true;
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    // The source is missing, or the target's directory is.
    try {
      await Deno.lstat(src);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
    await Deno.mkdir(parentOf(dst), { recursive: true });
    try {
      await Deno.link(src, dst);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return true;
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }
}
