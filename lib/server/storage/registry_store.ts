/**
 * The registry's storage ({@linkcode RegistryStore}) on a {@linkcode StorageDriver}. Layout
 * under the root:
 *
 * ```
 * blobs/<alg>/<hex>                    every blob and manifest, once, shared by all repositories
 * repositories/<name>/oci-layout       {"imageLayoutVersion":"1.0.0"}
 * repositories/<name>/index.json       one entry per tag (org.opencontainers.image.ref.name)
 *                                      and one per untagged manifest
 * repositories/<name>/blobs/<alg>/<hex>  hard links to blobs/<alg>/<hex> of the blobs <name>
 *                                      may see (pushed, mounted, referenced by its manifests),
 *                                      so repositories/<name> is a self-contained OCI image
 *                                      layout: skopeo inspect oci:ROOT/repositories/<name>:<tag>
 * links/<name>/_pending/<alg>/<hex>    blobs a manifest stored with allowMissing (the proxy)
 *                                      references before they are in blobs/
 * links/<name>/_lock                   the repository's lock file (index.json rewrites)
 * links/<name>/_blobs/<alg>/<hex>      drivers without hard links: markers instead of links
 * uploads/<uuid>/{info.json,data}      upload sessions, moved into blobs/ once verified
 * trash/<alg>/<hex>                    gc's staging for blobs being swept (gc.ts)
 * tmp/                                 temp files of atomic writes
 * ```
 *
 * Hard links rather than a `blobs -> ../../blobs` symbolic link: layout readers that refuse
 * links leading out of the layout (ocibox's own) read it too, and a link costs no space.
 *
 * `_blobs`, `_pending` and `_lock` cannot collide with a nested repository's directory: name components
 * start with `[a-z0-9]`.
 *
 * Crash safety: blobs appear only by rename after their bytes were verified and fsynced;
 * manifests are blobs, written before the index.json that names them; index.json is replaced by
 * rename. A process killed at any point leaves complete blobs, complete index.json files, and
 * tags that point at manifests present in blobs/.
 *
 * GC safety: see gc.ts. Every write that makes a blob needed (a manifest PUT, an upload
 * completing, a mount) sets the blob's mtime to now before checking that it exists, and a
 * manifest PUT does so while it holds the repository's lock, which gc's mark also takes.
 *
 * @example
 * ```ts
 * import { openRegistryStore } from "./registry_store.ts";
 * const store = await openRegistryStore(await Deno.makeTempDir());
 * const { digest } = await store.putBlob(new Blob(["{}"]).stream(), {
 *   digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
 * });
 * (await store.statBlob(digest))?.size; // 2
 * ```
 * @module
 */

import { isDigest, parseDigest } from "../../digest/digest.ts";
import { createDigester, type Digester } from "../../digest/digester.ts";
import { ContentCheck } from "../../digest/verify.ts";
import { DigestMismatchError, InvalidDigestError, NotFoundError } from "../../errors.ts";
import { descriptorJson } from "../../image/descriptor.ts";
import { OCI_LAYOUT_FILE_CONTENT, REF_NAME_ANNOTATION } from "../../image/layout.ts";
import { MEDIA_TYPE_OCI_INDEX } from "../../image/media_types.ts";
import { isRepositoryName, isTag } from "../../distribution/names.ts";
import type { StoredManifest } from "../hooks.ts";
import type { StorageDriver } from "./driver.ts";
import { FsDriver } from "./fs_driver.ts";
import {
  checkPushedManifest,
  entryAnnotations,
  type ManifestFacts,
  manifestFacts,
} from "./manifest_refs.ts";
import type {
  BlobRead,
  ManifestEntry,
  PutManifestResult,
  RegistryStore,
  UploadState,
} from "./registry_store_api.ts";
import { ManifestRejectedError, TooManyUploadsError, UploadOffsetError } from "./store_errors.ts";

export { ManifestRejectedError, TooManyUploadsError, UploadOffsetError } from "./store_errors.ts";

/** Test and gc seams of the store. */
export interface RegistryStoreHooks {
  /** Called by putManifest after it touched the referenced blobs, with the lock held. */
  afterTouch?(repository: string, digests: readonly string[]): Promise<void> | void;
}

