/**
 * The layer cache: each layer of an image unpacked once, keyed by its chain id (see
 * layer_chain.ts), into `STORE/layers/sha256/<chainid-hex>/diff`, an overlay upper dir that
 * every container of every image with the same layers below mounts read-only as a lower dir.
 *
 * Building layer n: an overlay of the cached layers 0..n-1 (lower) and a fresh `diff` dir
 * (upper) is mounted in `STORE/tmp`, and the layer is applied into the merged view by the same
 * {@linkcode RootfsWriter} and verification `ocibox unpack` uses (digest, size and diff_id
 * while the blob streams), so symlinked parents, whiteouts, hardlinks to lower files and type
 * changes resolve exactly as unpack resolves them. The kernel records the changes in the upper
 * dir in its own format: a removed name becomes a whiteout (a 0/0 character device), a changed
 * lower file is copied up whole. Directories an opaque marker emptied are then marked
 * `trusted.overlay.opaque=y` in the upper dir, and the whiteouts directly in them (now
 * redundant) removed. Layer 0 is applied straight into its `diff` dir (nothing lies below).
 * The staging dir gets `layer.json` and is renamed into place: a cached layer is complete or
 * absent. Two processes building the same layer both finish; the first rename wins and the
 * other discards its copy.
 *
 * The upper dir of a build starts with the attributes of the root directory below it (overlay
 * shows the upper root's), so each `diff` root carries the image's root attributes up to that
 * layer.
 *
 * Locking is the caller's: hold the store lock shared from `ensureLayers` until the container's
 * rootfs is mounted, and exclusive for {@linkcode pruneLayers}.
 *
 * @example
 * ```ts
 * import { ensureLayers } from "./layer_cache.ts";
 * import { mountRootfs } from "./overlay_mount.ts";
 * const ids = await ensureLayers(store, src, resolvedImage);
 * await mountRootfs(store, ids, `${ctr}/upper`, `${ctr}/work`, `${ctr}/bundle/rootfs`);
 * ```
 * @module
 */
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_RDONLY,
  RESOLVE_BENEATH,
  RESOLVE_NO_SYMLINKS,
  S_IFCHR,
  S_IFMT,
} from "../../ffi/constants.ts";
import { DT, readDirents } from "../../ffi/dirents.ts";
import { ErrnoError } from "../../ffi/errno.ts";
import {
  close,
  fsetxattr,
  futimens,
  geteuid,
  openat,
  openat2,
  statx,
  unlinkat,
} from "../../ffi/fs.ts";
import { MNT_DETACH, umount2 } from "../../ffi/mount.ts";
import { throwIfAborted } from "../errors.ts";
import { syncDir } from "../io/atomic_file.ts";
import type { InflateWorker } from "../archive/offthread_inflate.ts";
import { RootfsWriter } from "../layer/rootfs_writer.ts";
import { decodeTarString } from "../archive/tar/header.ts";
import { quietReporter, type Reporter } from "../report/reporter.ts";
import type { ImageSource } from "../transport/types.ts";
import { chainIds, diffDir, flatDir, layerDir } from "./layer_chain.ts";
import {
  applyLayerFrom,
  type ImageLayers,
  imageLayers,
  type LayerRef,
  startInflater,
} from "./layer_source.ts";
import {
  checkOverlay,
  copyRootAttributes,
  lowerDirsFor,
  type MountApi,
  mountOverlay,
  OverlayUnavailableError,
  unmountRootfs,
} from "./overlay_mount.ts";

export type { ImageLayers } from "./layer_source.ts";

/** `layer.json` of a cached layer. */
export interface LayerRecord {
  chainId: string;
  diffId: string;
  /** The chain id of the layer below, null for the bottom layer. */
  parent: string | null;
  /** The blob the layer was applied from. */
  digest: string;
  /** Bytes of file data the layer holds (as in its tar; copied-up lower files not counted). */
  size: number;
  /** Regular files the layer holds. */
  files: number;
  /** Tar entries the layer had. */
  entries: number;
  /** When it was built (RFC 3339). */
  created: string;
}

/** One cached layer as {@linkcode listLayers} reports it. */
export interface CachedLayer extends LayerRecord {
  /** Whether the flat dir of every layer up to this one exists too. */
  flat: boolean;
}

/** What {@linkcode ensureLayers} reports of each layer. */
export interface LayerEvent {
  index: number;
  chainId: string;
  /** True when this call built it, false when it was in the cache. */
  built: boolean;
}

/** Options of {@linkcode ensureLayers}. */
export interface EnsureLayersOptions {
  reporter?: Reporter;
  signal?: AbortSignal;
  /** Inflate on a second core (default: when the layers to build add up to over 4 MiB). */
  offThread?: boolean;
  /** Hears each layer, in order, once it is in the cache. */
  onLayer?: (event: LayerEvent) => void;
  /** Which mount calls to use (tests; default: the new API where the kernel has it). */
  api?: MountApi;
}

const OPAQUE_XATTR = "trusted.overlay.opaque";
const YES = new TextEncoder().encode("y");

