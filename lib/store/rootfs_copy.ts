/**
 * overlayfs's merge done in user space: cached layer dirs (overlay upper dirs, bottom first)
 * merged into one plain tree, with overlay's rules — a 0/0 character device is a whiteout that
 * removes the name, a directory marked `trusted.overlay.opaque=y` hides what lower layers had
 * in it, an upper directory over a lower one merges with it and takes its attributes, anything
 * else replaces what is below. Two uses:
 *
 * - **flat dirs** (mode "link"): the bottom layers of an image too tall for one overlay mount
 *   become one lower dir of hardlinks to the cached files (no data copied; the cache is
 *   read-only);
 * - **the copy fallback** (mode "copy", {@linkcode copyRootfs}): where overlay cannot be
 *   mounted, a container gets its own copy of the image's files, each file's data cloned with
 *   FICLONE where the file system shares blocks (btrfs, XFS), else copied in the kernel
 *   (copy_file_range). Without a complete cache the layer blobs are applied instead, as
 *   `ocibox unpack` does.
 *
 * Names are handled as bytes (getdents64, surrogate-escaped strings), so names that are not
 * UTF-8 survive; every lookup in the target goes through descriptors opened with O_NOFOLLOW, so
 * no symlink in a layer is ever followed.
 *
 * @example
 * ```ts
 * import { mergeLayerDirs } from "./rootfs_copy.ts";
 * await mergeLayerDirs(["/c/layers/a/diff", "/c/layers/b/diff"], "/tmp/merged", { mode: "copy" });
 * ```
 * @module
 */
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_REMOVEDIR,
  AT_SYMLINK_NOFOLLOW,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_WRONLY,
  RESOLVE_BENEATH,
  RESOLVE_NO_SYMLINKS,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from "../../ffi/constants.ts";
import { DT, readDirents, readlinkBytes } from "../../ffi/dirents.ts";
import { Errno, ErrnoError } from "../../ffi/errno.ts";
import {
  close,
  fchmod,
  fchmodat,
  fchown,
  fchownat,
  fdPath,
  flistxattr,
  fremovexattr,
  fsetxattr,
  futimens,
  geteuid,
  lgetxattr,
  linkat,
  llistxattr,
  lsetxattr,
  mkdirat,
  mknodat,
  openat,
  openat2,
  type StatX,
  statx,
  statxIfExists,
  symlinkat,
  unlinkat,
  utimensat,
} from "../../ffi/fs.ts";
import { copyFileRange, ficlone, MountErrno, sendfile } from "../../ffi/mount.ts";
import { throwIfAborted } from "../errors.ts";
import { EventLoopYield } from "../io/event_loop.ts";
import { dirname } from "../io/paths.ts";
import { RootfsWriter } from "../layer/rootfs_writer.ts";
import { decodeTarString } from "../archive/tar/header.ts";
import { quietReporter, type Reporter } from "../report/reporter.ts";
import type { ImageSource } from "../transport/types.ts";
import { chainIds, diffDir } from "./layer_chain.ts";
import { applyLayerFrom, type ImageLayers, imageLayers, startInflater } from "./layer_source.ts";

/** How {@linkcode mergeLayerDirs} makes the files of the result. */
export interface MergeOptions {
  /**
   * "link": hardlinks to the layers' files (for read-only results); "copy": files of their own
   * (data cloned or copied in the kernel), with owners, modes, times and xattrs.
   */
  mode: "link" | "copy";
  /** No ownership changes and no device nodes (empty files instead). Default: euid != 0. */
  rootless?: boolean;
  signal?: AbortSignal;
  onWarning?: (message: string) => void;
}

/** What a merge made. */
export interface MergeStats {
  /** Entries read from all layers (whiteouts included). */
  entries: number;
  /** Non-directories made (files, links, devices ...). */
  files: number;
  /** Bytes of file data cloned or copied ("copy" mode). */
  bytes: number;
  /** Files whose data was cloned by FICLONE rather than copied. */
  reflinked: number;
}

const OVERLAY_XATTR = "trusted.overlay.";
const OPAQUE_XATTR = "trusted.overlay.opaque";
// A hardlink or reflink that cannot be made here: copy instead.
const CANNOT_SHARE = new Set<number>([
  Errno.EXDEV,
  Errno.EINVAL,
  Errno.EOPNOTSUPP,
  Errno.ENOSYS,
  Errno.EPERM,
  MountErrno.ENOTTY,
  MountErrno.EMLINK,
]);

/**
 * Merges `layers` (overlay upper dirs, bottom first) into `target` (absent or an empty
 * directory) as overlayfs would show them. The root directory takes the top layer's
 * attributes.
 */
