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
 * import { TarReader } from "../archive/tar/reader.ts";
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
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_RDONLY,
  O_WRONLY,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
} from "../../ffi/constants.ts";
import { Errno, ErrnoError } from "../../ffi/errno.ts";
import {
  close,
  currentUmask,
  fchmod,
  fchmodat,
  fchown,
  fchownat,
  fdPath,
  fhasxattr,
  flistxattr,
  fremovexattr,
  fsetxattr,
  futimens,
  getegid,
  geteuid,
  linkat,
  lsetxattr,
  mkdirat,
  mknodat,
  openat,
  openat2,
  readlinkat,
  type StatX,
  statx,
  statxIfExists,
  symlinkat,
  unlinkat,
  utimensat,
  writeAll,
} from "../../ffi/fs.ts";
import { LayerApplyError, OciboxError, UnsafePathError } from "../errors.ts";
import { classifyWhiteout, cleanEntryPath, splitPath } from "../archive/entry_path.ts";
import type { TarEntry, TarSink } from "../archive/tar/entry.ts";

/** How a rootfs is written. */
export interface RootfsWriterOptions {
  /**
   * Unprivileged mode: ownership is not changed and device nodes are skipped (as umoci's
   * --rootless). Defaults to true when the effective uid is not 0.
   */
  rootless?: boolean;
  /** Receives one line per thing that could not be applied but is not fatal. */
  onWarning?: (message: string) => void;
  /**
   * Hears the real (symlink-free) path of each directory an opaque marker (`.wh..wh..opq`)
   * emptied, "" for the root. The layer cache, applying into an overlay mount, marks those
   * directories `trusted.overlay.opaque` in the upper dir afterwards.
   */
  onOpaque?: (dir: string) => void;
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
// Labels and ACLs of the host, not part of a layer's attributes.
const KEPT_XATTR = (name: string) => name === "security.selinux" || name.startsWith("system.");

/** An open directory of the rootfs and its path without symlinks ("" is the root). */
export interface DirRef {
  fd: number;
  real: string;
  /** What a file created in it gets by itself; see {@linkcode RootfsWriter.inherited}. */
  inherit?: Inherited;
}

/** The owner group and mode a new file in a directory gets without fchown/fchmod. */
export interface Inherited {
  /** The writer's attribute generation this was read in. */
  gen: number;
  /** The gid of a new file (the directory's own when it is set-group-ID). */
  gid: number;
  /** The directory has a default ACL: the umask does not decide new files' modes. */
  acl: boolean;
}

const S_ISGID = 0o2000;

/** Writes layers, one after another, into a rootfs directory. */
export class RootfsWriter {
  readonly rootless: boolean;
  readonly #warn: (message: string) => void;
  readonly #onOpaque: ((dir: string) => void) | undefined;
  readonly #root: DirRef;
  readonly #rootReal: string;
  // Clean path as written in the layer -> open directory, in insertion order for eviction.
  readonly #dirs = new Map<string, DirRef>();
  #closed = false;
  readonly #euid: number;
  readonly #egid: number;
  readonly #umask: number | undefined;
  // Bumped whenever a directory's owner, mode or xattrs may have changed, so that what
  // `inherited` read before is read again.
  #gen = 0;

  constructor(rootPath: string, options: RootfsWriterOptions = {}) {
    this.rootless = options.rootless ?? geteuid() !== 0;
    this.#warn = options.onWarning ?? (() => {});
    this.#onOpaque = options.onOpaque;
    this.#euid = geteuid();
    this.#egid = getegid();
    this.#umask = currentUmask();
    const fd = openat(AT_FDCWD, rootPath, O_RDONLY | O_DIRECTORY);
    this.#root = { fd, real: "" };
    this.#rootReal = readlinkat(AT_FDCWD, fdPath(fd));
  }

