/**
 * The pull-through cache: the server's {@linkcode ContentFallback} for repositories under a
 * `--proxy NAME=UPSTREAM` name.
 *
 * Manifests
 * - By digest: a stored one is served as it is, for ever (a digest names its bytes). A miss is
 *   fetched upstream (verified against the digest), stored, and served.
 * - By tag: a miss is fetched upstream, stored under the tag (before its blobs: the store is
 *   told `allowMissing`), and served. A stored tag is served from the store while it is younger
 *   than the tag TTL; after that the upstream is asked (HEAD) what the tag points at: the same
 *   digest renews it, another digest is fetched, stored under the tag and served.
 * - Upstream unreachable, refusing, or without the tag any more: the stored copy is served
 *   (stale), and the upstream is asked again after another TTL. Without a stored copy the
 *   upstream's failure is the answer (see upstream.ts' upstreamFailure: 403 DENIED, 429, 502;
 *   a 404 upstream is a 404 here).
 *
 * Blobs (the store missed): fetched upstream and streamed to the client while the store takes
 * them through its verified path (store_while_serving.ts): the client gets the last bytes only
 * once the store has verified and kept the blob, so a pull that completed is served from the
 * store afterwards; wrong bytes upstream fail the client's download and store nothing. A
 * client that disconnects does not stop the store. HEAD asks the upstream for the size only.
 *
 * Tag ages are kept in memory: after a restart every stored tag is rechecked once.
 *
 * @example
 * ```ts
 * import { PullThroughCache } from "./pull_through.ts";
 * import { checkUpstreams } from "./proxy_settings.ts";
 * const upstreams = checkUpstreams([{ name: "docker.io", upstream: "https://registry-1.docker.io" }]);
 * // const cache = new PullThroughCache(upstreams, store);
 * // const hooks = { fallback: cache, close: () => cache.close() };
 * ```
 * @module
 */

import { AbortedError } from "../../errors.ts";
import { isDigest } from "../../digest/digest.ts";
import type {
  BlobLookup,
  ContentFallback,
  FallbackStore,
  ManifestLookup,
  ServedBlob,
  ServedManifest,
} from "../hooks.ts";
import { routeRepository, type UpstreamRoute, type UpstreamSettings } from "./proxy_settings.ts";
import { storeWhileServing, type StoreWhileServingOptions } from "./store_while_serving.ts";
import { Upstream, type UpstreamOptions } from "./upstream.ts";

/** Tuning and test seams of {@linkcode PullThroughCache}. */
export interface PullThroughOptions extends StoreWhileServingOptions {
  /** Clock (ms since the epoch) for tag ages; default Date.now. */
  now?: () => number;
  /** One line per event worth an operator's attention (stale copies served, failed stores). */
  log?: (line: string) => void;
  /** Passed to each {@linkcode Upstream} (a test transport, the environment). */
  upstream?: UpstreamOptions;
}

/** Tags whose age is remembered, and blob sizes learnt from manifests, at most (each). */
const MEMORY_ENTRIES = 100_000;

interface TagCheck {
  readonly digest: string;
  readonly at: number;
}

/** A Map that forgets its oldest entries past `limit` (insertion order). */
class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly limit: number) {
    super();
  }
  override set(key: K, value: V): this {
    this.delete(key);
    super.set(key, value);
    if (this.size > this.limit) this.delete(this.keys().next().value as K);
    return this;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Every `{digest, size}` a manifest names (config, layers, child manifests, subject). */
function descriptorSizes(bytes: Uint8Array): Array<[string, number]> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return [];
  }
  if (typeof doc !== "object" || doc === null) return [];
  const out: Array<[string, number]> = [];
  const take = (d: unknown) => {
    if (typeof d !== "object" || d === null) return;
    const { digest, size } = d as { digest?: unknown; size?: unknown };
    if (isDigest(digest) && typeof size === "number" && Number.isSafeInteger(size) && size >= 0) {
      out.push([digest, size]);
    }
  };
  const m = doc as Record<string, unknown>;
  take(m.config);
  for (const key of ["layers", "manifests", "blobs"]) {
    const list = m[key];
    if (Array.isArray(list)) list.forEach(take);
  }
  return out;
}

/** The pull-through cache (see the module's notes). */
export class PullThroughCache implements ContentFallback {
  readonly #upstreams: readonly UpstreamSettings[];
  readonly #clients = new Map<string, Upstream>();
  readonly #store: FallbackStore;
  readonly #options: PullThroughOptions;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  /** Upstream work outlives the request that started it (others may wait on it); not this. */
  readonly #lifetime = new AbortController();
  readonly #tagChecks = new BoundedMap<string, TagCheck>(MEMORY_ENTRIES);
  readonly #sizes = new BoundedMap<string, number>(MEMORY_ENTRIES);
  /** Manifest fetches in flight, so that concurrent pulls of one tag ask upstream once. */
  readonly #inflight = new Map<string, Promise<ServedManifest | undefined>>();

  constructor(
    upstreams: readonly UpstreamSettings[],
    store: FallbackStore,
    options: PullThroughOptions = {},
  ) {
    this.#upstreams = upstreams;
    this.#store = store;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? (() => {});
  }