export async function mergeLayerDirs(
  layers: readonly string[],
  target: string,
  options: MergeOptions,
): Promise<MergeStats> {
  try {
    await Deno.mkdir(target, { mode: 0o755 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  const m = new Merger(target, options);
  try {
    for (const [i, dir] of layers.entries()) await m.layer(dir, i === 0);
    if (layers.length > 0) m.rootAttributes(layers.at(-1)!);
  } finally {
    m.close();
  }
  return m.stats;
}

class Merger {
  readonly stats: MergeStats = { entries: 0, files: 0, bytes: 0, reflinked: 0 };
  readonly #root: number;
  readonly #link: boolean;
  readonly #rootless: boolean;
  readonly #signal?: AbortSignal;
  readonly #warn: (m: string) => void;
  readonly #turns = new EventLoopYield();
  // In the layer being merged: a source inode with several names -> the first one made.
  readonly #firstName = new Map<bigint, string>();
  #reflink = true;
  #copyRange = true;

  constructor(target: string, options: MergeOptions) {
    this.#root = openat(AT_FDCWD, target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    this.#link = options.mode === "link";
    this.#rootless = options.rootless ?? geteuid() !== 0;
    this.#signal = options.signal;
    this.#warn = options.onWarning ?? (() => {});
  }

  close(): void {
    close(this.#root);
  }

  async layer(dir: string, first: boolean): Promise<void> {
    const src = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    this.#firstName.clear();
    try {
      await this.#dir(src, this.#root, "", first);
    } finally {
      close(src);
    }
  }

  rootAttributes(dir: string): void {
    const src = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      this.#dirAttrs(`${fdPath(src)}/.`, this.#root, statx(src, "", AT_EMPTY_PATH), false);
    } finally {
      close(src);
    }
  }

  /** `empty`: `tgt` held nothing before this layer (its names cannot meet anything there). */
  async #dir(src: number, tgt: number, rel: string, empty: boolean): Promise<void> {
    for (const ent of readDirents(src)) {
      await this.#turns.maybe();
      throwIfAborted(this.#signal);
      this.stats.entries++;
      const name = decodeTarString(ent.name, 0, ent.name.length);
      const path = rel === "" ? name : `${rel}/${name}`;
      const st = statx(src, name, AT_SYMLINK_NOFOLLOW);
      const type = st.mode & S_IFMT;
      const there = empty ? undefined : statxIfExists(tgt, name, AT_SYMLINK_NOFOLLOW);
      if (type === S_IFCHR && st.rdevMajor === 0 && st.rdevMinor === 0) {
        if (there) removeEntry(tgt, name, there.mode);
        continue;
      }
      if (type !== S_IFDIR) {
        if (there) removeEntry(tgt, name, there.mode);
        this.#nonDir(src, tgt, name, ent.name, path, st);
        continue;
      }
      let fresh = false;
      if (there && (there.mode & S_IFMT) === S_IFDIR) {
        if (isOpaque(fdPath(src, name))) emptyDir(tgt, name);
      } else {
        if (there) removeEntry(tgt, name, there.mode);
        mkdirat(tgt, name, 0o700);
        fresh = true;
      }
      const s2 = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      try {
        const t2 = openat(tgt, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        try {
          await this.#dir(s2, t2, path, fresh);
          this.#dirAttrs(fdPath(src, name), t2, st, fresh);
        } finally {
          close(t2);
        }
      } finally {
        close(s2);
      }
    }
  }

  #nonDir(src: number, tgt: number, name: string, raw: Uint8Array, path: string, st: StatX) {
    this.stats.files++;
    if (this.#link && this.#share(() => linkat(src, name, tgt, name, 0))) return;
    if (st.nlink > 1) {
      const first = this.#firstName.get(st.ino);
      if (first !== undefined && this.#share(() => this.#linkTo(first, tgt, name))) return;
      this.#firstName.set(st.ino, path);
    }
    const type = st.mode & S_IFMT;
    if (type === S_IFREG) return this.#copyFile(src, tgt, name, st);
    if (type === S_IFLNK) {
      const cname = new Uint8Array(raw.length + 1);
      cname.set(raw);
      const target = readlinkBytes(src, cname);
      symlinkat(decodeTarString(target, 0, target.length), tgt, name);
    } else if ((type === S_IFCHR || type === S_IFBLK) && this.#rootless) {
      return this.#placeholder(tgt, name, path, "creating devices needs root");
    } else {
      try {
        mknodat(tgt, name, type | 0o600, st.rdevMajor, st.rdevMinor);
      } catch (e) {
        if (e instanceof ErrnoError && e.errno === Errno.EPERM && type !== S_IFIFO) {
          return this.#placeholder(tgt, name, path, e.message);
        }
        throw e;
      }
    }
    if (!this.#rootless) fchownat(tgt, name, st.uid, st.gid, AT_SYMLINK_NOFOLLOW);
    this.#copyXattrs(fdPath(src, name), (n, v) => lsetxattr(fdPath(tgt, name), n, v), name);
    if (type !== S_IFLNK) fchmodat(tgt, name, st.mode & 0o7777);
    utimensat(tgt, name, st.mtimeSec, st.mtimeNsec, AT_SYMLINK_NOFOLLOW);
  }

  /** Runs a hardlink or reflink; false when the file system cannot, so the caller copies. */
  #share(make: () => void): boolean {
    try {
      make();
      return true;
    } catch (e) {
      if (e instanceof ErrnoError && CANNOT_SHARE.has(e.errno)) return false;
      throw e;
    }
  }

  /** Links `name` in `tgt` to the result's `first` (a path made earlier in this layer). */
  #linkTo(first: string, tgt: number, name: string): void {
    const slash = first.lastIndexOf("/");
    const parent = slash < 0 ? "" : first.slice(0, slash);
    const base = first.slice(slash + 1);
    const pfd = parent === ""
      ? this.#root
      : openat2(this.#root, parent, O_PATH | O_DIRECTORY, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
    try {
      linkat(pfd, base, tgt, name, 0);
    } finally {
      if (pfd !== this.#root) close(pfd);
    }
  }

  #copyFile(src: number, tgt: number, name: string, st: StatX): void {
    const input = openat(src, name, O_RDONLY | O_NOFOLLOW);
    try {
      const out = openat(tgt, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        this.#copyData(input, out, st.size);
        if (!this.#rootless) fchown(out, st.uid, st.gid);
        this.#copyXattrs(fdPath(src, name), (n, v) => fsetxattr(out, n, v), name);
        fchmod(out, st.mode & 0o7777);
        futimens(out, st.mtimeSec, st.mtimeNsec);
      } finally {
        close(out);
      }
    } finally {
      close(input);
    }
  }

  #copyData(input: number, out: number, size: number): void {
    if (size === 0) return;
    if (this.#reflink) {
      if (this.#share(() => ficlone(out, input))) {
        this.stats.reflinked++;
        this.stats.bytes += size;
        return;
      }
      this.#reflink = false; // one refusal is the file system's answer for all
    }
    for (let left = size; left > 0;) {
      let n: number;
      if (this.#copyRange) {
        try {
          n = copyFileRange(input, out, 1 << 30);
        } catch (e) {
          if (!(e instanceof ErrnoError && CANNOT_SHARE.has(e.errno))) throw e;
          this.#copyRange = false;
          continue;
        }
      } else n = sendfile(out, input, 1 << 30);
      if (n === 0) return; // shorter than statx said (cannot happen in the read-only cache)
      this.stats.bytes += n;
      left -= n;
    }
  }

  #placeholder(tgt: number, name: string, path: string, why: string): void {
    const fd = openat(tgt, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0);
    try {
      fchmod(fd, 0);
    } finally {
      close(fd);
    }
    this.#warn(`device ${path} is an empty file instead: ${why}`);
  }

  /**
   * A directory's owner, xattrs, mode and times (after its children, which change its mtime).
   * A directory that was already there (a lower layer's) has its xattrs replaced.
   */
  #dirAttrs(srcPath: string, tgt: number, st: StatX, fresh: boolean): void {
    if (!this.#rootless) fchown(tgt, st.uid, st.gid);
    const wanted = this.#copyXattrs(srcPath, (n, v) => fsetxattr(tgt, n, v), srcPath);
    if (!fresh) {
      for (const name of flistxattr(tgt)) {
        if (!wanted.has(name) && !name.startsWith(OVERLAY_XATTR)) fremovexattr(tgt, name);
      }
    }
    fchmod(tgt, st.mode & 0o7777);
    futimens(tgt, st.mtimeSec, st.mtimeNsec);
  }

  /** Copies the xattrs of `srcPath` (not following it) but overlayfs's own; returns their names. */
  #copyXattrs(
    srcPath: string,
    set: (name: string, value: Uint8Array) => void,
    what: string,
  ): Set<string> {
    const names = new Set<string>();
    for (const name of llistxattr(srcPath)) {
      if (name.startsWith(OVERLAY_XATTR)) continue;
      names.add(name);
      try {
        set(name, lgetxattr(srcPath, name));
      } catch (e) {
        const code = e instanceof ErrnoError ? e.errno : 0;
        if (code !== Errno.EPERM && code !== Errno.EOPNOTSUPP && code !== Errno.EACCES) throw e;
        this.#warn(`could not set xattr ${name} on ${what}: ${(e as Error).message}`);
      }
    }
    return names;
  }
}

/** Whether the directory at `path` (not followed) is an opaque overlay directory. */
function isOpaque(path: string): boolean {
  try {
    const v = lgetxattr(path, OPAQUE_XATTR);
    return v.length === 1 && v[0] === 0x79; // "y"
  } catch {
    return false; // ENODATA, or trusted.* unreadable without privilege
  }
}

/** Removes `name` in `dirfd` (its statx `mode` says what it is), a directory with its contents. */
export function removeEntry(dirfd: number, name: string, mode: number): void {
  if ((mode & S_IFMT) !== S_IFDIR) return unlinkat(dirfd, name, 0);
  emptyDir(dirfd, name);
  unlinkat(dirfd, name, AT_REMOVEDIR);
}

/** Removes everything in directory `name` of `dirfd`, never following a symlink. */
function emptyDir(dirfd: number, name: string): void {
  const fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    for (const ent of readDirents(fd)) {
      const child = decodeTarString(ent.name, 0, ent.name.length);
      const isDir = ent.type === DT.UNKNOWN
        ? (statx(fd, child, AT_SYMLINK_NOFOLLOW).mode & S_IFMT) === S_IFDIR
        : ent.type === DT.DIR;
      if (isDir) removeEntry(fd, child, S_IFDIR);
      else unlinkat(fd, child, 0);
    }
  } finally {
    close(fd);
  }
}

/** Options of {@linkcode copyRootfs}. */
export interface CopyRootfsOptions {
  /** No ownership and no devices, as `unpack --rootless`. Default: euid != 0. */
  rootless?: boolean;
  /** Inflate on a second core when applying blobs (default: over 4 MiB of layers). */
  offThread?: boolean;
  reporter?: Reporter;
  signal?: AbortSignal;
}

/** How {@linkcode copyRootfs} made the tree. */
export interface CopyRootfsResult {
  /** "cache": merged from the cached layer dirs; "layers": the layer blobs applied. */
  source: "cache" | "layers";
  files: number;
  bytes: number;
  reflinked: number;
}

/**
 * The copy fallback for a container's rootfs where overlay cannot be mounted: the image's
 * files as a tree of their own at `target` (absent or an empty directory), equal to what
 * `ocibox unpack` makes. From the layer cache when every layer is there and this is root (data
 * cloned where the file system can), else by applying the layer blobs of `src` (verified as
 * they stream). Built
 * in a hidden directory beside `target` and renamed into place: on failure nothing is left.
 */
export async function copyRootfs(
  store: string,
  src: ImageSource,
  image: ImageLayers,
  target: string,
  options: CopyRootfsOptions = {},
): Promise<CopyRootfsResult> {
  const layers = imageLayers(src.name, image);
  const ids = chainIds(layers.map((l) => l.diffId));
  // Opaque marks are trusted.* xattrs, which only root can read.
  const cached = geteuid() === 0 && await allExist(ids.map((id) => diffDir(store, id)));
  const parent = dirname(target);
  await Deno.mkdir(parent, { recursive: true });
  const staging = await Deno.makeTempDir({ dir: parent, prefix: ".tmp-ocibox-rootfs-" });
  await Deno.chmod(staging, 0o755);
  const reporter = options.reporter ?? quietReporter();
  try {
    let result: CopyRootfsResult;
    if (cached) {
      const stats = await mergeLayerDirs(ids.map((id) => diffDir(store, id)), staging, {
        mode: "copy",
        rootless: options.rootless,
        signal: options.signal,
        onWarning: (m) => reporter.warn(m),
      });
      result = { source: "cache", ...stats };
    } else {
      result = await applyAll(src, layers, staging, options, reporter);
    }
    try {
      await Deno.remove(target); // an empty directory, or nothing
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await Deno.rename(staging, target);
    return result;
  } catch (e) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw e;
  }
}

async function applyAll(
  src: ImageSource,
  layers: ReturnType<typeof imageLayers>,
  rootfs: string,
  options: CopyRootfsOptions,
  reporter: Reporter,
): Promise<CopyRootfsResult> {
  const inflater = await startInflater(layers, options.offThread);
  const writer = new RootfsWriter(rootfs, {
    rootless: options.rootless,
    onWarning: (m) => reporter.warn(m),
  });
  let files = 0, bytes = 0;
  try {
    for (const [i, layer] of layers.entries()) {
      throwIfAborted(options.signal);
      reporter.info(`Applying layer ${i + 1}/${layers.length} ${layer.descriptor.digest}`);
      const applied = await applyLayerFrom(src, layer, writer, {
        signal: options.signal,
        inflater,
      });
      files += applied.stats.files;
      bytes += applied.stats.bytes;
    }
  } finally {
    writer.close();
    inflater?.terminate();
  }
  return { source: "layers", files, bytes, reflinked: 0 };
}

async function allExist(paths: readonly string[]): Promise<boolean> {
  for (const p of paths) {
    try {
      await Deno.lstat(p);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }
  return true;
}
