/**
 * overlayfs mounts of cached layers: a container's root file system (its image's layers as
 * lower dirs, its own upper and work dirs) and the staging mounts the layer cache builds in.
 *
 * Mounting uses the new mount API (fsopen("overlay"), one `lowerdir+` per layer, Linux 6.8+),
 * which has no limit on the total length of the layer paths; older kernels get mount(2) with
 * an option string, which must fit in a page, so the layers are named there by short
 * `/proc/self/fd/N` paths of descriptors held for the call. overlayfs stacks at most 500 lower
 * dirs (fewer, ~190, through mount(2)): an image with more layers has its bottom layers merged
 * into one flat dir, cached beside the topmost of them (`layers/sha256/<chainid>/flat/`) and
 * shared by every image and layer built on the same base.
 *
 * The merged view's root directory takes its attributes (mode, owner, times, xattrs) from the
 * upper dir, not from the layers: a fresh upper dir gets those of the top layer's root first,
 * which carries the image's root attributes (see layer_cache.ts).
 *
 * Mount options: `index=off,redirect_dir=off,metacopy=off`, whatever the kernel's defaults: the
 * cached dirs must stay self-contained trees (no metadata-only copy-ups pointing at lower
 * data, no redirects), and any upper may be mounted over any stack of them.
 *
 * @example
 * ```ts
 * import { mountRootfs, unmountRootfs } from "./overlay_mount.ts";
 * await mountRootfs("/var/lib/ocibox", chainIds, "/c/upper", "/c/work", "/c/bundle/rootfs");
 * unmountRootfs("/c/bundle/rootfs");
 * ```
 * @module
 */
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
} from "../../ffi/constants.ts";
import { Errno, ErrnoError } from "../../ffi/errno.ts";
import {
  close,
  fchmod,
  fchown,
  fdPath,
  flistxattr,
  fremovexattr,
  fsetxattr,
  futimens,
  lgetxattr,
  openat,
  statx,
} from "../../ffi/fs.ts";
import {
  fsconfigCreate,
  fsconfigFlag,
  fsconfigString,
  fsmount,
  fsopen,
  MNT_DETACH,
  mount,
  MOUNT_ATTR,
  MountErrno,
  moveMount,
  MS,
  umount2,
  UMOUNT_NOFOLLOW,
} from "../../ffi/mount.ts";
import { NotFoundError, OciboxError } from "../errors.ts";
import { dirname } from "../io/paths.ts";
import {
  diffDir,
  emptyLowerDir,
  flatDir,
  OVERLAY_MAX_STACK,
  planLowerStack,
} from "./layer_chain.ts";

/**
 * overlayfs cannot be mounted here: not root (and no user namespace), no overlay in the
 * kernel, or a file system that refuses to be an upper dir. Callers fall back to copying.
 */
export class OverlayUnavailableError extends OciboxError {
  constructor(reason: string, options?: ErrorOptions) {
    super("OVERLAY_UNAVAILABLE", `overlayfs unavailable: ${reason}`, options);
    this.name = "OverlayUnavailableError";
  }
}

/** The directories of one overlay mount; lower dirs top first. */
export interface OverlayDirs {
  lowerDirs: readonly string[];
  /** Without an upper (and work) dir the mount is read-only. */
  upperDir?: string;
  workDir?: string;
}

/** Which system calls mount: the new mount API, mount(2), or the first that works. */
export type MountApi = "auto" | "new" | "legacy";

/** Options of {@linkcode mountOverlay}. */
export interface OverlayMountOptions {
  api?: MountApi;
  /**
   * overlay's `volatile`: no syncs reach the upper file system, unmounting included (which
   * otherwise writes out the whole upper file system). For staging mounts whose upper dir is
   * thrown away after a crash anyway.
   */
  volatile?: boolean;
}

const OPTIONS: readonly [string, string][] = [
  ["index", "off"],
  ["redirect_dir", "off"],
  ["metacopy", "off"],
];

/** fsconfig(2) copies string values of up to 255 bytes. */
const FSCONFIG_MAX_STRING = 256;
const encoder = new TextEncoder();

/** What mount(2)'s option string (one page) holds: ~20 bytes per `/proc/self/fd/N:` lower. */
const LEGACY_MAX_LOWERS = 190;
const PAGE_LIMIT = 4095;

