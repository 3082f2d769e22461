/**
 * Archive files of the `oci-archive:` and `docker-archive:` transports: opening a tar (plain, or
 * compressed as a whole) for reading in place, looking at the path an archive is about to be
 * written to, and writing an archive there atomically with deterministic headers.
 * @module
 */
import { dirname, resolve } from "../io/paths.ts";
import {
  InvalidImageError,
  NotFoundError,
  SizeMismatchError,
  throwIfAborted,
  UnsupportedError,
} from "../errors.ts";
import { AtomicFile } from "../io/atomic_file.ts";
import { fileStream } from "../io/file_stream.ts";
import { type Compression, decompress, detectCompression } from "../archive/compression.ts";
import { makeEntry } from "../archive/tar/entry.ts";
import { encodeEntryHeader, END_OF_ARCHIVE, paddingFor } from "../archive/tar/writer.ts";
import { openArchivePath } from "./safe_open.ts";
import { TarFiles } from "./tar_files.ts";
import { removeTree } from "./staging.ts";

/** A tar archive opened for reading, with what must be released when done. */
export interface OpenedArchive {
  /** The archive's members, read in place. */
  files: TarFiles;
  /** The whole-archive compression that was undone ("none" for a plain tar). */
  compression: Compression;
  /** Removes the decompressed copy, if one was made. */
  close(): Promise<void>;
}

/**
 * Opens the tar archive at `path` for reading. A plain tar file is indexed and read in place.
 * One compressed as a whole, or a stream (a FIFO such as `/dev/stdin`), is first copied,
 * decompressed, into a temporary file (removed by `close`), as skopeo does. The file is held
 * open from the start, so every read is of the file that was checked.
 *
 * @throws {NotFoundError} when `path` does not exist.
 * @throws {NotAFileError} when `path` is a directory, a device or a socket.
 * @throws {LimitExceededError} when the archive has more members than ocibox indexes.
 * @example
 * ```ts
 * const archive = await openTarArchive("image.tar");
 * try {
 *   console.log(await archive.files.list());
 * } finally {
 *   await archive.close();
 * }
 * ```
 */
export async function openTarArchive(path: string): Promise<OpenedArchive> {
  const held = openArchivePath(path);
  let inPlace = false;
  try {
    if (held.kind === "regular file") {
      const compression = detectCompression(await readHead(held.path, 4));
      if (compression === "none") {
        const files = await TarFiles.open(path, held.path);
        inPlace = true;
        return { files, compression, close: () => Promise.resolve(held.close()) };
      }
    }
    return await decompressedCopy(path, held.path);
  } finally {
    // A tar read in place is read through the descriptor until the archive's close.
    if (!inPlace) held.close();
  }
}

/**
 * Copies the archive read from `readPath`, decompressed, into a temporary file and opens that:
 * the tar index needs random access, which neither a compressed file nor a stream gives.
 */
async function decompressedCopy(path: string, readPath: string): Promise<OpenedArchive> {
  const tmp = await Deno.makeTempDir({ prefix: "ocibox-archive-" });
  try {
    const copy = `${tmp}/archive.tar`;
    const reader = (await fileStream(readPath)).getReader();
    let head: Uint8Array = new Uint8Array(0);
    while (head.length < 4) {
      const { value, done } = await reader.read();
      if (done) break;
      head = concatBytes(head, value);
    }
    const compression = detectCompression(head);
    const rest = async function* () {
      if (head.length) yield head;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        yield value;
      }
    };
    using out = await Deno.open(copy, { write: true, createNew: true, mode: 0o600 });
    for await (const chunk of decompress(rest(), compression)) await writeAll(out, chunk);
    const files = await TarFiles.open(path, copy);
    return { files, compression, close: () => removeTree(tmp) };
  } catch (e) {
    await removeTree(tmp);
    throw e;
  }
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Where an archive is written, as found before writing it. */
export interface ArchiveTarget {
  /** The path to write: symlinks to regular files resolved, so the link stays a link. */
  path: string;
  /** Where staging and temporary files go: beside `path`, or a temporary directory. */
  parent: string;
  /** True for a FIFO or device: written directly, as atomic replacement is impossible there. */
  special: boolean;
  /** The existing regular file's size, or undefined when there is none. */
  existingSize?: number;
  /** The existing regular file's permission bits, kept when it is replaced. */
  existingMode?: number;
}

