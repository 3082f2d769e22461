/**
 * The two interfaces every place an image can live implements: an {@linkcode ImageSource} that
 * reads manifests and blobs by digest, and an {@linkcode ImageDestination} that stores them.
 * `copyImage` is one generic function over the two, so any source copies to any destination.
 * @module
 */
import type { Compression } from "../archive/compression.ts";

/** A blob as sources and destinations talk about it. */
export interface BlobInfo {
  digest: string;
  size: number;
  mediaType?: string;
}

/** A manifest's original bytes and media type (digests are over these bytes). */
export interface RawManifest {
  bytes: Uint8Array;
  mediaType: string;
}

/** Options every I/O call accepts. */
export interface IoOptions {
  signal?: AbortSignal;
}

/** Somewhere images are read from. */
export interface ImageSource {
  /** The reference as the user wrote it, for messages. */
  readonly name: string;
  /**
   * The top-level manifest (image manifest or index) when `digest` is undefined, else the
   * manifest with that digest (a child of the top-level index).
   */
  getManifest(digest?: string, options?: IoOptions): Promise<RawManifest>;
  /** The blob's raw bytes, not yet verified: callers check digest and size while reading. */
  getBlob(info: BlobInfo, options?: IoOptions): Promise<ReadableStream<Uint8Array>>;
  /**
   * The Docker repository the location names (e.g. `docker.io/library/busybox` for
   * `docker-archive:x.tar:busybox:1`), shown as Name by `inspect`; undefined when it names none.
   */
  readonly dockerName?: string;
  /** Tags reported as RepoTags by `inspect`: the repository's tags for registries, else empty. */
  repoTags(): Promise<string[]>;
  /**
   * Starts, in the background, what the first read will need (a registry's ping and token), so
   * it overlaps other set-up; failures surface at that read.
   */
  prepare?(signal?: AbortSignal): void;
  /** Releases files and temporary state. */
  close(): Promise<void>;
}

/** What a destination stores natively; copy converts everything else. */
export interface DestinationCapabilities {
  /** Manifest media types it stores, preferred first. */
  manifestTypes: readonly string[];
  /** Whether it can store an index with several images. */
  supportsIndex: boolean;
  /**
   * Layer compression it wants: "none" (docker-archive), "compressed" (turn uncompressed layers
   * into gzip, as skopeo does for OCI layouts) or "preserve".
   */
  layerCompression: "none" | "compressed" | "preserve";
}

/** Somewhere images are written to. Nothing is visible until {@linkcode commit}. */
export interface ImageDestination {
  readonly name: string;
  readonly capabilities: DestinationCapabilities;
  /** True when the destination already has this blob (it is then not copied again). */
  hasBlob(info: BlobInfo, options?: IoOptions): Promise<boolean>;
  /**
   * Makes a blob the destination lacks available without copying it, when `from` is a place
   * the destination can take it from directly (a cross-repository mount on one registry).
   * Optional; false when it cannot.
   */
  mountBlob?(info: BlobInfo, from: ImageSource, options?: IoOptions): Promise<boolean>;
  /**
   * Stores a blob. When `info.digest` is given the stream is verified against it (and `size`
   * when given) and refused on mismatch; otherwise digest and size are computed.
   */
  putBlob(
    stream: ReadableStream<Uint8Array>,
    info: Partial<BlobInfo>,
    options?: IoOptions,
  ): Promise<BlobInfo>;
  /**
   * Stores a manifest. `instance` is set for the per-platform manifests of an index; the last
   * call without it names the top-level image that {@linkcode commit} publishes.
   */
  putManifest(manifest: RawManifest, instance?: boolean, options?: IoOptions): Promise<void>;
  /**
   * Starts, in the background, what the first write will need (a registry's ping), so it
   * overlaps reading the source; failures surface at that write.
   */
  prepare?(signal?: AbortSignal): void;
  /** Publishes the image (tags it, finishes the archive). */
  commit(options?: IoOptions): Promise<void>;
  /** Releases resources; discards everything if {@linkcode commit} was not reached. */
  close(): Promise<void>;
}

/** Re-exported for destinations' compression choices. */
export type { Compression };
