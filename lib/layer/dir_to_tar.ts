/**
 * A directory tree as an uncompressed layer tar stream: deterministic (names sorted, no
 * uname/gname, root entry omitted), hardlinks detected by inode, xattrs kept, sockets skipped.
 * Entry names are relative without a leading "./", directories end in "/", as Docker and umoci
 * write them.
 * @module
 */
import {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from "../../ffi/constants.ts";
import { lgetxattr, llistxattr, readlinkat, statx } from "../../ffi/fs.ts";
import { OciboxError, throwIfAborted } from "../errors.ts";
import { concatBytes } from "../io/bytes.ts";
import { makeEntry, type TarEntry, type TarEntryType } from "../archive/tar/entry.ts";
import { encodeEntryHeader, END_OF_ARCHIVE, paddingFor } from "../archive/tar/writer.ts";

/** Options for {@linkcode tarDirectory}. */
export interface DirTarOptions {
  /** Clamp every mtime to at most this many seconds since the epoch (SOURCE_DATE_EPOCH). */
  clampMtime?: number;
  /** Receives a line for each thing skipped (sockets). */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

const BATCH = 1 << 20;
// Host-specific labels and ACL encodings that do not belong in an image.
const SKIPPED_XATTRS = (name: string) => name === "security.selinux" || name.startsWith("system.");

function typeOf(mode: number): TarEntryType | undefined {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "file";
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "symlink";
    case S_IFCHR:
      return "char";
    case S_IFBLK:
      return "block";
    case S_IFIFO:
      return "fifo";
  }
  return undefined;
}

function readXattrs(path: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const name of llistxattr(path).sort()) {
    if (!SKIPPED_XATTRS(name)) out.set(name, lgetxattr(path, name));
  }
  return out;
}

/**
 * Streams the tar of everything under `root` (not `root` itself).
 *
 * @example
 * ```ts
 * import { tarDirectory } from "./dir_to_tar.ts";
 * let size = 0;
 * for await (const chunk of tarDirectory("/etc/ssl")) size += chunk.length;
 * ```
 */
export async function* tarDirectory(
  root: string,
  options: DirTarOptions = {},
): AsyncGenerator<Uint8Array> {
  const links = new Map<string, string>();
  let batch: Uint8Array[] = [];
  let batched = 0;
  function* flush(): Generator<Uint8Array> {
    if (batched === 0) return;
    yield concatBytes(batch);
    batch = [];
    batched = 0;
  }
  function add(bytes: Uint8Array): void {
    batch.push(bytes);
    batched += bytes.length;
  }

  // Depth-first with sorted children; `stack` holds relative paths still to visit.
  const stack: string[] = childrenOf(root, "").reverse();
  while (stack.length) {
    throwIfAborted(options.signal);
    const rel = stack.pop()!;
    const full = `${root}/${rel}`;
    const st = statx(AT_FDCWD, full, AT_SYMLINK_NOFOLLOW);
    const type = typeOf(st.mode);
    if (!type) {
      options.onWarning?.(`skipped ${rel}: sockets cannot be stored in a layer`);
      continue;
    }
    let mtime = st.mtimeSec;
    if (options.clampMtime !== undefined && mtime > options.clampMtime) mtime = options.clampMtime;
    const entry: TarEntry = makeEntry({
      name: type === "dir" ? `${rel}/` : rel,
      type,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime,
      xattrs: readXattrs(full),
    });
    if (type === "symlink") entry.linkname = readlinkat(AT_FDCWD, full);
    if (type === "char" || type === "block") {
      entry.devmajor = st.rdevMajor;
      entry.devminor = st.rdevMinor;
    }
    if (type !== "dir" && st.nlink > 1) {
      const key = `${st.devMajor}:${st.devMinor}:${st.ino}`;
      const first = links.get(key);
      if (first !== undefined) {
        entry.type = "hardlink";
        entry.linkname = first;
      } else links.set(key, rel);
    }
    if (entry.type === "file") entry.size = st.size;
    add(encodeEntryHeader(entry));
    if (entry.type === "file" && entry.size > 0) {
      yield* flush();
      yield* fileChunks(full, entry.size);
      const pad = paddingFor(entry.size);
      if (pad.length) add(pad);
    } else if (batched >= BATCH) yield* flush();
    if (type === "dir") stack.push(...childrenOf(root, rel).reverse());
  }
  add(END_OF_ARCHIVE);
  yield* flush();
}

function childrenOf(root: string, rel: string): string[] {
  const dir = rel === "" ? root : `${root}/${rel}`;
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort(compareBytes);
  return names.map((n) => (rel === "" ? n : `${rel}/${n}`));
}

/** Orders names by their UTF-8 bytes, like Go's sort.Strings, so output is stable. */
function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function* fileChunks(path: string, size: number): Generator<Uint8Array> {
  const file = Deno.openSync(path, { read: true });
  try {
    let left = size;
    while (left > 0) {
      const buf = new Uint8Array(Math.min(BATCH, left));
      let off = 0;
      while (off < buf.length) {
        const n = file.readSync(buf.subarray(off));
        if (n === null || n === 0) {
          throw new OciboxError(
            "FILE_CHANGED",
            `${path}: file shrank while being read (${size - left + off} of ${size} bytes)`,
          );
        }
        off += n;
      }
      left -= buf.length;
      yield buf;
    }
  } finally {
    file.close();
  }
}
