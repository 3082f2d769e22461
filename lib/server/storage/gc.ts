/**
 * Online garbage collection of the registry store: mark and sweep while the server keeps
 * taking pushes.
 *
 * The rule that keeps it safe:
 * 1. Mark: note the time T the mark begins. For every repository, read its index.json while
 *    holding the repository's lock (the one manifest PUTs and tag updates take), then mark every
 *    listed manifest and, through the manifests, their configs, layers and child manifests.
 *    Untagged manifests are roots too (referrers are untagged manifests), unless
 *    `deleteUntagged`: then only tagged manifests, what they reach, manifests whose subject is
 *    kept, and manifests younger than the grace period are kept; the others leave index.json.
 * 2. Sweep: remove only unmarked blobs whose mtime is older than T - `minAgeMs`.
 * 3. Writers: a manifest PUT sets the mtime of every blob it references to now, while holding
 *    the repository lock and BEFORE it checks they exist; an upload completing and a mount set
 *    the blob's mtime to now before it becomes visible. So a manifest the mark did not see was
 *    put after the mark read that repository, hence after T, and everything it references has
 *    an mtime >= T and is not swept. A sweep removes a blob by renaming it to trash/, checking
 *    its mtime again, and only then deleting it; a writer that finds a blob missing takes it
 *    back from trash/ first. Either the writer's touch is seen by that second check, or the
 *    writer's rescue wins the rename race: nothing a writer touched is lost. Before that, the
 *    repositories' hard links to the blob (their OCI layouts' blobs/) are removed, each under
 *    its repository's lock and only while the blob is still old; a blob linked again since
 *    (two names at the second check) is kept.
 * 4. Uploads in progress live in uploads/, which gc never touches. A blob uploaded but not yet
 *    referenced by any manifest is kept while younger than `minAgeMs` (default 1 h): the time a
 *    client has between finishing its uploads and putting the manifest that references them.
 *
 * @example
 * ```ts
 * import { collectGarbage } from "./gc.ts";
 * const result = await collectGarbage("/var/lib/ocibox/registry", { dryRun: true });
 * console.log(result.removedBlobs.length, result.removedBytes);
 * ```
 * @module
 */

import { isDigest } from "../../digest/digest.ts";
import { throwIfAborted } from "../../errors.ts";
import {
  blobPathOf,
  type IndexRecord,
  openRegistryStore,
  type RegistryStoreInternals,
  trashPathOf,
} from "./registry_store.ts";

/** Default grace period for blobs no manifest references yet. */
export const DEFAULT_GC_MIN_AGE_MS = 3600_000;

/** Options of {@linkcode collectGarbage}. */
export interface GcOptions {
  /** Report what would be removed; change nothing. */
  dryRun?: boolean;
  /** Also remove untagged manifests that nothing tagged needs (see the module doc). */
  deleteUntagged?: boolean;
  /** Stops between steps (AbortedError). */
  signal?: AbortSignal;
  /**
   * Unreferenced blobs (and, with deleteUntagged, untagged manifests) younger than this at the
   * mark's start are kept. Default {@linkcode DEFAULT_GC_MIN_AGE_MS}.
   */
  minAgeMs?: number;
  /** Called between mark and sweep (tests use it to push in the middle of a run). */
  afterMark?: () => Promise<void> | void;
}

/** What a run removed (or, with dryRun, would remove). */
export interface GcResult {
  readonly dryRun: boolean;
  /** When the mark began (ms since the epoch). */
  readonly markStartedAt: number;
  /** Blobs (manifests included) found reachable. */
  readonly markedBlobs: number;
  readonly removedBlobs: { digest: string; size: number }[];
  readonly removedBytes: number;
  /** Untagged manifests taken out of repositories (deleteUntagged). */
  readonly removedManifests: { repository: string; digest: string }[];
  /** How long the run took (ms). */
  readonly durationMs: number;
}

// The manifests of a repository gc keeps with deleteUntagged.
async function keptRecords(
  store: RegistryStoreInternals,
  records: readonly IndexRecord[],
  cutoff: number,
): Promise<Set<string>> {
  const byDigest = new Map(records.map((r) => [r.digest, r]));
  const kept = new Set<string>();
  const queue: string[] = [];
  const keep = (d: string) => {
    if (!kept.has(d)) {
      kept.add(d);
      queue.push(d);
    }
  };
  for (const r of records) {
    if (r.tags.length > 0) keep(r.digest);
    else {
      const st = await store.driver.stat(blobPathOf(r.digest));
      if (st !== undefined && st.mtimeMs >= cutoff) keep(r.digest);
    }
  }
  for (;;) {
    while (queue.length > 0) {
      const d = queue.pop()!;
      const rec = byDigest.get(d);
      if (rec === undefined) continue;
      const facts = await store.manifestFactsOf(d, rec.mediaType);
      for (const c of facts?.children ?? []) if (byDigest.has(c)) keep(c);
    }
    // Referrers of kept manifests are kept with them.
    let added = false;
    for (const r of records) {
      if (kept.has(r.digest)) continue;
      const facts = await store.manifestFactsOf(r.digest, r.mediaType);
      if (facts?.subject !== undefined && kept.has(facts.subject)) {
        keep(r.digest);
        added = true;
      }
    }
    if (!added) return kept;
  }
}