/**
 * Makes sure every layer of `image` (read from `src`) is in the cache of `store`; returns the
 * layers' chain ids, bottom first, for {@linkcode mountRootfs}.
 *
 * @throws {OverlayUnavailableError} when not root, or overlay cannot be mounted on the store's
 * file system (checked before anything is built; use the copy fallback, rootfs_copy.ts).
 * @throws {InvalidImageError} for layers that do not pair with the config's diff_ids.
 * @throws {DigestMismatchError} and the other verification errors of `unpack`: a layer that
 * fails leaves nothing in the cache.
 */
export async function ensureLayers(
  store: string,
  src: ImageSource,
  image: ImageLayers,
  options: EnsureLayersOptions = {},
): Promise<string[]> {
  const layers = imageLayers(src.name, image);
  const ids = chainIds(layers.map((l) => l.diffId));
  const missing: LayerRef[] = [];
  for (const [i, id] of ids.entries()) {
    if (!(await isCached(store, id))) missing.push(layers[i]);
  }
  if (missing.length > 0) {
    if (geteuid() !== 0) {
      throw new OverlayUnavailableError("the layer cache needs root (overlay mounts)");
    }
    // Before any work: a store whose file system cannot hold overlay upper dirs gets nothing.
    await checkOverlay(`${store}/tmp`, options);
  }
  const inflater = missing.length > 0 ? await startInflater(missing, options.offThread) : undefined;
  try {
    if (missing.length > 0) {
      await Deno.mkdir(`${store}/tmp`, { recursive: true, mode: 0o700 });
      await Deno.mkdir(`${store}/layers/sha256`, { recursive: true, mode: 0o700 });
    }
    for (const [i, id] of ids.entries()) {
      throwIfAborted(options.signal);
      let built = false;
      if (!(await isCached(store, id))) {
        await buildLayer(store, src, layers, ids, i, inflater, options);
        built = true;
      }
      options.onLayer?.({ index: i, chainId: id, built });
    }
  } finally {
    inflater?.terminate();
  }
  return ids;
}

/** Whether the layer `chainId` is in the cache (complete: it is renamed in only when done). */
export async function isCached(store: string, chainId: string): Promise<boolean> {
  try {
    await Deno.lstat(layerDir(store, chainId));
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function buildLayer(
  store: string,
  src: ImageSource,
  layers: readonly LayerRef[],
  ids: readonly string[],
  i: number,
  inflater: InflateWorker | undefined,
  options: EnsureLayersOptions,
): Promise<void> {
  const reporter = options.reporter ?? quietReporter();
  const layer = layers[i];
  reporter.info(`Unpacking layer ${i + 1}/${layers.length} ${layer.descriptor.digest}`);
  const staging = await Deno.makeTempDir({ dir: `${store}/tmp`, prefix: `layer-${Deno.pid}-` });
  const diff = `${staging}/diff`, work = `${staging}/work`, merged = `${staging}/merged`;
  let mounted = false;
  try {
    await Deno.mkdir(diff, { mode: 0o755 });
    let root = diff;
    if (i > 0) {
      const lowers = await lowerDirsFor(store, ids.slice(0, i), options);
      copyRootAttributes(lowers[0], diff);
      await Deno.mkdir(work, { mode: 0o700 });
      await Deno.mkdir(merged, { mode: 0o700 });
      // volatile: unmounting a plain overlay writes out the whole upper file system (~0.3 s
      // per layer of a 150 MB image on ext4); the staging dir is discarded after a crash.
      mountOverlay({ lowerDirs: lowers, upperDir: diff, workDir: work }, merged, {
        api: options.api,
        volatile: true,
      });
      mounted = true;
      root = merged;
    }
    const opaque = new Set<string>();
    const writer = new RootfsWriter(root, {
      rootless: false,
      onWarning: (m) => reporter.warn(m),
      onOpaque: (d) => opaque.add(d),
    });
    let applied;
    try {
      applied = await applyLayerFrom(src, layer, writer, { signal: options.signal, inflater });
    } finally {
      writer.close();
    }
    if (mounted) {
      unmountRootfs(merged);
      mounted = false;
      await Deno.remove(merged);
      await Deno.remove(work, { recursive: true });
    }
    if (i > 0) markOpaque(diff, opaque);
    const record: LayerRecord = {
      chainId: ids[i],
      diffId: layer.diffId,
      parent: i === 0 ? null : ids[i - 1],
      digest: layer.descriptor.digest,
      size: applied.stats.bytes,
      files: applied.stats.files,
      entries: applied.stats.entries,
      created: new Date().toISOString(),
    };
    await Deno.writeTextFile(`${staging}/layer.json`, JSON.stringify(record, null, 2) + "\n");
    const dest = layerDir(store, ids[i]);
    try {
      await Deno.rename(staging, dest);
      syncDir(`${store}/layers/sha256`);
    } catch (e) {
      // Another process cached the same layer first: its copy is as good as ours.
      if (!(await isCached(store, ids[i]))) throw e;
      await Deno.remove(staging, { recursive: true });
    }
  } catch (e) {
    if (mounted) detach(merged);
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw e;
  }
}

function detach(target: string): void {
  try {
    umount2(target, MNT_DETACH);
  } catch { /* not mounted */ }
}

/**
 * Marks the directories an opaque marker emptied (real paths in the layer) opaque in the
 * upper dir `diff`, and removes the whiteouts directly in them: with the directory opaque,
 * overlay looks no further down, so they hide nothing. The root cannot be opaque (overlay
 * ignores the mark there): its whiteouts stay. A path that is no longer a directory (replaced
 * later in the layer) is skipped. Each directory keeps its mtime.
 */
function markOpaque(diff: string, dirs: Set<string>): void {
  if (dirs.size === 0) return;
  const root = openat(AT_FDCWD, diff, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    for (const dir of dirs) {
      if (dir === "") continue;
      let fd: number;
      try {
        fd = openat2(
          root,
          dir,
          O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
          0,
          RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
        );
      } catch (e) {
        if (e instanceof ErrnoError) continue; // not in the upper dir, or not a directory now
        throw e;
      }
      try {
        const st = statx(fd, "", AT_EMPTY_PATH);
        for (const ent of readDirents(fd)) {
          if (ent.type !== DT.CHR && ent.type !== DT.UNKNOWN) continue;
          const name = decodeTarString(ent.name, 0, ent.name.length);
          const s = statx(fd, name, AT_SYMLINK_NOFOLLOW);
          if ((s.mode & S_IFMT) === S_IFCHR && s.rdevMajor === 0 && s.rdevMinor === 0) {
            unlinkat(fd, name, 0);
          }
        }
        fsetxattr(fd, OPAQUE_XATTR, YES);
        futimens(fd, st.mtimeSec, st.mtimeNsec);
      } finally {
        close(fd);
      }
    }
  } finally {
    close(root);
  }
}

/** Every layer in the cache of `store`, in no particular order. */
export async function listLayers(store: string): Promise<CachedLayer[]> {
  const out: CachedLayer[] = [];
  const base = `${store}/layers/sha256`;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(base));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return out;
    throw e;
  }
  for (const ent of entries) {
    if (!/^[0-9a-f]{64}$/.test(ent.name)) continue;
    let record: LayerRecord;
    try {
      record = JSON.parse(await Deno.readTextFile(`${base}/${ent.name}/layer.json`));
    } catch {
      continue; // not a cached layer (cannot happen but by hand)
    }
    let flat = true;
    try {
      await Deno.lstat(flatDir(store, record.chainId));
    } catch {
      flat = false;
    }
    out.push({ ...record, flat });
  }
  return out;
}