  /** Starts applying the next layer; feed the returned sink with a TarReader. */
  beginLayer(): LayerApplier {
    if (this.#closed) throw new Error("RootfsWriter is closed");
    return new LayerApplier(this);
  }

  /** Closes every descriptor held; call once all layers are applied. */
  close(): void {
    this.dropCache();
    close(this.#root.fd);
    this.#closed = true;
  }

  get root(): DirRef {
    return this.#root;
  }

  /** Directory attributes may have changed: what {@linkcode inherited} knows is stale. */
  attributesChanged(): void {
    this.#gen++;
  }

  /**
   * What a file created in `dir` with `open(..., mode & 0o777)` already is, so that a
   * file of the entry's owner and mode needs no fchown and no fchmod (two of the six calls
   * of a small file): `owned` when its uid/gid are the new file's, `moded` when the umask
   * alone gives its mode. Read from the directory (statx, one xattr) once per directory and
   * attribute generation.
   */
  createdAs(dir: DirRef, e: TarEntry): { owned: boolean; moded: boolean } {
    let inh = dir.inherit;
    if (inh === undefined || inh.gen !== this.#gen) {
      const st = statx(dir.fd, "", AT_EMPTY_PATH);
      inh = dir.inherit = {
        gen: this.#gen,
        gid: (st.mode & S_ISGID) !== 0 ? st.gid : this.#egid,
        acl: fhasxattr(dir.fd, "system.posix_acl_default"),
      };
    }
    const owned = e.uid === this.#euid && e.gid === inh.gid;
    const moded = this.#umask !== undefined && !inh.acl && e.xattrs.size === 0 &&
      (e.mode & 0o777 & ~this.#umask) === e.mode;
    return { owned, moded };
  }

  warn(message: string): void {
    this.#warn(message);
  }

  /** Tells the onOpaque listener that the directory at real path `dir` was made opaque. */
  opaque(dir: string): void {
    this.#onOpaque?.(dir);
  }

  /**
   * The directory at `path` (clean, as named in the layer; symlinks on the way are followed
   * inside the root), creating missing directories when `create`. `created` hears the real
   * path of each directory made.
   */
  dir(path: string, create: boolean, created?: (real: string) => void): DirRef | undefined {
    if (path === "") return this.#root;
    const cached = this.#dirs.get(path);
    if (cached !== undefined) {
      // Most recently used last, so eviction never takes a directory an entry is working in.
      this.#dirs.delete(path);
      this.#dirs.set(path, cached);
      return cached;
    }
    let fd: number;
    try {
      fd = openat2(this.#root.fd, path, O_RDONLY | O_DIRECTORY, 0, RESOLVE);
    } catch (e) {
      if (!(e instanceof ErrnoError)) throw e;
      if (!create && (e.errno === Errno.ENOENT || e.errno === Errno.ENOTDIR)) return undefined;
      if (e.errno === Errno.ENOTDIR) {
        throw new LayerApplyError(path, "a parent of this path is not a directory", { cause: e });
      }
      if (e.errno !== Errno.ENOENT) throw e;
      const [parent, base] = splitPath(path);
      const pdir = this.dir(parent, true, created)!;
      try {
        mkdirat(pdir.fd, base, 0o755);
        created?.(joinPath(pdir.real, base));
      } catch (e2) {
        if (!(e2 instanceof ErrnoError && e2.errno === Errno.EEXIST)) throw e2;
      }
      try {
        fd = openat2(this.#root.fd, path, O_RDONLY | O_DIRECTORY, 0, RESOLVE);
      } catch (e3) {
        throw new LayerApplyError(path, "cannot create this directory: something is in the way", {
          cause: e3,
        });
      }
    }
    return this.remember(path, fd);
  }

  /**
   * Caches `fd` as the directory at `path`; the writer owns and closes it. `real` is its
   * symlink-free path when the caller knows it for certain (a directory it just opened by one
   * name, O_NOFOLLOW, in a directory whose real path is known); otherwise it is read back
   * from the kernel (a readlink of /proc/self/fd, one of the slower calls).
   */
  remember(path: string, fd: number, real?: string): DirRef {
    const ref = { fd, real: real ?? this.#realPath(fd) };
    const old = this.#dirs.get(path);
    if (old !== undefined && old.fd !== fd) close(old.fd);
    this.#dirs.set(path, ref);
    if (this.#dirs.size > MAX_CACHED_DIRS) {
      const [oldestPath, oldest] = this.#dirs.entries().next().value as [string, DirRef];
      this.#dirs.delete(oldestPath);
      close(oldest.fd);
    }
    return ref;
  }

  /** The rootfs-relative path of an open directory, with every symlink resolved. */
  #realPath(fd: number): string {
    const abs = readlinkat(AT_FDCWD, fdPath(fd));
    if (abs === this.#rootReal) return "";
    if (!abs.startsWith(this.#rootReal + "/")) {
      throw new UnsafePathError(abs, "resolved outside the rootfs"); // cannot happen with openat2
    }
    return abs.slice(this.#rootReal.length + 1);
  }

  /**
   * Forgets every cached directory but `keep` (the directory an entry is working in: its own
   * path cannot run through one of its children).
   */
  dropCache(keep?: DirRef): void {
    for (const [key, ref] of this.#dirs) {
      if (ref === keep) continue;
      close(ref.fd);
      this.#dirs.delete(key);
    }
  }

  /**
   * Removes `base` in directory `parent` (its statx `mode` says what it is), recursively if it
   * is a directory. The cache maps paths as layers spell them, through any symlinks on the
   * way, to directories: once a directory or a symlink is gone, any of those lookups may now
   * lead elsewhere (a path through `x -> etc/cron.d` when `x` becomes `x -> tmp`), so they all
   * go. Files, devices and FIFOs are never on the way to a directory.
   */
  remove(parent: DirRef, base: string, mode: number): void {
    const type = mode & S_IFMT;
    if (type === S_IFDIR) {
      // Deno's recursive remove does not follow symlinks; the /proc path pins the parent we
      // resolved inside the root.
      Deno.removeSync(fdPath(parent.fd, base), { recursive: true });
    } else unlinkat(parent.fd, base, 0);
    if (type === S_IFDIR || type === S_IFLNK) this.dropCache(parent);
  }
}

/** `parent/base`, or `base` at the root. */
function joinPath(parent: string, base: string): string {
  return parent === "" ? base : `${parent}/${base}`;
}

/**
 * A directory's mode and times, applied after the layer. It is found again by its real path
 * without following any symlink and must still be the same inode: an entry later in the layer
 * may have put a symlink (or another directory) on that path (`x/etc/`, then `x -> /`).
 */
interface DelayedDir {
  path: string;
  dev: string;
  ino: bigint;
  mode: number;
  mtime: number;
  mtimeNsec: number;
}

/** Applies one layer's entries; obtained from {@linkcode RootfsWriter.beginLayer}. */
export class LayerApplier implements TarSink {
  readonly stats: LayerStats = { entries: 0, files: 0, bytes: 0, whiteouts: 0, skipped: 0 };
  readonly #w: RootfsWriter;
  // Real (symlink-free) paths this layer created: whiteouts only hide lower layers (layer.md).
  readonly #written = new Set<string>();
  readonly #delayed: DelayedDir[] = [];
  #file = -1;
  #fileEntry: TarEntry | undefined;
  #filePath = "";
  // The new file already has the entry's owner / mode (see RootfsWriter.createdAs).
  #fileOwned = false;
  #fileModed = false;

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
      if (!this.#fileOwned) this.#setOwner(() => fchown(fd, e.uid, e.gid));
      this.#setXattrs(e, (name, value) => fsetxattr(fd, name, value));
      if (!this.#fileModed) fchmod(fd, e.mode);
      futimens(fd, e.mtime, e.mtimeNsec);
    } catch (err) {
      throw wrap(err, this.#filePath);
    } finally {
      this.#closeFile();
    }
  }

  /** Applies delayed directory modes and times; call after the tar reader's end(). */
  finish(): void {
    const root = this.#w.root.fd;
    // Newest first (so a directory re-created later in the layer wins), which is also children
    // before parents, so a parent's read-only mode cannot block reaching its children.
    const done = new Set<string>();
    for (let i = this.#delayed.length - 1; i >= 0; i--) {
      const d = this.#delayed[i];
      if (done.has(d.path)) continue;
      done.add(d.path);
      let fd: number;
      try {
        fd = d.path === "" ? root : openat2(
          root,
          d.path,
          O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
          0,
          RESOLVE | RESOLVE_NO_SYMLINKS,
        );
      } catch (e) {
        // Replaced or removed later in the layer: nothing to restore.
        if (e instanceof ErrnoError) continue;
        throw e;
      }
      try {
        const st = statx(fd, "", AT_EMPTY_PATH);
        if (st.ino !== d.ino || devOf(st) !== d.dev) continue; // another directory now
        fchmod(fd, d.mode);
        futimens(fd, d.mtime, d.mtimeNsec);
      } catch (e) {
        throw wrap(e, d.path);
      } finally {
        if (fd !== root) close(fd);
      }
    }
    this.#delayed.length = 0;
    this.#w.attributesChanged();
  }

  #closeFile(): void {
    close(this.#file);
    this.#file = -1;
    this.#fileEntry = undefined;
  }

  #apply(e: TarEntry, path: string): void {
    checkIds(e);
    const wh = classifyWhiteout(path);
    if (wh.kind === "whiteout") return this.#whiteout(wh.target);
    if (wh.kind === "opaque") return this.#opaque(wh.dir);
    if (wh.kind === "meta") return;
    if (path === "") {
      if (e.type !== "dir") throw new LayerApplyError(e.name, `the root can only be a directory`);
      return this.#dirAttrs(this.#w.root.fd, "", e, true);
    }
    const [parent, base] = splitPath(path);
    const pdir = this.#w.dir(parent, true, (real) => this.#written.add(real))!;
    const pfd = pdir.fd;
    const real = joinPath(pdir.real, base);
    this.#written.add(real);
    switch (e.type) {
      case "dir":
        return this.#mkdir(pdir, base, real, e);
      case "file": {
        // Created with its permission bits, so that the umask alone often gives its mode.
        const created = this.#w.createdAs(pdir, e);
        this.#file = this.#create(
          pdir,
          base,
          () => openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, e.mode & 0o777),
        );
        this.#fileOwned = created.owned || this.#w.rootless;
        this.#fileModed = created.moded;
        this.#fileEntry = e;
        this.#filePath = path;
        this.stats.files++;
        return;
      }
      case "symlink":
        // The kernel would take the target only up to the NUL: a different link than named.
        if (e.linkname.includes("\0")) {
          throw new UnsafePathError(e.name, "the symlink target contains a NUL byte");
        }
        this.#create(pdir, base, () => symlinkat(e.linkname, pfd, base));
        this.#setOwner(() => fchownat(pfd, base, e.uid, e.gid, AT_SYMLINK_NOFOLLOW));
        this.#setXattrs(e, (n, v) => lsetxattr(fdPath(pfd, base), n, v));
        utimensat(pfd, base, e.mtime, e.mtimeNsec, AT_SYMLINK_NOFOLLOW);
        return;
      case "hardlink":
        return this.#hardlink(pdir, base, real, e);
      case "char":
      case "block":
      case "fifo":
        return this.#mknod(pdir, base, real, e);
    }
  }

  /** Runs `make`; if the name exists, removes what is there (layer.md) and runs it again. */
  #create<T>(pdir: DirRef, base: string, make: () => T): T {
    try {
      return make();
    } catch (e) {
      if (!(e instanceof ErrnoError && e.errno === Errno.EEXIST)) throw e;
    }
    const st = statxIfExists(pdir.fd, base, AT_SYMLINK_NOFOLLOW);
    if (st) this.#w.remove(pdir, base, st.mode);
    return make();
  }

  /** `real` is the directory's symlink-free path, used as its cache key too. */
  #mkdir(pdir: DirRef, base: string, real: string, e: TarEntry): void {
    const pfd = pdir.fd;
    let existed = false;
    try {
      mkdirat(pfd, base, 0o700);
    } catch (err) {
      if (!(err instanceof ErrnoError && err.errno === Errno.EEXIST)) throw err;
      const st = statxIfExists(pfd, base, AT_SYMLINK_NOFOLLOW);
      // Both directories: keep the existing one and take the entry's attributes (layer.md).
      if (st && (st.mode & S_IFMT) === S_IFDIR) existed = true;
      else {
        if (st) this.#w.remove(pdir, base, st.mode);
        mkdirat(pfd, base, 0o700);
      }
    }
    // `base` is one name and not followed, in a directory whose real path is pdir.real.
    const fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    this.#w.remember(real, fd, real);
    this.#dirAttrs(fd, real, e, existed);
  }

  /** Sets a directory's owner and xattrs now (replacing old ones) and its mode/time later. */
  #dirAttrs(fd: number, path: string, e: TarEntry, replace: boolean): void {
    this.#w.attributesChanged();
    this.#setOwner(() => fchown(fd, e.uid, e.gid));
    if (replace) {
      // "Attributes MUST be replaced": drop xattrs the entry does not have.
      for (const name of flistxattr(fd)) {
        if (!e.xattrs.has(name) && !KEPT_XATTR(name)) {
          try {
            fremovexattr(fd, name);
          } catch (err) {
            this.#w.warn(
              `could not remove xattr ${name} of ${path || "/"}: ${(err as Error).message}`,
            );
          }
        }
      }
    }
    this.#setXattrs(e, (n, v) => fsetxattr(fd, n, v));
    // Modes and times are set after the layer: children change mtimes, and a read-only mode
    // would stop an unprivileged writer from filling the directory.
    const st = statx(fd, "", AT_EMPTY_PATH);
    this.#delayed.push({
      path,
      dev: devOf(st),
      ino: st.ino,
      mode: e.mode,
      mtime: e.mtime,
      mtimeNsec: e.mtimeNsec,
    });
  }

