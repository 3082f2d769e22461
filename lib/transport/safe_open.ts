/**
 * Opening the files of a stored image so that what the image is made of cannot choose what
 * ocibox reads: a member of a directory (an `oci:` layout, a `dir:` image, an extracted
 * `docker-archive:`) is resolved beneath that directory (openat2 RESOLVE_BENEATH: a symbolic
 * link out of it, absolute or through `..`, is refused, one that stays inside is followed), and
 * every file is looked at through its open descriptor before a byte is read: what is not a
 * regular file (a FIFO that would block the read for ever, a socket, a device, a directory) is
 * refused. The first open is an O_PATH one, which neither blocks on a FIFO nor wakes a device;
 * a regular file is then opened for reading through /proc/self/fd, which is the same inode and
 * cannot be swapped in between.
 *
 * @example
 * ```ts
 * import { streamBeneath } from "./safe_open.ts";
 * const stream = await streamBeneath("/tmp/layout", "index.json");
 * ```
 * @module
 */
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  O_DIRECTORY,
  O_PATH,
  RESOLVE_BENEATH,
  RESOLVE_NO_MAGICLINKS,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
} from "../../ffi/constants.ts";
import { Errno, ErrnoError } from "../../ffi/errno.ts";
import { close, fdPath, openat2, statx } from "../../ffi/fs.ts";
import { NotAFileError, NotFoundError, UnsafePathError } from "../errors.ts";
import { fileStream } from "../io/file_stream.ts";

/** What a path names, as this module reports it. */
export type FileKind =
  | "regular file"
  | "directory"
  | "FIFO"
  | "socket"
  | "character device"
  | "block device"
  | "symbolic link"
  | "file of unknown type";

/** A path's kind and (for regular files) size, from its descriptor. */
export interface FileFacts {
  kind: FileKind;
  size: number;
}

function kindOf(mode: number): FileKind {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "regular file";
    case S_IFDIR:
      return "directory";
    case S_IFIFO:
      return "FIFO";
    case S_IFSOCK:
      return "socket";
    case S_IFCHR:
      return "character device";
    case S_IFBLK:
      return "block device";
    case S_IFLNK:
      return "symbolic link";
    default:
      return "file of unknown type";
  }
}

// openat2 answers EAGAIN when a rename elsewhere raced with a RESOLVE_BENEATH walk.
const EAGAIN_TRIES = 8;

/**
 * An O_PATH descriptor of `rel` beneath the directory `root`, or undefined when nothing is there
 * (a missing name, or a name under something that is not a directory). `root` itself may be a
 * symbolic link: the user named it.
 *
 * @throws {UnsafePathError} when resolving `rel` would leave `root`.
 */