/** What {@linkcode pruneLayers} removed. */
export interface PruneResult {
  /** Chain ids removed. */
  removed: string[];
  /** Their bytes of file data, as in their layer.json. */
  bytes: number;
}

/**
 * Removes every cached layer that is not in `keep` and not below a layer in `keep` (a kept
 * layer needs every layer under it), and staging dirs left by processes that are gone. Call it
 * holding the store lock exclusively: a container mounting the layers, or a build using them
 * as lower dirs, holds it shared.
 */
export async function pruneLayers(store: string, keep: ReadonlySet<string>): Promise<PruneResult> {
  const layers = await listLayers(store);
  const parentOf = new Map(layers.map((l) => [l.chainId, l.parent]));
  const kept = new Set<string>();
  for (const id of keep) {
    for (let at: string | null | undefined = id; at && !kept.has(at); at = parentOf.get(at)) {
      kept.add(at);
    }
  }
  const result: PruneResult = { removed: [], bytes: 0 };
  const tmp = `${store}/tmp`;
  for (const layer of layers) {
    if (kept.has(layer.chainId)) continue;
    await Deno.mkdir(tmp, { recursive: true, mode: 0o700 });
    // Renamed away first, so the cache never shows a half-removed layer.
    const doomed = `${tmp}/prune-${Deno.pid}-${crypto.randomUUID()}`;
    await Deno.rename(layerDir(store, layer.chainId), doomed);
    await Deno.remove(doomed, { recursive: true });
    result.removed.push(layer.chainId);
    result.bytes += layer.size;
  }
  await removeStaleStaging(tmp);
  return result;
}

/** Staging dirs (`layer-PID-*`, `flat-PID-*`, `prune-PID-*`, `probe-PID-*`) of ended processes. */
async function removeStaleStaging(tmp: string): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(tmp));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  for (const ent of entries) {
    const m = /^(?:layer|flat|prune|probe)-(\d+)-/.exec(ent.name);
    if (!m || Number(m[1]) === Deno.pid || (await processExists(Number(m[1])))) continue;
    detach(`${tmp}/${ent.name}/merged`); // a build that died mounted
    await Deno.remove(`${tmp}/${ent.name}`, { recursive: true }).catch(() => {});
  }
}

async function processExists(pid: number): Promise<boolean> {
  try {
    await Deno.lstat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** The diff dirs of `chainIds` (bottom first), for tools that read a layer's own changes. */
export function diffDirs(store: string, chainIds: readonly string[]): string[] {
  return chainIds.map((id) => diffDir(store, id));
}