/** errnos that mean "overlay cannot work here" rather than "this mount is wrong". */
const UNAVAILABLE = new Set<number>([
  Errno.EPERM,
  Errno.EACCES,
  MountErrno.ENODEV,
  Errno.ENOSYS,
  Errno.EOPNOTSUPP,
]);

let lowerdirPlus: boolean | undefined;

/** Whether this kernel's overlayfs takes `lowerdir+` through fsconfig (Linux 6.8+). */
export function hasLowerdirPlus(): boolean {
  if (lowerdirPlus !== undefined) return lowerdirPlus;
  let fd = -1;
  try {
    fd = fsopen("overlay");
    fsconfigString(fd, "lowerdir+", "/");
    lowerdirPlus = true;
  } catch {
    lowerdirPlus = false;
  } finally {
    if (fd >= 0) close(fd);
  }
  return lowerdirPlus;
}

/** How many lower dirs one mount may take with `api`. */
export function lowerLimit(api: MountApi = "auto"): number {
  if (api === "legacy") return LEGACY_MAX_LOWERS;
  if (api === "new") return OVERLAY_MAX_STACK;
  return hasLowerdirPlus() ? OVERLAY_MAX_STACK : LEGACY_MAX_LOWERS;
}

/** The error for a failed mount: {@linkcode OverlayUnavailableError} when overlay cannot work. */
function mountError(e: unknown, target: string): unknown {
  if (!(e instanceof ErrnoError)) return e;
  // EINVAL: a file system refusing to be a layer or the upper dir (no xattrs, no d_type,
  // itself an overlay ...); the kernel's reason is in the message. Missing dirs (ENOENT) and
  // a busy upper dir (EBUSY) are this mount's own faults and stay what they are.
  if (UNAVAILABLE.has(e.errno) || e.errno === Errno.EINVAL) {
    return new OverlayUnavailableError(`cannot mount an overlay on ${target}: ${e.message}`, {
      cause: e,
    });
  }
  return e;
}

/**
 * Mounts an overlay of `dirs` on `target` (an existing directory); returns the API used.
 *
 * @throws {OverlayUnavailableError} when overlay cannot be mounted here at all.
 */
export function mountOverlay(
  dirs: OverlayDirs,
  target: string,
  options: OverlayMountOptions = {},
): "new" | "legacy" {
  if (dirs.lowerDirs.length === 0) throw new Error("an overlay needs at least one lower dir");
  if ((dirs.upperDir === undefined) !== (dirs.workDir === undefined)) {
    throw new Error("an overlay's upper dir and work dir come together");
  }
  const api = options.api ?? "auto";
  const volatile = options.volatile === true && dirs.upperDir !== undefined;
  if (api === "new" || (api === "auto" && hasLowerdirPlus())) {
    mountNew(dirs, target, volatile);
    return "new";
  }
  mountLegacy(dirs, target, volatile);
  return "legacy";
}

function mountNew(dirs: OverlayDirs, target: string, volatile: boolean): void {
  let fs: number;
  try {
    fs = fsopen("overlay");
  } catch (e) {
    throw mountError(e, target);
  }
  // fsconfig takes strings of at most 255 bytes: longer paths go by a descriptor's
  // /proc/self/fd/N, which the kernel resolves during the call.
  const fds: number[] = [];
  const path = (dir: string) => {
    if (encoder.encode(dir).length < FSCONFIG_MAX_STRING) return dir;
    fds.push(openat(AT_FDCWD, dir, O_PATH | O_DIRECTORY));
    return fdPath(fds.at(-1)!);
  };
  try {
    fsconfigString(fs, "source", "overlay"); // what mount tables show, as with mount(2)
    for (const dir of dirs.lowerDirs) fsconfigString(fs, "lowerdir+", path(dir));
    if (dirs.upperDir !== undefined) {
      fsconfigString(fs, "upperdir", path(dirs.upperDir));
      fsconfigString(fs, "workdir", path(dirs.workDir!));
    }
    for (const [key, value] of OPTIONS) fsconfigString(fs, key, value);
    if (volatile) fsconfigFlag(fs, "volatile");
  } catch (e) {
    close(fs);
    throw mountError(e, target);
  } finally {
    for (const fd of fds) close(fd);
  }
  try {
    fsconfigCreate(fs);
    const mnt = fsmount(fs, dirs.upperDir === undefined ? MOUNT_ATTR.RDONLY : 0);
    try {
      moveMount(mnt, target);
    } finally {
      close(mnt);
    }
  } catch (e) {
    throw mountError(e, target);
  } finally {
    close(fs);
  }
}

