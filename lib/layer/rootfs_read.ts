/**
 * Reading small files out of an unpacked rootfs (e.g. /etc/passwd) the safe way: the path is
 * resolved as if the rootfs were `/`, so a symlink in an image cannot point the reader at a
 * file of the host, and only regular files of bounded size are read.
 * @module
 */
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  O_DIRECTORY,
  O_PATH,
  O_RDONLY,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
  S_IFMT,
  S_IFREG,
} from "../../ffi/constants.ts";
import { Errno, ErrnoError } from "../../ffi/errno.ts";
import { close, fdPath, openat2, statx } from "../../ffi/fs.ts";
import { OciboxError } from "../errors.ts";

/**
 * The text of `path` inside `rootfs`, or undefined when it does not exist.
 *
 * @example
 * ```ts
 * import { readRootfsText } from "./rootfs_read.ts";
 * const passwd = readRootfsText("/tmp/bundle/rootfs", "/etc/passwd");
 * ```
 */
export function readRootfsText(rootfs: string, path: string, limit = 4 << 20): string | undefined {
  const root = openat2(AT_FDCWD, rootfs, O_RDONLY | O_DIRECTORY, 0, 0);
  let fd: number;
  try {
    // O_PATH first: opening a FIFO or device to read it could block or trigger it.
    fd = openat2(root, path, O_PATH, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  } catch (e) {
    if (e instanceof ErrnoError && (e.errno === Errno.ENOENT || e.errno === Errno.ENOTDIR)) {
      return undefined;
    }
    throw e;
  } finally {
    close(root);
  }
  try {
    const st = statx(fd, "", AT_EMPTY_PATH);
    if ((st.mode & S_IFMT) !== S_IFREG) {
      throw new OciboxError("NOT_A_FILE", `${path} in ${rootfs} is not a regular file`);
    }
    if (st.size > limit) {
      throw new OciboxError("TOO_LARGE", `${path} in ${rootfs} is larger than ${limit} bytes`);
    }
    // Reopening through /proc opens this very inode, now known to be a regular file.
    return new TextDecoder().decode(Deno.readFileSync(fdPath(fd)));
  } finally {
    close(fd);
  }
}
