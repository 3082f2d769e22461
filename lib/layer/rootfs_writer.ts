/**
 * Applies layer changesets (layer.md) to a rootfs directory, entry by entry, as a synchronous
 * {@linkcode TarSink} fed by the tar reader.
 *
 * Safety model: every path is resolved with openat2(RESOLVE_IN_ROOT) from a descriptor of the
 * rootfs, so symlinks met on the way (absolute, relative, `..`) are followed as if the rootfs
 * were `/` — the way the container will see them — and nothing outside the rootfs can be
 * created, changed or followed. Names that climb out lexically (`../x`) and hardlinks to such
 * names are refused with {@linkcode UnsafePathError}. The final component is never followed.
 *
 * @example
 * ```ts
 * import { RootfsWriter } from "./rootfs_writer.ts";
 * import { TarReader } from "./tar/reader.ts";
 * const writer = new RootfsWriter("/tmp/rootfs");
 * const layer = writer.beginLayer();
 * const reader = new TarReader(layer);
 * // reader.push(chunk) for every chunk of the uncompressed tar, then:
 * reader.end();
 * layer.finish();
 * writer.close();
 * ```
 * @module
 */
import {
  AT_FDCWD,
  AT_REMOVEDIR,
  AT_SYMLINK_NOFOLLOW,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_RDONLY,
  O_WRONLY,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFMT,
} from "../../ffi/constants.ts";
import { Errno, ErrnoError } from "../../ffi/errno.ts";
import {
  close,
  fchmod,
  fchmodat,
  fchown,
  fchownat,
  fdPath,
  fsetxattr,
  futimens,
  geteuid,
  linkat,
  lsetxattr,
  mkdirat,
  mknodat,
  openat,
  openat2,
  statxIfExists,
  symlinkat,
  unlinkat,
  utimensat,
  writeAll,
} from "../../ffi/fs.ts";
import { LayerApplyError, OciboxError, UnsafePathError } from "../errors.ts";
import { classifyWhiteout, cleanEntryPath, isWithin, splitPath } from "./entry_path.ts";
import type { TarEntry, TarSink } from "./tar/entry.ts";

/** How a rootfs is written. */
export interface RootfsWriterOptions {
  /**
   * Unprivileged mode: ownership is not changed and device nodes are skipped (as umoci's
   * --rootless). Defaults to true when the effective uid is not 0.
   */
  rootless?: boolean;
  /** Receives one line per thing that could not be applied but is not fatal. */
  onWarning?: (message: string) => void;
}

/** Counts of what one layer did, for progress and tests. */
export interface LayerStats {
  entries: number;
  files: number;
  bytes: number;
  whiteouts: number;
  skipped: number;
}

const RESOLVE = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
const MAX_CACHED_DIRS = 128;
// xattrs that would steer overlayfs if the rootfs becomes an overlay lower dir.
const DROPPED_XATTR_PREFIX = "trusted.overlay.";

/** Writes layers, one after another, into a rootfs directory. */
export class RootfsWriter {
  readonly rootless: boolean;
  readonly #warn: (message: string) => void;
  readonly #root: number;
  // Clean path -> open directory fd, in insertion order for simple eviction.
  readonly #dirs = new Map<string, number>();
  #closed = false;

  constructor(rootPath: string, options: RootfsWriterOptions = {}) {
    this.rootless = options.rootless ?? geteuid() !== 0;
    this.#warn = options.onWarning ?? (() => {});
    this.#root = openat(AT_FDCWD, rootPath, O_RDONLY | O_DIRECTORY);
  }