function mountLegacy(dirs: OverlayDirs, target: string, volatile: boolean): void {
  // Short names for long paths: the kernel resolves each /proc/self/fd/N during the call.
  const fds: number[] = [];
  const short = (dir: string) => {
    fds.push(openat(AT_FDCWD, dir, O_PATH | O_DIRECTORY));
    return fdPath(fds.at(-1)!);
  };
  try {
    const parts = [`lowerdir=${dirs.lowerDirs.map(short).join(":")}`];
    if (dirs.upperDir !== undefined) {
      parts.push(`upperdir=${short(dirs.upperDir)}`, `workdir=${short(dirs.workDir!)}`);
    }
    for (const [key, value] of OPTIONS) parts.push(`${key}=${value}`);
    if (volatile) parts.push("volatile");
    const data = parts.join(",");
    if (data.length > PAGE_LIMIT) {
      throw new Error(
        `${dirs.lowerDirs.length} lower dirs do not fit in mount(2)'s options (plan the stack ` +
          `with lowerLimit("legacy"))`,
      );
    }
    try {
      mount("overlay", target, "overlay", dirs.upperDir === undefined ? MS.RDONLY : 0, data);
    } catch (e) {
      throw mountError(e, target);
    }
  } finally {
    for (const fd of fds) close(fd);
  }
}

const usable = new Map<string, Promise<void>>();

/**
 * Checks once per process that overlay mounts work in `dir` (a staging dir of the store, on
 * the file system of its upper dirs): mounts and unmounts a tiny overlay there.
 *
 * @throws {OverlayUnavailableError} when they do not.
 */
export function checkOverlay(dir: string, options: OverlayMountOptions = {}): Promise<void> {
  const key = `${dir}\0${options.api ?? "auto"}`;
  let check = usable.get(key);
  if (check === undefined) {
    check = probe(dir, options);
    usable.set(key, check);
  }
  return check;
}

async function probe(dir: string, options: OverlayMountOptions): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const d = await Deno.makeTempDir({ dir, prefix: `probe-${Deno.pid}-` });
  try {
    for (const sub of ["lower", "upper", "work", "merged"]) await Deno.mkdir(`${d}/${sub}`);
    mountOverlay(
      { lowerDirs: [`${d}/lower`], upperDir: `${d}/upper`, workDir: `${d}/work` },
      `${d}/merged`,
      { ...options, volatile: true },
    );
    unmountRootfs(`${d}/merged`);
  } finally {
    await Deno.remove(d, { recursive: true }).catch(() => {});
  }
}

/**
 * Unmounts `target` (never following a symlink there); a busy mount is detached. Returns false
 * when nothing was mounted there.
 */
export function unmountRootfs(target: string): boolean {
  try {
    umount2(target, UMOUNT_NOFOLLOW);
    return true;
  } catch (e) {
    if (!(e instanceof ErrnoError)) throw e;
    if (e.errno === Errno.EINVAL || e.errno === Errno.ENOENT) return false;
    if (e.errno !== MountErrno.EBUSY) throw e;
  }
  umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW);
  return true;
}

/** Options of {@linkcode mountRootfs} and {@linkcode lowerDirsFor}. */
export interface RootfsMountOptions extends OverlayMountOptions {
  signal?: AbortSignal;
}

/**
 * Mounts a container's root file system on `target`: the cached layers `chainIds` (bottom
 * first, as `ensureLayers` of layer_cache.ts returns them) under the container's own `upper`
 * and `work` dirs (on one file system; made when missing). A new or empty upper dir first takes
 * the attributes of the image's root directory. Pass `volatile: true` for a container that is
 * removed when it ends (`--rm`, as podman does): unmounting then skips writing out the upper
 * file system.
 *
 * @throws {OverlayUnavailableError} when overlay cannot be mounted here (copy instead).
 * @throws {NotFoundError} when a layer is not in the cache.
 */