/** Options of {@linkcode openRegistryStore}. */
export interface RegistryStoreOptions {
  /** The storage driver; default: the file system at `root`. */
  driver?: StorageDriver;
  /** The clock (ms since the epoch) for mtimes and upload ages. */
  now?: () => number;
  /** Test seams. */
  hooks?: RegistryStoreHooks;
  /** Manifests kept parsed in memory (by digest). Default 1024. */
  manifestCacheEntries?: number;
}

/** One manifest of a repository's index.json, with its tags (in index order). */
export interface IndexRecord {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  tags: string[];
}

/** The registry store plus what gc.ts needs of it. */
export interface RegistryStoreInternals extends RegistryStore {
  readonly driver: StorageDriver;
  /** The clock. */
  now(): number;
  /** Runs `fn` holding `repository`'s lock (in-process mutex, then the driver lock). */
  withRepositoryLock<T>(repository: string, fn: () => Promise<T>): Promise<T>;
  /** The repository's manifests as index.json lists them (read fresh); undefined when none. */
  readIndex(repository: string): Promise<IndexRecord[] | undefined>;
  /** Rewrites index.json (call with the lock held). */
  writeIndex(repository: string, records: readonly IndexRecord[]): Promise<void>;
  /** A manifest's facts (cached). */
  manifestFactsOf(digest: string, mediaType: string): Promise<ManifestFacts | undefined>;
  /** Path of a blob inside the driver. */
  blobPath(digest: string): string;
  /** Touches a blob (restoring it from gc's trash when a sweep has just moved it). */
  touchBlob(digest: string, timeMs: number): Promise<boolean>;
  /** Removes `digest` from `repository`'s visible blobs. */
  unlinkBlob(repository: string, digest: string): Promise<boolean>;
  /** Where `repository`'s membership of `digest` is recorded (a hard link, or a marker). */
  linkPath(repository: string, digest: string): string;
  /** True when repositories hold hard links to their blobs (gc sweeps those too). */
  readonly hardlinks: boolean;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const encoder = new TextEncoder();

/** Where a blob lives: `blobs/<alg>/<hex>`. */
export function blobPathOf(digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  return `blobs/${algorithm}/${encoded}`;
}

/** Where gc puts a blob it is about to delete: `trash/<alg>/<hex>`. */
export function trashPathOf(digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  return `trash/${algorithm}/${encoded}`;
}

function markerPath(repository: string, digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  return `links/${repository}/_blobs/${algorithm}/${encoded}`;
}

function pendingPath(repository: string, digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  return `links/${repository}/_pending/${algorithm}/${encoded}`;
}

/** Where `repository`'s OCI layout holds its blobs: `repositories/<name>/blobs`. */
export function repositoryBlobsDir(repository: string): string {
  return `repositories/${repository}/blobs`;
}

function checkName(repository: string): void {
  if (!isRepositoryName(repository)) {
    throw new NotFoundError(`invalid repository name ${JSON.stringify(repository)}`);
  }
}

function checkDigest(digest: string): void {
  if (!isDigest(digest)) throw new InvalidDigestError(digest, "not algorithm:encoded");
  parseDigest(digest);
}

/** A FIFO mutex per key. */
class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.#tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  held(key: string): boolean {
    return this.#tails.has(key);
  }
}