  /** Starts applying the next layer; feed the returned sink with a TarReader. */
  beginLayer(): LayerApplier {
    if (this.#closed) throw new Error("RootfsWriter is closed");
    return new LayerApplier(this);
  }

  /** Closes every descriptor held; call once all layers are applied. */
  close(): void {
    this.#dropCache("");
    close(this.#root);
    this.#closed = true;
  }

  get rootFd(): number {
    return this.#root;
  }

  warn(message: string): void {
    this.#warn(message);
  }

  /** An fd of directory `path` (clean), creating missing directories when `create`. */
  dir(path: string, create: boolean, created?: (path: string) => void): number | undefined {
    if (path === "") return this.#root;
    const cached = this.#dirs.get(path);
    if (cached !== undefined) return cached;
    let fd: number;
    try {
      fd = openat2(this.#root, path, O_RDONLY | O_DIRECTORY, 0, RESOLVE);
    } catch (e) {
      if (!(e instanceof ErrnoError)) throw e;
      if (e.errno === Errno.ENOTDIR) {
        if (!create) return undefined;
        throw new LayerApplyError(path, "a parent of this path is not a directory", { cause: e });
      }
      if (e.errno !== Errno.ENOENT || !create) {
        if (e.errno === Errno.ENOENT) return undefined;
        throw e;
      }
      const [parent, base] = splitPath(path);
      const pfd = this.dir(parent, true, created)!;
      try {
        mkdirat(pfd, base, 0o755);
        created?.(path);
      } catch (e2) {
        if (!(e2 instanceof ErrnoError && e2.errno === Errno.EEXIST)) throw e2;
      }
      try {
        fd = openat2(this.#root, path, O_RDONLY | O_DIRECTORY, 0, RESOLVE);
      } catch (e3) {
        throw new LayerApplyError(
          path,
          "cannot create this directory: something else is in the way",
          {
            cause: e3,
          },
        );
      }
    }
    this.remember(path, fd);
    return fd;
  }

  /** Caches `fd` as the directory at `path`; the writer owns and closes it. */
  remember(path: string, fd: number): void {
    const old = this.#dirs.get(path);
    if (old !== undefined && old !== fd) close(old);
    this.#dirs.set(path, fd);
    if (this.#dirs.size > MAX_CACHED_DIRS) {
      const [oldestPath, oldestFd] = this.#dirs.entries().next().value as [string, number];
      this.#dirs.delete(oldestPath);
      close(oldestFd);
    }
  }

  /** Forgets cached directories at or under `path` (it is being removed or replaced). */
  #dropCache(path: string): void {
    for (const [p, fd] of this.#dirs) {
      if (isWithin(p, path)) {
        close(fd);
        this.#dirs.delete(p);
      }
    }
  }

  /** Removes `base` in directory `pfd` (the entry at clean `path`), recursively if a directory. */
  remove(pfd: number, base: string, path: string, isDir: boolean): void {
    if (isDir) {
      this.#dropCache(path);
      // Deno's recursive remove does not follow symlinks; the /proc path pins the parent we
      // resolved inside the root.
      Deno.removeSync(fdPath(pfd, base), { recursive: true });
    } else unlinkat(pfd, base, 0);
  }

  /** Removes a now-empty directory (used when an empty dir is replaced). */
  removeEmptyDir(pfd: number, base: string, path: string): void {
    this.#dropCache(path);
    unlinkat(pfd, base, AT_REMOVEDIR);
  }
}

interface DelayedDir {
  path: string;
  mode: number;
  mtime: number;
  mtimeNsec: number;
}

/** Applies one layer's entries; obtained from {@linkcode RootfsWriter.beginLayer}. */
export class LayerApplier implements TarSink {
  readonly stats: LayerStats = { entries: 0, files: 0, bytes: 0, whiteouts: 0, skipped: 0 };
  readonly #w: RootfsWriter;
  // Paths this layer created: whiteouts only hide lower layers (layer.md).
  readonly #written = new Set<string>();
  readonly #delayed: DelayedDir[] = [];
  #file = -1;
  #fileEntry: TarEntry | undefined;
  #filePath = "";

  constructor(writer: RootfsWriter) {
    this.#w = writer;
  }

  entry(entry: TarEntry): void {
    this.stats.entries++;
    let path = "";
    try {
      path = cleanEntryPath(entry.name);
      this.#apply(entry, path);
    } catch (e) {
      if (this.#file >= 0) this.#closeFile();
      throw wrap(e, path || entry.name);
    }
  }

  data(chunk: Uint8Array): void {
    if (this.#file < 0) return;
    try {
      writeAll(this.#file, chunk);
    } catch (e) {
      this.#closeFile();
      throw wrap(e, this.#filePath);
    }
    this.stats.bytes += chunk.length;
  }

  entryEnd(): void {
    if (this.#file < 0) return;
    const e = this.#fileEntry!;
    const fd = this.#file;
    try {
      this.#setOwner(() => fchown(fd, e.uid, e.gid));
      this.#setXattrs(e, (name, value) => fsetxattr(fd, name, value));
      fchmod(fd, e.mode);
      futimens(fd, e.mtime, e.mtimeNsec);
    } catch (err) {
      throw wrap(err, this.#filePath);
    } finally {
      this.#closeFile();
    }
  }

  /** Applies delayed directory modes and times; call after the tar reader's end(). */
  finish(): void {
    const w = this.#w;
    // Newest first (so a directory re-created later in the layer wins), which is also children
    // before parents, so a parent's read-only mode cannot block reaching its children.
    const done = new Set<string>();
    for (let i = this.#delayed.length - 1; i >= 0; i--) {
      const d = this.#delayed[i];
      if (done.has(d.path)) continue;
      done.add(d.path);
      let fd: number;
      try {
        fd = d.path === ""
          ? w.rootFd
          : openat2(w.rootFd, d.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, RESOLVE);
      } catch (e) {
        // Replaced or removed later in the layer: nothing to restore.
        if (e instanceof ErrnoError) continue;
        throw e;
      }
      try {
        fchmod(fd, d.mode);
        futimens(fd, d.mtime, d.mtimeNsec);
      } catch (e) {
        throw wrap(e, d.path);
      } finally {
        if (fd !== w.rootFd) close(fd);
      }
    }
    this.#delayed.length = 0;
  }

  #closeFile(): void {
    close(this.#file);
    this.#file = -1;
    this.#fileEntry = undefined;
  }

  #apply(e: TarEntry, path: string): void {
    const wh = classifyWhiteout(path);
    if (wh.kind === "whiteout") return this.#whiteout(wh.target);
    if (wh.kind === "opaque") return this.#opaque(wh.dir);
    if (wh.kind === "meta") return;
    if (path === "") {
      if (e.type !== "dir") throw new LayerApplyError(e.name, `the root can only be a directory`);
      return this.#dirAttrs(this.#w.rootFd, "", e);
    }
    const w = this.#w;
    const [parent, base] = splitPath(path);
    const pfd = w.dir(parent, true, (p) => this.#written.add(p))!;
    this.#written.add(path);
    switch (e.type) {
      case "dir":
        return this.#mkdir(pfd, base, path, e);
      case "file": {
        this.#file = this.#create(
          pfd,
          base,
          path,
          () => openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600),
        );
        this.#fileEntry = e;
        this.#filePath = path;
        this.stats.files++;
        return;
      }
      case "symlink":
        this.#create(pfd, base, path, () => symlinkat(e.linkname, pfd, base));
        this.#setOwner(() => fchownat(pfd, base, e.uid, e.gid, AT_SYMLINK_NOFOLLOW));
        this.#setXattrs(e, (n, v) => lsetxattr(fdPath(pfd, base), n, v));
        utimensat(pfd, base, e.mtime, e.mtimeNsec, AT_SYMLINK_NOFOLLOW);
        return;
      case "hardlink":
        return this.#hardlink(pfd, base, path, e);
      case "char":
      case "block":
      case "fifo":
        return this.#mknod(pfd, base, path, e);
    }
  }

  /** Runs `make`; if the name exists, removes what is there (layer.md) and runs it again. */
  #create<T>(pfd: number, base: string, path: string, make: () => T): T {
    try {
      return make();
    } catch (e) {
      if (!(e instanceof ErrnoError && e.errno === Errno.EEXIST)) throw e;
    }
    const st = statxIfExists(pfd, base, AT_SYMLINK_NOFOLLOW);
    if (st) this.#w.remove(pfd, base, path, (st.mode & S_IFMT) === S_IFDIR);
    return make();
  }

  #mkdir(pfd: number, base: string, path: string, e: TarEntry): void {
    try {
      mkdirat(pfd, base, 0o700);
    } catch (err) {
      if (!(err instanceof ErrnoError && err.errno === Errno.EEXIST)) throw err;
      const st = statxIfExists(pfd, base, AT_SYMLINK_NOFOLLOW);
      // Both directories: keep the existing one and take the entry's attributes (layer.md).
      if (st && (st.mode & S_IFMT) !== S_IFDIR) {
        this.#w.remove(pfd, base, path, false);
        mkdirat(pfd, base, 0o700);
      }
    }
    const fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    this.#w.remember(path, fd);
    this.#dirAttrs(fd, path, e);
  }

  #dirAttrs(fd: number, path: string, e: TarEntry): void {
    this.#setOwner(() => fchown(fd, e.uid, e.gid));
    this.#setXattrs(e, (n, v) => fsetxattr(fd, n, v));
    // Modes and times are set after the layer: children change mtimes, and a read-only mode
    // would stop an unprivileged writer from filling the directory.
    this.#delayed.push({ path, mode: e.mode, mtime: e.mtime, mtimeNsec: e.mtimeNsec });
  }

  #hardlink(pfd: number, base: string, path: string, e: TarEntry): void {
    let target: string;
    try {
      target = cleanEntryPath(e.linkname);
    } catch {
      throw new UnsafePathError(
        e.name,
        `hardlink target ${JSON.stringify(e.linkname)} is outside the root`,
      );
    }
    if (target === "") throw new UnsafePathError(e.name, "hardlink to the root directory");
    if (target === path) return; // a link to itself: already there
    const [tparent, tbase] = splitPath(target);
    const tfd = this.#w.dir(tparent, false);
    if (tfd === undefined) {
      throw new LayerApplyError(path, `hardlink target ${JSON.stringify(target)} does not exist`);
    }
    try {
      this.#create(pfd, base, path, () => linkat(tfd, tbase, pfd, base, 0));
    } catch (err) {
      if (err instanceof ErrnoError && err.errno === Errno.ENOENT) {
        throw new LayerApplyError(path, `hardlink target ${JSON.stringify(target)} does not exist`);
      }
      if (err instanceof ErrnoError && err.errno === Errno.EPERM) {
        throw new LayerApplyError(path, `hardlink target ${JSON.stringify(target)} is a directory`);
      }
      throw err;
    }
  }

  #mknod(pfd: number, base: string, path: string, e: TarEntry): void {
    const type = e.type === "char" ? S_IFCHR : e.type === "block" ? S_IFBLK : S_IFIFO;
    if (type !== S_IFIFO && this.#w.rootless) {
      this.stats.skipped++;
      this.#written.delete(path);
      return this.#w.warn(`skipped device ${path}: creating devices needs root`);
    }
    try {
      this.#create(pfd, base, path, () => mknodat(pfd, base, type | 0o600, e.devmajor, e.devminor));
    } catch (err) {
      if (err instanceof ErrnoError && err.errno === Errno.EPERM && type !== S_IFIFO) {
        this.stats.skipped++;
        return this.#w.warn(`skipped device ${path}: ${err.message}`);
      }
      throw err;
    }
    this.#setOwner(() => fchownat(pfd, base, e.uid, e.gid, AT_SYMLINK_NOFOLLOW));
    this.#setXattrs(e, (n, v) => lsetxattr(fdPath(pfd, base), n, v));
    fchmodat(pfd, base, e.mode);
    utimensat(pfd, base, e.mtime, e.mtimeNsec, AT_SYMLINK_NOFOLLOW);
  }

  #whiteout(target: string): void {
    this.stats.whiteouts++;
    if (this.#written.has(target)) return; // same-layer entries are not hidden
    const [parent, base] = splitPath(target);
    const pfd = this.#w.dir(parent, false);
    if (pfd === undefined) return;
    const st = statxIfExists(pfd, base, AT_SYMLINK_NOFOLLOW);
    if (!st) return;
    const isDir = (st.mode & S_IFMT) === S_IFDIR;
    if (isDir && this.#hasWrittenUnder(target)) {
      // This layer already put things inside it: hide only what lower layers had.
      return this.#removeLowerChildren(target, this.#keepSet(target));
    }
    this.#w.remove(pfd, base, target, isDir);
  }

  #opaque(dir: string): void {
    this.stats.whiteouts++;
    if (this.#w.dir(dir, false) === undefined) return;
    this.#removeLowerChildren(dir, this.#keepSet(dir));
  }

  #hasWrittenUnder(dir: string): boolean {
    const prefix = dir + "/";
    for (const p of this.#written) if (p.startsWith(prefix)) return true;
    return false;
  }

  /** Paths under `dir` written by this layer, and every directory leading to them. */
  #keepSet(dir: string): Set<string> {
    const keep = new Set<string>();
    const prefix = dir === "" ? "" : dir + "/";
    for (const p of this.#written) {
      if (!p.startsWith(prefix) || p === dir) continue;
      let q = p;
      while (q.length > prefix.length && !keep.has(q)) {
        keep.add(q);
        const i = q.lastIndexOf("/");
        if (i < 0) break;
        q = q.slice(0, i);
      }
    }
    return keep;
  }

  /** Removes everything under `dir` that this layer did not write (opaque semantics). */
  #removeLowerChildren(dir: string, keep: Set<string>): void {
    const fd = this.#w.dir(dir, false);
    if (fd === undefined) return;
    const names = [...Deno.readDirSync(fdPath(fd))].map((d) => d.name);
    for (const name of names) {
      const child = dir === "" ? name : `${dir}/${name}`;
      const st = statxIfExists(fd, name, AT_SYMLINK_NOFOLLOW);
      if (!st) continue;
      const isDir = (st.mode & S_IFMT) === S_IFDIR;
      if (!keep.has(child)) this.#w.remove(fd, name, child, isDir);
      else if (isDir) this.#removeLowerChildren(child, keep);
    }
  }

  #setOwner(chown: () => void): void {
    if (!this.#w.rootless) chown();
  }

  #setXattrs(e: TarEntry, set: (name: string, value: Uint8Array) => void): void {
    if (e.xattrs.size === 0) return;
    for (const [name, value] of e.xattrs) {
      if (name.startsWith(DROPPED_XATTR_PREFIX)) {
        this.#w.warn(`dropped xattr ${name} of ${e.name}: overlayfs-private`);
        continue;
      }
      try {
        set(name, value);
      } catch (err) {
        const code = err instanceof ErrnoError ? err.errno : 0;
        if (code !== Errno.EPERM && code !== Errno.EOPNOTSUPP && code !== Errno.EACCES) throw err;
        this.#w.warn(`could not set xattr ${name} on ${e.name}: ${(err as Error).message}`);
      }
    }
  }
}

function wrap(e: unknown, path: string): unknown {
  if (e instanceof OciboxError) return e;
  if (e instanceof ErrnoError) return new LayerApplyError(path, e.message, { cause: e });
  if (e instanceof Error) return new LayerApplyError(path, e.message, { cause: e });
  return e;
}