/**
 * Looks at the archive path about to be written.
 *
 * @throws {InvalidImageError} for a directory or a dangling symlink at `path`.
 * @throws {NotFoundError} when the directory that would hold `path` does not exist.
 * @example
 * ```ts
 * const target = await resolveArchiveTarget("out.tar");
 * target.existingSize; // undefined when out.tar does not exist yet
 * ```
 */
export async function resolveArchiveTarget(path: string): Promise<ArchiveTarget> {
  const st = await statOrUndefined(path);
  if (st === undefined) {
    if (await lstatOrUndefined(path)) {
      throw new InvalidImageError(path, "is a symbolic link to a file that does not exist");
    }
    const abs = resolve(path);
    const parent = dirname(abs);
    const pst = await statOrUndefined(parent);
    if (!pst?.isDirectory) {
      throw new NotFoundError(`${path}: the directory ${parent} does not exist`);
    }
    return { path: abs, parent, special: false };
  }
  if (st.isDirectory) {
    throw new InvalidImageError(path, "is a directory; an archive is written to a file");
  }
  if (!st.isFile) {
    // Nothing is renamed into place here, and /dev is no place for staging files.
    return { path, parent: Deno.env.get("TMPDIR") || "/tmp", special: true };
  }
  const real = await Deno.realPath(path);
  return {
    path: real,
    parent: dirname(real),
    special: false,
    existingSize: st.size,
    existingMode: (st.mode ?? 0o644) & 0o7777,
  };
}

/** One member of an archive being written. */
export type ArchiveMember =
  | { name: string; type: "dir" }
  | { name: string; type: "file"; path: string; size: number }
  | { name: string; type: "file"; bytes: Uint8Array }
  | { name: string; type: "symlink"; target: string };

/** How {@linkcode writeTarArchive} writes. */
export interface WriteArchiveOptions {
  /** Directory on the target's file system for the temporary file (default: beside it). */
  tempDir?: string;
  /** Permission bits of regular file members (default 0o644). */
  fileMode?: number;
  /** Stops the write, leaving the target as it was (unless it is a FIFO or device). */
  signal?: AbortSignal;
}

/**
 * Writes `members` as a tar archive to `target`, with deterministic headers (owner 0:0, no user
 * names, mtime 0): through a temporary file renamed over the target after fsync, so that readers
 * see the old file or the whole new one; a FIFO or device target is written directly.
 *
 * @throws {SizeMismatchError} when a staged file changed size while being written.
 * @example
 * ```ts
 * const target = await resolveArchiveTarget("out.tar");
 * await writeTarArchive(target, [{ name: "hello.txt", type: "file", bytes: new Uint8Array(1) }]);
 * ```
 */
export async function writeTarArchive(
  target: ArchiveTarget,
  members: readonly ArchiveMember[],
  options: WriteArchiveOptions = {},
): Promise<void> {
  const sink = await openSink(target, options.tempDir);
  try {
    for (const m of members) {
      throwIfAborted(options.signal);
      await writeMember(sink, m, options);
    }
    await sink.write(END_OF_ARCHIVE);
    await sink.commit();
  } catch (e) {
    await sink.abort();
    throw e;
  }
}