function pathFdBeneath(root: string, rel: string): number | undefined {
  const where = `${root}/${rel}`;
  let dir: number;
  try {
    dir = openat2(AT_FDCWD, root, O_PATH | O_DIRECTORY, 0, 0);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw withPath(e, root);
  }
  try {
    for (let attempt = 1;; attempt++) {
      try {
        return openat2(dir, rel, O_PATH, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
      } catch (e) {
        if (isMissing(e)) return undefined;
        if (!(e instanceof ErrnoError)) throw e;
        if (e.errno === Errno.EAGAIN && attempt < EAGAIN_TRIES) continue;
        if (e.errno === Errno.EXDEV) {
          throw new UnsafePathError(
            where,
            `a symbolic link leads outside ${root}; an image's files must be inside it`,
          );
        }
        if (e.errno === Errno.ELOOP) {
          throw new UnsafePathError(where, "too many symbolic links, or a link through /proc");
        }
        throw withPath(e, where);
      }
    }
  } finally {
    close(dir);
  }
}

function isMissing(e: unknown): boolean {
  return e instanceof ErrnoError && (e.errno === Errno.ENOENT || e.errno === Errno.ENOTDIR);
}

/** The same failure, naming the whole path rather than the part given to the call. */
function withPath(e: unknown, path: string): unknown {
  return e instanceof ErrnoError ? new ErrnoError(e.errno, "open", path) : e;
}

function factsOf(fd: number): FileFacts {
  const st = statx(fd, "", AT_EMPTY_PATH);
  return { kind: kindOf(st.mode), size: st.size };
}

/** The error for `kind` found where a regular file was expected. */
export function notRegular(where: string, kind: FileKind): NotAFileError {
  return new NotAFileError(where, `is a ${kind}, not a regular file`);
}

/**
 * The kind and size of `rel` beneath `root`, or undefined when it does not exist. Nothing is
 * opened for reading.
 *
 * @throws {UnsafePathError} when `rel` resolves outside `root`.
 * @example
 * ```ts
 * statBeneath("/tmp/layout", "oci-layout"); // { kind: "regular file", size: 30 }
 * ```
 */
export function statBeneath(root: string, rel: string): FileFacts | undefined {
  const fd = pathFdBeneath(root, rel);
  if (fd === undefined) return undefined;
  try {
    return factsOf(fd);
  } finally {
    close(fd);
  }
}

/**
 * A stream of the regular file `rel` beneath `root`.
 *
 * @throws {NotFoundError} when it does not exist.
 * @throws {UnsafePathError} when it resolves outside `root`.
 * @throws {NotAFileError} when it is not a regular file (a FIFO, device, socket, directory).
 * @example
 * ```ts
 * const stream = await streamBeneath("/tmp/layout", "index.json");
 * ```
 */
export async function streamBeneath(
  root: string,
  rel: string,
): Promise<ReadableStream<Uint8Array>> {
  const fd = pathFdBeneath(root, rel);
  if (fd === undefined) throw new NotFoundError(`${root}: ${rel} does not exist`);
  try {
    const { kind } = factsOf(fd);
    if (kind !== "regular file") throw notRegular(`${root}/${rel}`, kind);
    // fileStream opens at once, through /proc: the inode just looked at, whatever the path
    // names by now.
    return await fileStream(fdPath(fd));
  } finally {
    close(fd);
  }
}

/**
 * An archive the user named, held by an O_PATH descriptor: read it through `path` (its
 * /proc/self/fd name, the very file that was checked) until {@linkcode ArchiveHandle.close}.
 */
export interface ArchiveHandle {
  /** `/proc/self/fd/N`: open it (as often as needed) to read the archive. */
  readonly path: string;
  /** A regular file is read in place; a FIFO (a pipe, `/dev/stdin`) only as a stream. */
  readonly kind: "regular file" | "FIFO";
  /** The regular file's size (0 for a FIFO). */
  readonly size: number;
  /** Releases the descriptor; `path` means nothing afterwards. */
  close(): void;
}

/**
 * Takes hold of an archive file the user named (symbolic links followed). Regular files and
 * FIFOs (a pipe given as `/dev/stdin`, which a reader waits on as for any pipe) are accepted;
 * anything else, where a read could return bytes for ever (`/dev/zero`), wait on a terminal or
 * fail obscurely, is refused.
 *
 * @throws {NotFoundError} when `path` does not exist.
 * @throws {NotAFileError} for a directory, device or socket.
 * @example
 * ```ts
 * const archive = openArchivePath("image.tar");
 * try {
 *   using file = await Deno.open(archive.path);
 * } finally {
 *   archive.close();
 * }
 * ```
 */
export function openArchivePath(path: string): ArchiveHandle {
  let fd: number;
  try {
    fd = openat2(AT_FDCWD, path, O_PATH, 0, 0);
  } catch (e) {
    if (isMissing(e)) throw new NotFoundError(`${path} does not exist`);
    throw withPath(e, path);
  }
  let facts: FileFacts;
  try {
    facts = factsOf(fd);
  } catch (e) {
    close(fd);
    throw e;
  }
  const { kind, size } = facts;
  if (kind !== "regular file" && kind !== "FIFO") {
    close(fd);
    throw new NotAFileError(
      path,
      kind === "directory"
        ? "is a directory, not a tar archive"
        : `is a ${kind}, not a tar archive (a regular file or a pipe)`,
    );
  }
  let open = true;
  return {
    path: fdPath(fd),
    kind,
    size: kind === "FIFO" ? 0 : size,
    close() {
      if (open) close(fd);
      open = false;
    },
  };
}