  #hardlink(pdir: DirRef, base: string, real: string, e: TarEntry): void {
    if (e.linkname.includes("\0")) {
      throw new UnsafePathError(e.name, "the hardlink target contains a NUL byte");
    }
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
    const [tparent, tbase] = splitPath(target);
    const missing = () =>
      new LayerApplyError(e.name, `hardlink target ${JSON.stringify(target)} does not exist`);
    const tdir = this.#w.dir(tparent, false);
    if (tdir === undefined) throw missing();
    if (joinPath(tdir.real, tbase) === real) return; // a link to itself: already there
    try {
      // Looked up again for each try: replacing what is at `base` may empty the cache.
      this.#create(pdir, base, () => {
        const t = this.#w.dir(tparent, false);
        if (t === undefined) throw missing();
        linkat(t.fd, tbase, pdir.fd, base, 0);
      });
    } catch (err) {
      if (err instanceof ErrnoError && err.errno === Errno.ENOENT) {
        throw new LayerApplyError(
          e.name,
          `hardlink target ${JSON.stringify(target)} does not exist`,
        );
      }
      if (err instanceof ErrnoError && err.errno === Errno.EPERM) {
        throw new LayerApplyError(
          e.name,
          `hardlink target ${JSON.stringify(target)} is a directory`,
        );
      }
      throw err;
    }
  }

  #mknod(pdir: DirRef, base: string, real: string, e: TarEntry): void {
    const pfd = pdir.fd;
    const type = e.type === "char" ? S_IFCHR : e.type === "block" ? S_IFBLK : S_IFIFO;
    if (type !== S_IFIFO && this.#w.rootless) {
      return this.#devicePlaceholder(pdir, base, real, "creating devices needs root");
    }
    try {
      this.#create(pdir, base, () => mknodat(pfd, base, type | 0o600, e.devmajor, e.devminor));
    } catch (err) {
      if (err instanceof ErrnoError && err.errno === Errno.EPERM && type !== S_IFIFO) {
        return this.#devicePlaceholder(pdir, base, real, err.message);
      }
      throw err;
    }
    this.#setOwner(() => fchownat(pfd, base, e.uid, e.gid, AT_SYMLINK_NOFOLLOW));
    this.#setXattrs(e, (n, v) => lsetxattr(fdPath(pfd, base), n, v));
    fchmodat(pfd, base, e.mode);
    utimensat(pfd, base, e.mtime, e.mtimeNsec, AT_SYMLINK_NOFOLLOW);
  }

  /**
   * An empty file of mode 0 where a device cannot be made, as umoci does: the name exists, so
   * hardlinks to it and later layers still apply.
   */
  #devicePlaceholder(pdir: DirRef, base: string, real: string, why: string): void {
    this.stats.skipped++;
    const fd = this.#create(
      pdir,
      base,
      () => openat(pdir.fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0),
    );
    try {
      fchmod(fd, 0);
    } finally {
      close(fd);
    }
    this.#w.warn(`device ${real} is an empty file instead: ${why}`);
  }

  #whiteout(target: string): void {
    this.stats.whiteouts++;
    const [parent, base] = splitPath(target);
    const pdir = this.#w.dir(parent, false);
    if (pdir === undefined) return;
    const real = joinPath(pdir.real, base);
    if (this.#written.has(real)) return; // same-layer entries are not hidden
    const st = statxIfExists(pdir.fd, base, AT_SYMLINK_NOFOLLOW);
    if (!st) return;
    const isDir = (st.mode & S_IFMT) === S_IFDIR;
    if (isDir && this.#hasWrittenUnder(real)) {
      // This layer already put things inside it: hide only what lower layers had.
      return this.#removeLowerChildren(real, this.#keepSet(real));
    }
    this.#w.remove(pdir, base, st.mode);
  }

  #opaque(dir: string): void {
    this.stats.whiteouts++;
    const ref = this.#w.dir(dir, false);
    if (ref === undefined) return;
    this.#removeLowerChildren(ref.real, this.#keepSet(ref.real));
    this.#w.opaque(ref.real);
  }

  #hasWrittenUnder(dir: string): boolean {
    const prefix = dir + "/";
    for (const p of this.#written) if (p.startsWith(prefix)) return true;
    return false;
  }

  /** Real paths under `dir` written by this layer, and every directory leading to them. */
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

  /** Removes everything under real path `dir` that this layer did not write (opaque). */
  #removeLowerChildren(dir: string, keep: Set<string>): void {
    const ref = this.#w.dir(dir, false);
    if (ref === undefined) return;
    const names = [...Deno.readDirSync(fdPath(ref.fd))].map((d) => d.name);
    for (const name of names) {
      const child = joinPath(dir, name);
      // Recursing may evict this directory from the cache: look it up again each time.
      const here = this.#w.dir(dir, false)!;
      const st = statxIfExists(here.fd, name, AT_SYMLINK_NOFOLLOW);
      if (!st) continue;
      const isDir = (st.mode & S_IFMT) === S_IFDIR;
      if (!keep.has(child)) this.#w.remove(here, name, st.mode);
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

/** The largest id chown(2) takes: 2^32-1 means "leave unchanged". */
const MAX_ID = 0xfffffffe;

/** Refuses owners no file can have (a tar's base-256 numbers can say anything). */
function checkIds(e: TarEntry): void {
  for (const [what, id] of [["uid", e.uid], ["gid", e.gid]] as const) {
    if (!Number.isSafeInteger(id) || id < 0 || id > MAX_ID) {
      throw new LayerApplyError(e.name, `${what} ${id} is out of range (0 to ${MAX_ID})`);
    }
  }
}

/** A file system's device number, as a key. */
function devOf(st: StatX): string {
  return `${st.devMajor}:${st.devMinor}`;
}

function wrap(e: unknown, path: string): unknown {
  if (e instanceof OciboxError) return e;
  if (e instanceof ErrnoError) return new LayerApplyError(path, e.message, { cause: e });
  if (e instanceof Error) return new LayerApplyError(path, e.message, { cause: e });
  return e;
}
