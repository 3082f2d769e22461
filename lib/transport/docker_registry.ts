/**
 * The `docker://` transport: images in a registry, through the Distribution Spec client.
 * A destination publishes the top-level manifest (the tag) only at commit, after every blob
 * and per-platform manifest is in place, so a failed copy never moves a tag.
 * @module
 */
import { digestOf } from "../digest/digester.ts";
import { UsageError } from "../errors.ts";
import {
  type DockerReference,
  parseNormalizedNamed,
  referenceName,
} from "../image/docker_reference.ts";
import {
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../image/media_types.ts";
import { RepositoryClient } from "../registry/client.ts";
import type { TlsOptions } from "../http/types.ts";
import { RegistrySession } from "../registry/session.ts";
import type {
  BlobInfo,
  DestinationCapabilities,
  ImageDestination,
  ImageSource,
  IoOptions,
  RawManifest,
} from "./types.ts";

/** How to reach a registry: credentials, auth file, TLS. */
export interface RegistryOptions {
  credentials?: { username: string; password: string };
  authFile?: string;
  tls?: TlsOptions;
}

function repositoryOf(ref: DockerReference): string {
  return ref.path;
}

function clientFor(ref: DockerReference, options: RegistryOptions): RepositoryClient {
  const session = new RegistrySession({
    host: ref.domain,
    repository: repositoryOf(ref),
    tls: options.tls,
    credentials: options.credentials,
    authFile: options.authFile,
  });
  return new RepositoryClient(session, repositoryOf(ref));
}

/** Reads an image from a registry. */
export class RegistrySource implements ImageSource {
  readonly dockerName: string;
  constructor(
    readonly name: string,
    readonly reference: DockerReference,
    readonly client: RepositoryClient,
  ) {
    this.dockerName = referenceName(reference);
  }

  /** The registry host the image lives on (for cross-repository mounts). */
  get host(): string {
    return this.client.session.host;
  }

  prepare(signal?: AbortSignal): void {
    this.client.session.ping(signal).catch(() => {});
  }

  async getManifest(digest?: string, options: IoOptions = {}): Promise<RawManifest> {
    const ref = digest ?? this.reference.digest ?? this.reference.tag ?? "latest";
    const m = await this.client.getManifest(ref, options.signal);
    return { bytes: m.bytes, mediaType: m.mediaType };
  }

  getBlob(info: BlobInfo, options: IoOptions = {}): Promise<ReadableStream<Uint8Array>> {
    return this.client.getBlob(info, options.signal);
  }

  async repoTags(): Promise<string[]> {
    const tags: string[] = [];
    for await (const t of this.client.listTags()) tags.push(t);
    return tags;
  }

  close(): Promise<void> {
    this.client.session.close();
    return Promise.resolve();
  }
}

/** Writes an image to a registry; the tag moves only at commit. */
export class RegistryDestination implements ImageDestination {
  readonly capabilities: DestinationCapabilities = {
    manifestTypes: [
      MEDIA_TYPE_OCI_MANIFEST,
      MEDIA_TYPE_OCI_INDEX,
      MEDIA_TYPE_DOCKER_MANIFEST,
      MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    ],
    supportsIndex: true,
    layerCompression: "preserve",
  };
  #top: RawManifest | undefined;

  constructor(
    readonly name: string,
    readonly reference: DockerReference,
    readonly client: RepositoryClient,
  ) {}

  prepare(signal?: AbortSignal): void {
    this.client.session.ping(signal).catch(() => {});
  }

  async hasBlob(info: BlobInfo, options: IoOptions = {}): Promise<boolean> {
    return (await this.client.statBlob(info.digest, options.signal)) !== undefined;
  }

  /** Mounts the blob from the source's repository when both live on this registry. */
  async mountBlob(info: BlobInfo, from: ImageSource, options: IoOptions = {}): Promise<boolean> {
    if (!(from instanceof RegistrySource) || from.host !== this.client.session.host) return false;
    if (from.client.repository === this.client.repository) return false;
    return await this.client.mountBlob(info.digest, from.client.repository, options.signal);
  }

  async putBlob(
    stream: ReadableStream<Uint8Array>,
    info: Partial<BlobInfo>,
    options: IoOptions & { onProgress?: (bytes: number) => void } = {},
  ): Promise<BlobInfo> {
    const stored = await this.client.uploadBlob(stream, info, options);
    return { ...stored, mediaType: info.mediaType };
  }

  async putManifest(manifest: RawManifest, instance = false, options: IoOptions = {}) {
    if (instance) {
      await this.client.putManifest(
        digestOf(manifest.bytes),
        manifest.bytes,
        manifest.mediaType,
        options.signal,
      );
    } else this.#top = manifest;
  }

  async commit(options: IoOptions = {}): Promise<void> {
    if (!this.#top) throw new Error("commit before putManifest");
    const digest = digestOf(this.#top.bytes);
    if (this.reference.digest && this.reference.digest !== digest) {
      throw new UsageError(
        `${this.name}: the copied manifest is ${digest}, not the digest the destination names`,
      );
    }
    const ref = this.reference.tag ?? this.reference.digest ?? digest;
    await this.client.putManifest(ref, this.#top.bytes, this.#top.mediaType, options.signal);
  }

  close(): Promise<void> {
    this.client.session.close();
    return Promise.resolve();
  }
}

/** Opens `docker://REF` for reading. */
export function openRegistrySource(
  name: string,
  ref: string,
  options: RegistryOptions = {},
): Promise<RegistrySource> {
  const parsed = parseNormalizedNamed(ref);
  return Promise.resolve(new RegistrySource(name, parsed, clientFor(parsed, options)));
}

/** Opens `docker://REF` for writing (the tag defaults to `latest`). */
export function openRegistryDestination(
  name: string,
  ref: string,
  options: RegistryOptions = {},
): Promise<RegistryDestination> {
  const parsed = parseNormalizedNamed(ref);
  return Promise.resolve(new RegistryDestination(name, parsed, clientFor(parsed, options)));
}