/** A small LRU map. */
class Lru<K, V> {
  readonly #map = new Map<K, V>();
  constructor(readonly limit: number) {}
  get(k: K): V | undefined {
    const v = this.#map.get(k);
    if (v !== undefined) {
      this.#map.delete(k);
      this.#map.set(k, v);
    }
    return v;
  }
  set(k: K, v: V): void {
    this.#map.delete(k);
    this.#map.set(k, v);
    if (this.#map.size > this.limit) this.#map.delete(this.#map.keys().next().value as K);
  }
  delete(k: K): void {
    this.#map.delete(k);
  }
}

interface UploadInfo {
  repository: string;
  started: number;
}

/**
 * The in-memory hash of an upload session, valid while `size` equals the data file's size.
 * sha256 only: clients push sha256 blobs, and sha512 on every chunk too cost a push of a
 * 344 MB blob 1.2-1.4 s of CPU more (sha256: 0.4-0.8 s); a sha512 upload is hashed from its
 * file when it completes.
 */
interface UploadHashes {
  size: number;
  sha256: Digester;
}

function parseIndexRecords(bytes: Uint8Array): IndexRecord[] {
  const json = JSON.parse(new TextDecoder().decode(bytes)) as { manifests?: unknown };
  const byDigest = new Map<string, IndexRecord>();
  const out: IndexRecord[] = [];
  if (!Array.isArray(json.manifests)) return out;
  for (const raw of json.manifests) {
    if (typeof raw !== "object" || raw === null) continue;
    const d = raw as Record<string, unknown>;
    if (typeof d.digest !== "string" || typeof d.mediaType !== "string") continue;
    if (typeof d.size !== "number") continue;
    const annotations =
      (typeof d.annotations === "object" && d.annotations !== null ? d.annotations : {}) as Record<
        string,
        string
      >;
    const tag = annotations[REF_NAME_ANNOTATION];
    let rec = byDigest.get(d.digest);
    if (rec === undefined) {
      const rest = entryAnnotations(annotations);
      rec = {
        digest: d.digest,
        mediaType: d.mediaType,
        size: d.size,
        ...(typeof d.artifactType === "string" ? { artifactType: d.artifactType } : {}),
        ...(rest !== undefined ? { annotations: rest } : {}),
        tags: [],
      };
      byDigest.set(d.digest, rec);
      out.push(rec);
    }
    if (typeof tag === "string" && !rec.tags.includes(tag)) rec.tags.push(tag);
  }
  return out;
}

function serializeIndexRecords(records: readonly IndexRecord[]): Uint8Array {
  const manifests: Record<string, unknown>[] = [];
  for (const r of records) {
    const base = {
      mediaType: r.mediaType,
      digest: r.digest,
      size: r.size,
      ...(r.artifactType !== undefined ? { artifactType: r.artifactType } : {}),
    };
    if (r.tags.length === 0) {
      manifests.push(
        descriptorJson({ ...base, ...(r.annotations ? { annotations: r.annotations } : {}) }),
      );
    }
    for (const tag of r.tags) {
      manifests.push(
        descriptorJson({ ...base, annotations: { ...r.annotations, [REF_NAME_ANNOTATION]: tag } }),
      );
    }
  }
  const index = { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests };
  return encoder.encode(JSON.stringify(index, null, 2) + "\n");
}

class DriverRegistryStore implements RegistryStoreInternals {
  readonly root: string;
  readonly driver: StorageDriver;
  readonly #now: () => number;
  readonly #hooks: RegistryStoreHooks;
  readonly #repoMutex = new KeyedMutex();
  readonly #uploadMutex = new KeyedMutex();
  readonly #hashes = new Map<string, UploadHashes>();
  /** Open upload sessions, counted from uploads/ on first need, then kept in step. */
  #uploadCount: Promise<{ n: number }> | undefined;
  readonly #indexCache = new Map<string, { key: string; records: IndexRecord[] }>();
  readonly #manifestBytes: Lru<string, Uint8Array>;
  readonly #facts: Lru<string, ManifestFacts>;
  readonly #layouts = new Set<string>();
  readonly #hardlinks: boolean;

  constructor(driver: StorageDriver, options: RegistryStoreOptions) {
    this.driver = driver;
    this.root = driver.location;
    this.#now = options.now ?? Date.now;
    this.#hooks = options.hooks ?? {};
    const n = options.manifestCacheEntries ?? 1024;
    this.#manifestBytes = new Lru(n);
    this.#facts = new Lru(n * 4);
    this.#hardlinks = driver.hardlink !== undefined;
  }

  /** Where `repository`'s membership of `digest` is recorded (a hard link, or a marker). */
  linkPath(repository: string, digest: string): string {
    if (!this.#hardlinks) return markerPath(repository, digest);
    const { algorithm, encoded } = parseDigest(digest);
    return `${repositoryBlobsDir(repository)}/${algorithm}/${encoded}`;
  }

  /** True when repositories hold hard links to their blobs (gc sweeps them). */
  get hardlinks(): boolean {
    return this.#hardlinks;
  }

  now(): number {
    return this.#now();
  }

  blobPath(digest: string): string {
    return blobPathOf(digest);
  }

  async withRepositoryLock<T>(repository: string, fn: () => Promise<T>): Promise<T> {
    return await this.#repoMutex.run(repository, async () => {
      const lock = await this.driver.lock(`links/${repository}/_lock`);
      try {
        return await fn();
      } finally {
        await lock.release();
      }
    });
  }

