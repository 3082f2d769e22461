/**
 * What the registry server's protocol code (lib/server/api/) asks of its storage, and nothing
 * more: blobs shared by every repository, upload sessions, and per-repository manifests and
 * tags. registry_store.ts implements it on a {@linkcode StorageDriver} (driver.ts); the protocol
 * code never sees paths, so an object-store driver needs no change above this line.
 *
 * Every write is verified before it is visible: blobs by digest and size while they stream,
 * manifests by what they reference (see {@linkcode RegistryStore.putManifest}).
 *
 * @example
 * ```ts
 * import type { RegistryStore } from "./registry_store_api.ts";
 * async function tagsOf(store: RegistryStore, repo: string): Promise<string[]> {
 *   return (await store.listTags(repo)) ?? [];
 * }
 * ```
 * @module
 */
import type { FallbackStore, StoredManifest } from "../hooks.ts";

/** A blob's size, and a stream of its bytes (the whole blob or one range). */
export interface BlobRead {
  /** The whole blob's size. */
  readonly size: number;
  /** The bytes asked for; absent when only the size was asked for (HEAD). */
  readonly body?: ReadableStream<Uint8Array>;
}

/** An upload session's state. */
export interface UploadState {
  /** The session id (a UUID; `Docker-Upload-UUID`). */
  readonly id: string;
  /** The repository it was started in. */
  readonly repository: string;
  /** Bytes received so far. */
  readonly size: number;
}

/** A manifest listed in a repository (tagged or not), as the referrers API needs it. */
export interface ManifestEntry {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  /** The manifest's `artifactType`, or its config's media type for image manifests. */
  readonly artifactType?: string;
  /** The manifest's annotations. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** The digest of the manifest's `subject`, when it has one. */
  readonly subject?: string;
  /** The tags pointing at it. */
  readonly tags: readonly string[];
}

/** The outcome of a manifest PUT. */
export interface PutManifestResult {
  readonly digest: string;
  /** The subject's digest when the manifest has a `subject` (sent back as `OCI-Subject`). */
  readonly subject?: string;
}

/**
 * The registry's storage. Errors are lib/errors.ts' typed classes; the protocol code maps them
 * to the spec's codes:
 * - DigestMismatchError -> DIGEST_INVALID, SizeMismatchError -> SIZE_INVALID,
 * - NotFoundError -> BLOB_UNKNOWN / MANIFEST_UNKNOWN / BLOB_UPLOAD_UNKNOWN / NAME_UNKNOWN,
 * - ManifestRejectedError (defined beside the implementation, with the spec code it maps to:
 *   MANIFEST_INVALID or MANIFEST_BLOB_UNKNOWN) for a manifest that fails its checks.
 *
 * Methods taking a repository expect a name already checked against the spec's grammar.
 */
export interface RegistryStore extends FallbackStore {
  /** The storage root, for messages and the access log. */
  readonly root: string;

  // Blobs (shared by every repository).
  /** The blob's size and bytes (`range` inclusive, already checked against the size). */
  readBlob(
    digest: string,
    options?: { range?: { start: number; end: number }; head?: boolean },
  ): Promise<BlobRead | undefined>;
  /** Removes a blob from `repository`'s view (the bytes go when gc finds nothing using them). */
  deleteBlob(repository: string, digest: string): Promise<boolean>;
  /** Whether `repository` may see `digest` (pushed or mounted there, or referenced by its manifests). */
  repositoryHasBlob(repository: string, digest: string): Promise<boolean>;
  /** Makes an existing blob visible in `repository` (a cross-repository mount). */
  linkBlob(repository: string, digest: string): Promise<void>;

  // Uploads.
  /**
   * Starts an upload session; TooManyUploadsError (store_errors.ts) when `maxSessions` are open
   * already (sessions started, not yet completed, cancelled or expired; counted from the
   * store's uploads area when it is first needed, so sessions left by an earlier run count).
   */
  startUpload(repository: string, options?: { maxSessions?: number }): Promise<UploadState>;
  /** Upload sessions open now (see startUpload). */
  openUploads(): Promise<number>;
  /** The session, or undefined when unknown (or expired, or of another repository). */
  uploadState(repository: string, id: string): Promise<UploadState | undefined>;
  /**
   * Appends `body` at `offset` (which must equal the session's size: the caller answers 416
   * otherwise). Returns the new state.
   */
  appendUpload(
    repository: string,
    id: string,
    offset: number,
    body: ReadableStream<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<UploadState>;
  /**
   * Ends a session: its bytes must hash to `digest` (sha256 or sha512); on success the blob is
   * renamed into place and linked into `repository`, and the session is gone. On a mismatch the
   * session is removed too and DigestMismatchError is thrown.
   */
  completeUpload(repository: string, id: string, digest: string): Promise<{ size: number }>;
  /** Cancels a session; false when unknown. */
  cancelUpload(repository: string, id: string): Promise<boolean>;

  // Manifests and tags.
  /**
   * Stores a manifest (checked: parses, its media type matches `mediaType`, every referenced
   * blob and child manifest exists unless `allowMissing`), tags it when `reference` is a tag.
   * A digest `reference` must equal the body's digest (DigestMismatchError).
   */
  putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
    options?: { allowMissing?: boolean },
  ): Promise<PutManifestResult>;
  /** Removes a tag (reference is a tag) or a manifest and every tag pointing at it (a digest). */
  deleteManifest(repository: string, reference: string): Promise<boolean>;
  /** The repository's tags, sorted (lexically); undefined when the repository does not exist. */
  listTags(repository: string): Promise<string[] | undefined>;
  /** Every repository, sorted. */
  listRepositories(): Promise<string[]>;
  /** The manifests in `repository` whose subject is `digest`. */
  referrers(repository: string, digest: string): Promise<ManifestEntry[]>;
  /** Stored manifest by tag or digest (from FallbackStore). */
  getManifest(repository: string, reference: string): Promise<StoredManifest | undefined>;

  /** Removes abandoned upload sessions (older than `olderThanMs`); returns how many. */
  expireUploads(olderThanMs: number): Promise<number>;
}