  /** True for repositories under one of the NAMEs. */
  handles(repository: string): boolean {
    return routeRepository(this.#upstreams, repository) !== undefined;
  }

  #route(repository: string): { route: UpstreamRoute; upstream: Upstream } | undefined {
    const route = routeRepository(this.#upstreams, repository);
    if (!route) return undefined;
    let upstream = this.#clients.get(route.upstream.name);
    if (!upstream) {
      upstream = new Upstream(route.upstream, this.#options.upstream);
      this.#clients.set(route.upstream.name, upstream);
    }
    return { route, upstream };
  }

  /** A manifest newer than `lookup.stored`, or the fetched one on a miss (module notes). */
  manifest(lookup: ManifestLookup): Promise<ServedManifest | undefined> {
    const target = this.#route(lookup.repository);
    if (!target) return Promise.resolve(undefined);
    const { reference, stored } = lookup;
    const byDigest = reference.includes(":");
    if (stored && byDigest) return Promise.resolve(undefined);
    const key = `${lookup.repository}\0${reference}`;
    if (stored) {
      const check = this.#tagChecks.get(key);
      const ttl = target.route.upstream.tagTtlMs;
      if (check && check.digest === stored.digest && this.#now() - check.at < ttl) {
        return Promise.resolve(undefined);
      }
    }
    const running = this.#inflight.get(key);
    if (running) return this.#waitFor(running, lookup.signal);
    const work = (stored ? this.#recheck(lookup, target) : this.#fetch(lookup, target))
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, work);
    return this.#waitFor(work, lookup.signal);
  }

  /** `work`, unless the client goes away first (the work goes on for the others). */
  #waitFor<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
    if (signal.aborted) return Promise.reject(new AbortedError());
    return new Promise<T>((resolve, reject) => {
      const gone = () => reject(new AbortedError());
      signal.addEventListener("abort", gone, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener("abort", gone));
    });
  }

  async #fetch(
    lookup: ManifestLookup,
    { route, upstream }: { route: UpstreamRoute; upstream: Upstream },
  ): Promise<ServedManifest | undefined> {
    const signal = this.#lifetime.signal;
    const m = await upstream.getManifest(route.remote, lookup.reference, signal);
    if (!m) return undefined;
    return await this.#keep(lookup, m.bytes, m.mediaType);
  }

  /** Stores a manifest fetched upstream under `lookup.reference` and says what to serve. */
  async #keep(
    lookup: ManifestLookup,
    bytes: Uint8Array,
    mediaType: string,
  ): Promise<ServedManifest> {
    const { repository, reference } = lookup;
    const { digest } = await this.#store.putManifest(repository, reference, bytes, mediaType, {
      allowMissing: true,
    });
    for (const [d, size] of descriptorSizes(bytes)) this.#sizes.set(d, size);
    const byDigest = reference.includes(":");
    if (!byDigest) {
      this.#tagChecks.set(`${repository}\0${reference}`, { digest, at: this.#now() });
    }
    return { digest: byDigest ? reference : digest, mediaType, bytes };
  }

  async #recheck(
    lookup: ManifestLookup,
    { route, upstream }: { route: UpstreamRoute; upstream: Upstream },
  ): Promise<ServedManifest | undefined> {
    const stored = lookup.stored!;
    const key = `${lookup.repository}\0${lookup.reference}`;
    const where = `${lookup.repository}:${lookup.reference}`;
    const signal = this.#lifetime.signal;
    // Whatever happens, the stored copy is good for another TTL.
    const renew = () => this.#tagChecks.set(key, { digest: stored.digest, at: this.#now() });
    try {
      const head = await upstream.headManifest(route.remote, lookup.reference, signal);
      if (!head) {
        renew();
        this.#log(`proxy: ${where}: not upstream (any more); serving the stored copy`);
        return undefined;
      }
      if (head.digest === stored.digest) {
        renew();
        return undefined;
      }
      const m = await upstream.getManifest(route.remote, head.digest, signal);
      if (!m) {
        renew();
        return undefined;
      }
      return await this.#keep(lookup, m.bytes, m.mediaType);
    } catch (e) {
      if (this.#lifetime.signal.aborted) throw e;
      renew();
      this.#log(`proxy: ${where}: serving the stored copy: ${message(e)}`);
      return undefined;
    }
  }

  /** A blob the store lacks: its size (HEAD), or its bytes while the store takes them (GET). */
  async blob(lookup: BlobLookup): Promise<ServedBlob | undefined> {
    const target = this.#route(lookup.repository);
    if (!target) return undefined;
    const { route, upstream } = target;
    const { digest } = lookup;
    const known = this.#sizes.get(digest);
    if (lookup.method === "HEAD") {
      if (known !== undefined) return { digest, size: known };
      // A HEAD is how pushers ask whether to upload: with the upstream down, "unknown" lets a
      // push under NAME/ go on; a pull's GET gets the upstream's failure.
      const size = await this.#waitFor(
        upstream.blobSize(route.remote, digest, this.#lifetime.signal),
        lookup.signal,
      ).catch((e) => {
        if (e instanceof AbortedError) throw e;
        this.#log(`proxy: ${lookup.repository}@${digest}: HEAD upstream failed: ${message(e)}`);
        return undefined;
      });
      return size === undefined ? undefined : { digest, size };
    }
    // Not cut short when this client leaves: the blob is worth storing for the next one.
    const opened = await upstream.openBlob(route.remote, digest, known, this.#lifetime.signal);
    if (!opened) return undefined;
    const { client, stored } = storeWhileServing(
      opened.body,
      (stream) => this.#store.putBlob(stream, { digest, size: opened.size }, this.#lifetime.signal),
      this.#options,
    );
    stored.catch((e) => {
      this.#log(
        `proxy: ${lookup.repository}@${digest}: not stored: ${message(e)}`,
      );
    });
    return { digest, size: opened.size, body: client };
  }

  /** Stops upstream work in progress and closes the upstreams' connections. */
  close(): void {
    this.#lifetime.abort();
    for (const u of this.#clients.values()) u.close();
    this.#clients.clear();
  }
}