// Everything `roots` reach: the manifests, their configs and layers, child manifests.
async function reachable(
  store: RegistryStoreInternals,
  roots: readonly IndexRecord[],
): Promise<Set<string>> {
  const marked = new Set<string>();
  const queue = roots.map((r) => ({ digest: r.digest, mediaType: r.mediaType }));
  while (queue.length > 0) {
    const { digest, mediaType } = queue.pop()!;
    if (marked.has(digest)) continue;
    marked.add(digest);
    const facts = await store.manifestFactsOf(digest, mediaType);
    if (facts === undefined) continue;
    for (const d of facts.references) {
      if (facts.children.includes(d)) {
        // The child's media type is in the parent's descriptor; a hint is enough.
        if (!marked.has(d)) queue.push({ digest: d, mediaType: "" });
      } else marked.add(d);
    }
  }
  return marked;
}

// Removes the repositories' hard links to a blob about to be swept, each under its
// repository's lock and only while the blob is still old: a manifest PUT touches (under that
// lock) before it checks, so it either made the blob young first or comes after and finds it
// gone from the repository.
async function unlinkFromRepositories(
  store: RegistryStoreInternals,
  repositories: readonly string[],
  digest: string,
  cutoff: number,
): Promise<void> {
  for (const repository of repositories) {
    const path = store.linkPath(repository, digest);
    if (!(await store.driver.stat(path))) continue;
    await store.withRepositoryLock(repository, async () => {
      const st = await store.driver.stat(path);
      if (st !== undefined && st.mtimeMs < cutoff) await store.driver.delete(path);
    });
  }
}

/**
 * Runs one garbage collection over `store` (or the store at a root directory). One run at a
 * time per root: a second waits for the first (a lock in the store).
 *
 * @example
 * ```ts
 * const r = await collectGarbage(store, { deleteUntagged: true, minAgeMs: 0 });
 * for (const b of r.removedBlobs) console.log(b.digest);
 * ```
 */
export async function collectGarbage(
  storeOrRoot: RegistryStoreInternals | string,
  options: GcOptions = {},
): Promise<GcResult> {
  const store = typeof storeOrRoot === "string"
    ? await openRegistryStore(storeOrRoot)
    : storeOrRoot;
  const { driver } = store;
  const dryRun = options.dryRun ?? false;
  const signal = options.signal;
  const began = store.now();
  const lock = await driver.lock("gc.lock");
  try {
    // A run killed mid-sweep may have left blobs in trash/: put them back to be judged again.
    for (const alg of await driver.list("trash")) {
      for (const f of await driver.list(`trash/${alg.name}`)) {
        const digest = `${alg.name}:${f.name}`;
        if (!isDigest(digest)) continue;
        await driver.move(trashPathOf(digest), blobPathOf(digest)).catch(() => {});
      }
    }

    const markStartedAt = store.now();
    const cutoff = markStartedAt - (options.minAgeMs ?? DEFAULT_GC_MIN_AGE_MS);
    const marked = new Set<string>();
    const removedManifests: { repository: string; digest: string }[] = [];

    const repositories = await store.listRepositories();
    for (const repository of repositories) {
      throwIfAborted(signal);
      await store.withRepositoryLock(repository, async () => {
        let roots = (await store.readIndex(repository)) ?? [];
        if (options.deleteUntagged) {
          const kept = await keptRecords(store, roots, cutoff);
          const gone = roots.filter((r) => !kept.has(r.digest));
          if (gone.length > 0) {
            for (const r of gone) removedManifests.push({ repository, digest: r.digest });
            roots = roots.filter((r) => kept.has(r.digest));
            if (!dryRun) {
              await store.writeIndex(repository, roots);
              for (const r of gone) await store.unlinkBlob(repository, r.digest);
            }
          }
        }
        for (const d of await reachable(store, roots)) marked.add(d);
      });
    }
    await options.afterMark?.();

    const removedBlobs: { digest: string; size: number }[] = [];
    let removedBytes = 0;
    for (const alg of await driver.list("blobs")) {
      if (alg.kind !== "directory") continue;
      for (const f of await driver.list(`blobs/${alg.name}`)) {
        throwIfAborted(signal);
        const digest = `${alg.name}:${f.name}`;
        if (f.kind !== "file" || !isDigest(digest) || marked.has(digest)) continue;
        const path = blobPathOf(digest);
        const st = await driver.stat(path);
        if (st === undefined || st.mtimeMs >= cutoff) continue;
        if (dryRun) {
          removedBlobs.push({ digest, size: st.size });
          removedBytes += st.size;
          continue;
        }
        if (store.hardlinks && (st.links ?? 1) > 1) {
          await unlinkFromRepositories(store, repositories, digest, cutoff);
        }
        const trash = trashPathOf(digest);
        try {
          await driver.move(path, trash);
        } catch {
          continue; // gone already
        }
        // A writer may have touched it between the stat and the move.
        const again = await driver.stat(trash);
        if (again === undefined) continue; // a writer took it back
        // Touched since, or linked into a repository since: it is in use.
        if (again.mtimeMs >= cutoff || (again.links ?? 1) > 1) {
          await driver.move(trash, path).catch(() => {});
          continue;
        }
        if (await driver.delete(trash)) {
          removedBlobs.push({ digest, size: again.size });
          removedBytes += again.size;
        }
      }
    }
    return {
      dryRun,
      markStartedAt,
      markedBlobs: marked.size,
      removedBlobs,
      removedBytes,
      removedManifests,
      durationMs: store.now() - began,
    };
  } finally {
    await lock.release();
  }
}