  // ---- blobs ----

  async touchBlob(digest: string, timeMs: number): Promise<boolean> {
    const path = blobPathOf(digest);
    if (await this.driver.touch(path, timeMs)) return true;
    // A sweep may have moved it to the trash a moment ago: take it back (gc.ts re-checks and
    // loses the race cleanly when we win it).
    try {
      await this.driver.move(trashPathOf(digest), path);
    } catch {
      return false;
    }
    return await this.driver.touch(path, timeMs);
  }

  async readBlob(
    digest: string,
    options: { range?: { start: number; end: number }; head?: boolean } = {},
  ): Promise<BlobRead | undefined> {
    if (!isDigest(digest)) return undefined;
    const path = blobPathOf(digest);
    if (options.head) {
      const st = await this.driver.stat(path);
      return st?.kind === "file" ? { size: st.size } : undefined;
    }
    const r = await this.driver.read(path, options.range);
    return r && { size: r.size, body: r.body };
  }

  async statBlob(digest: string): Promise<{ size: number } | undefined> {
    if (!isDigest(digest)) return undefined;
    const st = await this.driver.stat(blobPathOf(digest));
    return st?.kind === "file" ? { size: st.size } : undefined;
  }

  async putBlob(
    stream: ReadableStream<Uint8Array>,
    expected: { digest: string; size?: number },
    signal?: AbortSignal,
  ): Promise<{ digest: string; size: number }> {
    checkDigest(expected.digest);
    const check = new ContentCheck(
      { digest: expected.digest, ...(expected.size !== undefined ? { size: expected.size } : {}) },
      `blob ${expected.digest}`,
    );
    const verified = stream.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          check.update(chunk);
          controller.enqueue(chunk);
        },
        flush() {
          check.finish();
        },
      }),
    );
    const path = blobPathOf(expected.digest);
    const size = await this.driver.write(path, verified, {
      ...(signal ? { signal } : {}),
      mtimeMs: this.#now(),
    });
    return { digest: expected.digest, size };
  }

  async repositoryHasBlob(repository: string, digest: string): Promise<boolean> {
    if (!isDigest(digest) || !isRepositoryName(repository)) return false;
    const [link, blob] = await Promise.all([
      this.driver.stat(this.linkPath(repository, digest)),
      this.driver.stat(blobPathOf(digest)),
    ]);
    if (blob?.kind !== "file") return false;
    if (link !== undefined) return true;
    // Referenced by a manifest stored before the blob (allowMissing): link it now.
    if (await this.driver.stat(pendingPath(repository, digest))) {
      if (await this.#link(repository, digest, true)) {
        await this.driver.delete(pendingPath(repository, digest));
        return true;
      }
    }
    return false;
  }

  /**
   * Records `digest` as visible in `repository`. With `optional`, a missing blob is recorded
   * as pending and false is returned; otherwise it is a NotFoundError.
   */
  async #link(repository: string, digest: string, optional = false): Promise<boolean> {
    const path = this.linkPath(repository, digest);
    if (await this.driver.stat(path)) return true;
    if (!this.driver.hardlink) {
      if (!(await this.driver.stat(blobPathOf(digest)))) {
        if (!optional) throw new NotFoundError(`blob ${digest} is not in the registry`);
        await this.driver.writeBytes(pendingPath(repository, digest), new Uint8Array());
        return false;
      }
      await this.driver.writeBytes(path, new Uint8Array());
      return true;
    }
    if (await this.driver.hardlink(blobPathOf(digest), path)) return true;
    // gc may have just moved it to the trash: take it back and try once more.
    if (
      (await this.touchBlob(digest, this.#now())) &&
      (await this.driver.hardlink(blobPathOf(digest), path))
    ) {
      return true;
    }
    if (!optional) throw new NotFoundError(`blob ${digest} is not in the registry`);
    await this.driver.writeBytes(pendingPath(repository, digest), new Uint8Array());
    return false;
  }

  async unlinkBlob(repository: string, digest: string): Promise<boolean> {
    const pending = await this.driver.delete(pendingPath(repository, digest));
    return (await this.driver.delete(this.linkPath(repository, digest))) || pending;
  }

  async linkBlob(repository: string, digest: string): Promise<void> {
    checkName(repository);
    checkDigest(digest);
    if (!(await this.touchBlob(digest, this.#now()))) {
      throw new NotFoundError(`blob ${digest} is not in the registry`);
    }
    await this.#ensureLayout(repository);
    await this.#link(repository, digest);
  }

  async deleteBlob(repository: string, digest: string): Promise<boolean> {
    if (!isDigest(digest) || !isRepositoryName(repository)) return false;
    const visible = await this.repositoryHasBlob(repository, digest);
    const removed = await this.unlinkBlob(repository, digest);
    return visible && removed;
  }

  // ---- repositories ----

  async #ensureLayout(repository: string): Promise<void> {
    if (this.#layouts.has(repository)) return;
    const dir = `repositories/${repository}`;
    if (!(await this.driver.stat(`${dir}/oci-layout`))) {
      await this.driver.writeBytes(`${dir}/oci-layout`, encoder.encode(OCI_LAYOUT_FILE_CONTENT));
    }
    if (!(await this.driver.stat(`${dir}/index.json`))) {
      await this.withRepositoryLock(repository, async () => {
        if (!(await this.driver.stat(`${dir}/index.json`))) await this.writeIndex(repository, []);
      });
    }
    this.#layouts.add(repository);
  }

  async readIndex(repository: string): Promise<IndexRecord[] | undefined> {
    const bytes = await this.driver.readBytes(`repositories/${repository}/index.json`);
    if (bytes === undefined) return undefined;
    return parseIndexRecords(bytes);
  }

  // The index as last read, re-read when index.json changed (another process may write it).
  async #cachedIndex(repository: string): Promise<IndexRecord[] | undefined> {
    const path = `repositories/${repository}/index.json`;
    const st = await this.driver.stat(path);
    if (st === undefined) {
      this.#indexCache.delete(repository);
      return undefined;
    }
    const key = `${st.mtimeMs}/${st.size}`;
    const hit = this.#indexCache.get(repository);
    if (hit?.key === key) return hit.records;
    const records = await this.readIndex(repository);
    if (records === undefined) return undefined;
    this.#indexCache.set(repository, { key, records });
    return records;
  }

  async writeIndex(repository: string, records: readonly IndexRecord[]): Promise<void> {
    this.#indexCache.delete(repository);
    await this.driver.writeBytes(
      `repositories/${repository}/index.json`,
      serializeIndexRecords(records),
    );
  }

  async listTags(repository: string): Promise<string[] | undefined> {
    if (!isRepositoryName(repository)) return undefined;
    const records = await this.#cachedIndex(repository);
    if (records === undefined) return undefined;
    const tags = records.flatMap((r) => r.tags);
    return [...new Set(tags)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async listRepositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (prefix: string, depth: number): Promise<void> => {
      if (depth > 64) return;
      const entries = await this.driver.list(`repositories${prefix ? `/${prefix}` : ""}`);
      for (const e of entries) {
        if (e.kind === "file" && e.name === "index.json" && prefix) out.push(prefix);
        if (e.kind === "directory") await walk(prefix ? `${prefix}/${e.name}` : e.name, depth + 1);
      }
    };
    await walk("", 0);
    return out.filter(isRepositoryName).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  // ---- manifests ----

  async #manifestBytesOf(digest: string): Promise<Uint8Array | undefined> {
    const hit = this.#manifestBytes.get(digest);
    if (hit) return hit;
    const bytes = await this.driver.readBytes(blobPathOf(digest));
    if (bytes !== undefined && bytes.length <= 4 << 20) this.#manifestBytes.set(digest, bytes);
    return bytes;
  }

  async manifestFactsOf(digest: string, mediaType: string): Promise<ManifestFacts | undefined> {
    const hit = this.#facts.get(digest);
    if (hit) return hit;
    const bytes = await this.#manifestBytesOf(digest);
    if (bytes === undefined) return undefined;
    const facts = manifestFacts(bytes, mediaType, digest);
    this.#facts.set(digest, facts);
    return facts;
  }

  async getManifest(repository: string, reference: string): Promise<StoredManifest | undefined> {
    if (!isRepositoryName(repository)) return undefined;
    const records = await this.#cachedIndex(repository);
    if (records === undefined) return undefined;
    const rec = reference.includes(":")
      ? records.find((r) => r.digest === reference)
      : records.find((r) => r.tags.includes(reference));
    if (rec === undefined) return undefined;
    const bytes = await this.#manifestBytesOf(rec.digest);
    if (bytes === undefined) return undefined;
    return { digest: rec.digest, mediaType: rec.mediaType, bytes };
  }

  async putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
    options: { allowMissing?: boolean } = {},
  ): Promise<PutManifestResult> {
    checkName(repository);
    const byDigest = reference.includes(":");
    if (byDigest) checkDigest(reference);
    else if (!isTag(reference)) {
      throw new ManifestRejectedError(
        "MANIFEST_INVALID",
        `invalid tag ${JSON.stringify(reference)}`,
      );
    }
    const facts = checkPushedManifest(bytes, mediaType, byDigest ? reference : undefined);
    if (facts.subject !== undefined) checkDigest(facts.subject);
    for (const d of facts.references) checkDigest(d);
    await this.#ensureLayout(repository);
    await this.withRepositoryLock(repository, async () => {
      // GC rule: touch before checking, under the lock gc's mark takes.
      const now = this.#now();
      const missing: string[] = [];
      for (const d of facts.references) {
        const present = await this.touchBlob(d, now);
        if (!facts.required.includes(d) || options.allowMissing) continue;
        if (!present || !(await this.repositoryHasBlob(repository, d))) missing.push(d);
      }
      await this.#hooks.afterTouch?.(repository, facts.references);
      if (missing.length > 0) {
        throw new ManifestRejectedError(
          "MANIFEST_BLOB_UNKNOWN",
          `${repository}: the manifest references ${
            missing.length === 1 ? "a blob" : "blobs"
          } unknown to the repository: ${missing.join(", ")}`,
          { digests: missing },
        );
      }
      const path = blobPathOf(facts.digest);
      if (!(await this.touchBlob(facts.digest, now))) {
        await this.driver.writeBytes(path, bytes, { mtimeMs: now });
      }
      await this.#link(repository, facts.digest);
      for (const d of facts.references) await this.#link(repository, d, true);
      const records = (await this.readIndex(repository)) ?? [];
      let rec = records.find((r) => r.digest === facts.digest);
      const isNew = rec === undefined;
      if (rec === undefined) {
        const annotations = entryAnnotations(facts.annotations);
        rec = {
          digest: facts.digest,
          mediaType: facts.mediaType,
          size: bytes.length,
          ...(facts.artifactType !== undefined ? { artifactType: facts.artifactType } : {}),
          ...(annotations !== undefined ? { annotations } : {}),
          tags: [],
        };
        records.push(rec);
      }
      if (!byDigest) {
        const target = rec;
        const settled = target.tags.includes(reference) &&
          records.every((r) => r === target || !r.tags.includes(reference));
        if (settled && !isNew) return;
        for (const r of records) r.tags = r.tags.filter((t) => t !== reference);
        target.tags.push(reference);
      } else if (!isNew) {
        return; // already listed: nothing to rewrite
      }
      await this.writeIndex(repository, records);
    });
    this.#facts.set(facts.digest, facts);
    this.#manifestBytes.set(facts.digest, bytes);
    return {
      digest: facts.digest,
      ...(facts.subject !== undefined ? { subject: facts.subject } : {}),
    };
  }

  async deleteManifest(repository: string, reference: string): Promise<boolean> {
    if (!isRepositoryName(repository)) return false;
    if (!(await this.driver.stat(`repositories/${repository}/index.json`))) return false;
    const byDigest = reference.includes(":");
    return await this.withRepositoryLock(repository, async () => {
      const records = await this.readIndex(repository);
      if (records === undefined) return false;
      if (byDigest) {
        const left = records.filter((r) => r.digest !== reference);
        if (left.length === records.length) return false;
        await this.writeIndex(repository, left);
        await this.unlinkBlob(repository, reference);
        return true;
      }
      const rec = records.find((r) => r.tags.includes(reference));
      if (rec === undefined) return false;
      rec.tags = rec.tags.filter((t) => t !== reference);
      await this.writeIndex(repository, records);
      return true;
    });
  }

  async referrers(repository: string, digest: string): Promise<ManifestEntry[]> {
    if (!isRepositoryName(repository)) return [];
    const records = await this.#cachedIndex(repository);
    if (records === undefined) return [];
    const out: ManifestEntry[] = [];
    for (const r of records) {
      const facts = await this.manifestFactsOf(r.digest, r.mediaType);
      if (facts?.subject !== digest) continue;
      out.push({
        digest: r.digest,
        mediaType: r.mediaType,
        size: r.size,
        ...(facts.artifactType !== undefined ? { artifactType: facts.artifactType } : {}),
        ...(facts.annotations !== undefined ? { annotations: facts.annotations } : {}),
        subject: facts.subject,
        tags: [...r.tags],
      });
    }
    return out;
  }

  // ---- uploads ----

  async #uploadInfo(repository: string, id: string): Promise<UploadInfo | undefined> {
    if (!UUID_RE.test(id)) return undefined;
    const bytes = await this.driver.readBytes(`uploads/${id}/info.json`);
    if (bytes === undefined) return undefined;
    try {
      const info = JSON.parse(new TextDecoder().decode(bytes)) as UploadInfo;
      return info.repository === repository ? info : undefined;
    } catch {
      return undefined;
    }
  }

  /** The open-session counter (a directory count of uploads/ the first time). */
  #uploads(): Promise<{ n: number }> {
    this.#uploadCount ??= this.driver.list("uploads").then(
      (entries) => ({ n: entries.filter((e) => e.kind === "directory").length }),
      () => ({ n: 0 }),
    );
    return this.#uploadCount;
  }

  async openUploads(): Promise<number> {
    return (await this.#uploads()).n;
  }

  /** One session fewer (it completed, was cancelled or expired). */
  async #uploadGone(): Promise<void> {
    const count = await this.#uploads();
    count.n = Math.max(0, count.n - 1);
  }

  async startUpload(
    repository: string,
    options: { maxSessions?: number } = {},
  ): Promise<UploadState> {
    checkName(repository);
    const count = await this.#uploads();
    // Checked and counted with no await in between, so concurrent starts cannot overshoot.
    if (options.maxSessions !== undefined && count.n >= options.maxSessions) {
      throw new TooManyUploadsError(options.maxSessions);
    }
    count.n++;
    const id = crypto.randomUUID();
    const info: UploadInfo = { repository, started: this.#now() };
    try {
      await this.driver.writeBytes(`uploads/${id}/data`, new Uint8Array());
      await this.driver.writeBytes(
        `uploads/${id}/info.json`,
        encoder.encode(JSON.stringify(info)),
      );
    } catch (e) {
      await this.driver.delete(`uploads/${id}`, { recursive: true }).catch(() => false);
      count.n = Math.max(0, count.n - 1);
      throw e;
    }
    this.#hashes.set(id, {
      size: 0,
      sha256: createDigester("sha256"),
    });
    return { id, repository, size: 0 };
  }

  async uploadState(repository: string, id: string): Promise<UploadState | undefined> {
    if (!(await this.#uploadInfo(repository, id))) return undefined;
    const st = await this.driver.stat(`uploads/${id}/data`);
    if (st === undefined) return undefined;
    return { id, repository, size: st.size };
  }

  async appendUpload(
    repository: string,
    id: string,
    offset: number,
    body: ReadableStream<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<UploadState> {
    return await this.#uploadMutex.run(id, async () => {
      const state = await this.uploadState(repository, id);
      if (state === undefined) {
        await body.cancel().catch(() => {});
        throw new NotFoundError(`upload ${id} is unknown in ${repository}`);
      }
      if (offset !== state.size) {
        await body.cancel().catch(() => {});
        throw new UploadOffsetError(offset, state.size);
      }
      let hashes = this.#hashes.get(id);
      if (hashes !== undefined && hashes.size !== offset) {
        this.#hashes.delete(id);
        hashes = undefined;
      }
      const h = hashes;
      try {
        const size = await this.driver.append(`uploads/${id}/data`, offset, body, {
          ...(signal ? { signal } : {}),
          onChunk: h
            ? (chunk) => {
              h.sha256.update(chunk);
              h.size += chunk.length;
            }
            : undefined,
        });
        return { id, repository, size };
      } catch (e) {
        // What reached the file is what the client's next status request sees; the hashes
        // may now disagree with it, so completion re-reads the data.
        this.#hashes.delete(id);
        throw e;
      }
    });
  }

  async #hashFile(path: string, algorithm: string): Promise<string | undefined> {
    const r = await this.driver.read(path);
    if (r === undefined) return undefined;
    const d = createDigester(algorithm);
    for await (const chunk of r.body) d.update(chunk);
    return d.digest();
  }

  async completeUpload(
    repository: string,
    id: string,
    digest: string,
  ): Promise<{ size: number }> {
    checkDigest(digest);
    const { algorithm } = parseDigest(digest);
    return await this.#uploadMutex.run(id, async () => {
      const state = await this.uploadState(repository, id);
      if (state === undefined) throw new NotFoundError(`upload ${id} is unknown in ${repository}`);
      const data = `uploads/${id}/data`;
      const h = this.#hashes.get(id);
      let actual: string | undefined;
      if (h !== undefined && h.size === state.size && algorithm === "sha256") {
        actual = h.sha256.digest();
      } else {
        actual = await this.#hashFile(data, algorithm);
      }
      this.#hashes.delete(id);
      if (actual !== digest) {
        if (await this.driver.delete(`uploads/${id}`, { recursive: true })) {
          await this.#uploadGone();
        }
        throw new DigestMismatchError(`upload ${id}`, digest, actual ?? "(no data)");
      }
      await this.#ensureLayout(repository);
      // Touch first so the blob is never older than a gc mark it could be missed by.
      await this.driver.touch(data, this.#now());
      await this.driver.move(data, blobPathOf(digest), { durable: true });
      await this.#link(repository, digest);
      if (await this.driver.delete(`uploads/${id}`, { recursive: true })) {
        await this.#uploadGone();
      }
      return { size: state.size };
    });
  }

  async cancelUpload(repository: string, id: string): Promise<boolean> {
    return await this.#uploadMutex.run(id, async () => {
      if (!(await this.#uploadInfo(repository, id))) return false;
      this.#hashes.delete(id);
      const gone = await this.driver.delete(`uploads/${id}`, { recursive: true });
      if (gone) await this.#uploadGone();
      return gone;
    });
  }

  async expireUploads(olderThanMs: number): Promise<number> {
    const now = this.#now();
    let removed = 0;
    for (const e of await this.driver.list("uploads")) {
      if (e.kind !== "directory" || this.#uploadMutex.held(e.name)) continue;
      const st = (await this.driver.stat(`uploads/${e.name}/data`)) ??
        (await this.driver.stat(`uploads/${e.name}`));
      if (st === undefined || now - st.mtimeMs <= olderThanMs) continue;
      await this.#uploadMutex.run(e.name, async () => {
        this.#hashes.delete(e.name);
        if (await this.driver.delete(`uploads/${e.name}`, { recursive: true })) {
          removed++;
          await this.#uploadGone();
        }
      });
    }
    // Temp files of writes a killed process never finished (never at a final path; only space).
    for (const e of await this.driver.list("tmp")) {
      const st = await this.driver.stat(`tmp/${e.name}`);
      if (st !== undefined && now - st.mtimeMs > Math.max(olderThanMs, 3600_000)) {
        await this.driver.delete(`tmp/${e.name}`, { recursive: true });
      }
    }
    return removed;
  }
}

/**
 * Opens (creating when needed) the registry store at `root`.
 *
 * @example
 * ```ts
 * const store = await openRegistryStore("/var/lib/ocibox/registry");
 * await store.listRepositories(); // ["library/busybox", ...]
 * ```
 */
export async function openRegistryStore(
  root: string,
  options: RegistryStoreOptions = {},
): Promise<RegistryStoreInternals> {
  const driver = options.driver ?? new FsDriver(root);
  if (options.driver === undefined) {
    await Deno.mkdir(`${driver.location}/blobs`, { recursive: true });
    await Deno.mkdir(`${driver.location}/repositories`, { recursive: true });
    await Deno.mkdir(`${driver.location}/uploads`, { recursive: true });
    await Deno.mkdir(`${driver.location}/tmp`, { recursive: true });
  }
  return new DriverRegistryStore(driver, options);
}