async function writeMember(
  sink: Sink,
  m: ArchiveMember,
  options: WriteArchiveOptions,
): Promise<void> {
  const base = { name: m.name, mtime: 0 };
  switch (m.type) {
    case "dir":
      await sink.write(encodeEntryHeader(makeEntry({ ...base, type: "dir", mode: 0o755 })));
      return;
    case "symlink":
      await sink.write(
        encodeEntryHeader(
          makeEntry({ ...base, type: "symlink", mode: 0o777, linkname: m.target }),
        ),
      );
      return;
    case "file": {
      const size = "bytes" in m ? m.bytes.length : m.size;
      const mode = options.fileMode ?? 0o644;
      await sink.write(encodeEntryHeader(makeEntry({ ...base, type: "file", mode, size })));
      if ("bytes" in m) {
        await sink.write(m.bytes);
      } else {
        let written = 0;
        for await (const chunk of await fileStream(m.path)) {
          throwIfAborted(options.signal);
          written += chunk.length;
          if (written > size) break;
          await sink.write(chunk);
        }
        if (written !== size) {
          throw new SizeMismatchError(`${m.path} (changed while being archived)`, size, written);
        }
      }
      await sink.write(paddingFor(size));
      return;
    }
  }
}

/** Buffered output that becomes visible only on commit (for regular files). */
interface Sink {
  write(bytes: Uint8Array): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

const SINK_BUFFER = 1 << 20;

async function openSink(target: ArchiveTarget, tempDir: string | undefined): Promise<Sink> {
  let writeRaw: (b: Uint8Array) => Promise<void>;
  let finish: () => Promise<void>;
  let discard: () => Promise<void>;
  if (target.special) {
    const file = await Deno.open(target.path, { write: true });
    writeRaw = (b) => writeAll(file, b);
    finish = () => Promise.resolve(file.close());
    discard = () => Promise.resolve(file.close());
  } else {
    const file = await AtomicFile.create(target.path, {
      mode: target.existingMode ?? 0o644,
      tempDir: tempDir ?? target.parent,
    });
    // open(2) narrows the mode by the umask; a replaced file keeps exactly the bits it had.
    if (target.existingMode !== undefined) {
      await Deno.chmod(file.tempPath, target.existingMode).catch(async (e) => {
        await file.abort();
        throw e;
      });
    }
    writeRaw = (b) => file.write(b);
    finish = () => file.commit();
    discard = () => file.abort();
  }
  const buf = new Uint8Array(SINK_BUFFER);
  let used = 0;
  const flush = async () => {
    if (used > 0) await writeRaw(buf.subarray(0, used));
    used = 0;
  };
  return {
    async write(bytes) {
      if (used + bytes.length > buf.length) await flush();
      if (bytes.length >= buf.length) return await writeRaw(bytes);
      buf.set(bytes, used);
      used += bytes.length;
    },
    async commit() {
      await flush();
      await finish();
    },
    async abort() {
      await discard();
    },
  };
}

/**
 * The members of a directory tree for an archive: directories before their contents, names
 * sorted byte-wise at each level, leftover temporary files (`.tmp-*`) left out.
 *
 * @example
 * ```ts
 * const members = await directoryMembers("/tmp/layout");
 * members.map((m) => m.name); // ["blobs", "blobs/sha256", "blobs/sha256/…", "index.json", …]
 * ```
 */
export async function directoryMembers(root: string): Promise<ArchiveMember[]> {
  const out: ArchiveMember[] = [];
  const walk = async (rel: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(rel ? `${root}/${rel}` : root)) {
      if (!e.name.startsWith(".tmp-")) entries.push(e);
    }
    entries.sort((a, b) => compareBytes(a.name, b.name));
    for (const e of entries) {
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        out.push({ name, type: "dir" });
        await walk(name);
      } else if (e.isFile) {
        const path = `${root}/${name}`;
        out.push({ name, type: "file", path, size: (await Deno.stat(path)).size });
      } else {
        throw new UnsupportedError(`${root}/${name}: only files and directories can be archived`);
      }
    }
  };
  await walk("");
  return out;
}

function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function readHead(path: string, n: number): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await file.read(buf.subarray(got));
    if (r === null) break;
    got += r;
  }
  return buf.subarray(0, got);
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await file.write(data.subarray(off));
}