export async function mountRootfs(
  store: string,
  chainIds: readonly string[],
  upper: string,
  work: string,
  target: string,
  options: RootfsMountOptions = {},
): Promise<void> {
  const lowers = await lowerDirsFor(store, chainIds, options);
  await prepareUpper(upper, lowers[0]);
  await Deno.mkdir(work, { recursive: true, mode: 0o700 });
  await Deno.mkdir(target, { recursive: true });
  mountOverlay({ lowerDirs: lowers, upperDir: upper, workDir: work }, target, options);
}

/** Makes `upper` (or takes an empty one) with the root attributes of the top lower dir. */
async function prepareUpper(upper: string, topLower: string): Promise<void> {
  await Deno.mkdir(dirname(upper), { recursive: true });
  try {
    await Deno.mkdir(upper, { mode: 0o755 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    for await (const _ of Deno.readDir(upper)) return; // a used upper keeps its root
  }
  copyRootAttributes(topLower, upper);
}

/**
 * The lower dirs (top first) of a mount of `chainIds`, making the flat dir of the bottom layers
 * when there are more than one mount takes.
 */
export async function lowerDirsFor(
  store: string,
  chainIds: readonly string[],
  options: RootfsMountOptions = {},
): Promise<string[]> {
  if (chainIds.length === 0) {
    await Deno.mkdir(emptyLowerDir(store), { recursive: true, mode: 0o755 });
    return [emptyLowerDir(store)];
  }
  for (const id of chainIds) {
    try {
      await Deno.lstat(diffDir(store, id));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new NotFoundError(`layer ${id} is not in the layer cache of ${store}`);
    }
  }
  const plan = planLowerStack(chainIds, lowerLimit(options.api));
  const dirs = plan.diffs.map((id) => diffDir(store, id));
  if (plan.flat !== undefined) {
    dirs.push(await ensureFlatDir(store, chainIds.slice(0, plan.flattened), options.signal));
  }
  return dirs;
}

/**
 * The flat dir of `chain` (bottom first): every layer merged into one tree of hardlinks to the
 * cached files (the cache is read-only, so sharing inodes is safe and costs no data). Made once
 * in `STORE/tmp` and renamed into place; a concurrent maker's copy wins as well.
 */
export async function ensureFlatDir(
  store: string,
  chain: readonly string[],
  signal?: AbortSignal,
): Promise<string> {
  const top = chain.at(-1)!;
  const dir = flatDir(store, top);
  try {
    await Deno.lstat(dir);
    return dir;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(`${store}/tmp`, { recursive: true, mode: 0o700 });
  const staging = await Deno.makeTempDir({ dir: `${store}/tmp`, prefix: `flat-${Deno.pid}-` });
  try {
    // Loaded here, not up front: rootfs_copy.ts brings the layer writer and its modules (~7 ms
    // of every `run` that mounts cached layers), and flat dirs are rare.
    const { mergeLayerDirs } = await import("./rootfs_copy.ts");
    await mergeLayerDirs(chain.map((id) => diffDir(store, id)), `${staging}/flat`, {
      mode: "link",
      signal,
    });
    try {
      await Deno.rename(`${staging}/flat`, dir);
    } catch (e) {
      // Another process made it first (rename onto a non-empty directory fails).
      if (!(await exists(dir))) throw e;
    }
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  return dir;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

const OVERLAY_XATTR = "trusted.overlay.";

/**
 * Gives directory `to` the mode, owner, times and xattrs of directory `from` (overlayfs's own
 * `trusted.overlay.*` attributes excepted), replacing what it had.
 */
export function copyRootAttributes(from: string, to: string): void {
  const src = openat(AT_FDCWD, from, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    const dst = openat(AT_FDCWD, to, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      const st = statx(src, "", AT_EMPTY_PATH);
      fchown(dst, st.uid, st.gid);
      const wanted = new Map<string, Uint8Array>();
      for (const name of flistxattr(src)) {
        if (!name.startsWith(OVERLAY_XATTR)) {
          wanted.set(name, lgetxattr(`${fdPath(src)}/.`, name));
        }
      }
      for (const name of flistxattr(dst)) {
        if (!wanted.has(name) && !name.startsWith(OVERLAY_XATTR)) fremovexattr(dst, name);
      }
      for (const [name, value] of wanted) fsetxattr(dst, name, value);
      fchmod(dst, st.mode & 0o7777);
      futimens(dst, st.mtimeSec, st.mtimeNsec);
    } finally {
      close(dst);
    }
  } finally {
    close(src);
  }
}
