/**
 * The seams of the registry server that other parts plug into, kept small and stable:
 *
 * - {@linkcode Authorize}: the router calls it for every request under `/v2/` with the access
 *   the request needs; it answers with the {@linkcode Principal} the request runs as (its name
 *   goes to the access log) or with the Response to send instead (a 401 with
 *   `WWW-Authenticate`, a 403 ...). Without one, every request is allowed, anonymously.
 * - {@linkcode ContentFallback}: the pull-through cache. Manifest reads are offered to it (with
 *   what the store holds, so it can recheck a tag upstream); blob reads that miss the store are
 *   offered to it. It writes what it fetches through the {@linkcode FallbackStore} it was given.
 * - {@linkcode ExtraRoutes}: requests outside `/v2/` (a token endpoint such as `/token`) go to it
 *   first.
 *
 * @example
 * ```ts
 * import type { Authorize, ServerHooks } from "./hooks.ts";
 * const readOnlyForAnonymous: Authorize = (request, scope) => {
 *   if (scope.actions.every((a) => a === "pull")) return { name: "", anonymous: true };
 *   return new Response(null, { status: 401, headers: { "www-authenticate": 'Basic realm="r"' } });
 * };
 * const hooks: ServerHooks = { authorize: readOnlyForAnonymous };
 * ```
 * @module
 */

/** What a request may want to do to a repository (the token spec's actions). */
export type Action = "pull" | "push" | "delete" | "*";

/**
 * The access one request needs.
 *
 * | request                                  | scope                                                  |
 * | ---------------------------------------- | ------------------------------------------------------ |
 * | `GET /v2/`                               | `{ type: "base", name: "", actions: [] }`              |
 * | `GET /v2/_catalog`                       | `{ type: "registry", name: "catalog", actions: ["*"] }` |
 * | GET/HEAD manifests, blobs, tags, referrers | `{ type: "repository", name, actions: ["pull"] }`    |
 * | POST/PATCH/PUT uploads, PUT manifests    | `{ type: "repository", name, actions: ["pull", "push"] }` |
 * | DELETE manifests, blobs, uploads         | `{ type: "repository", name, actions: ["delete"] }`    |
 * | the `from` of a mount                    | `{ type: "repository", name: from, actions: ["pull"] }` |
 *
 * Uploads' DELETE (cancel) needs `push`, like every other upload request.
 */
export interface AccessScope {
  /** `repository` for `/v2/NAME/...`, `registry` for `/v2/_catalog`, `base` for `/v2/`. */
  readonly type: "base" | "registry" | "repository";
  /** The repository name, `catalog`, or `""` for the base endpoint. */
  readonly name: string;
  /** The actions needed; empty for the base endpoint (authentication only). */
  readonly actions: readonly Action[];
}

/** Who a request runs as. */
export interface Principal {
  /** The user name for the access log; `""` for anonymous requests. */
  readonly name: string;
  /** True when no credentials were presented (or none were needed). */
  readonly anonymous?: boolean;
}

/**
 * Decides whether `request` may have `scope`. Returns the principal, or the Response to send
 * instead (401 with `WWW-Authenticate`, 403 with a `DENIED` body ...; see
 * lib/distribution/errors.ts for the spec's error bodies).
 *
 * For the `from` repository of a cross-repository mount, a Response means "no mount": the server
 * starts an upload session instead, as the spec allows, and the Response is not sent.
 */
export type Authorize = (
  request: Request,
  scope: AccessScope,
) => Principal | Response | Promise<Principal | Response>;

/** The anonymous principal every request runs as when there is no {@linkcode Authorize}. */
export const ANONYMOUS: Principal = Object.freeze({ name: "", anonymous: true });

/** Allows everything, anonymously: the default {@linkcode Authorize}. */
export const allowAll: Authorize = () => ANONYMOUS;

/** A manifest as the store holds it. */
export interface StoredManifest {
  /** The manifest's digest. */
  readonly digest: string;
  /** Its media type (what it was pushed with). */
  readonly mediaType: string;
  /** Its exact bytes. */
  readonly bytes: Uint8Array;
}

/** A manifest to serve, from the fallback. */
export interface ServedManifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Uint8Array;
}

/** A blob to serve, from the fallback. */
export interface ServedBlob {
  readonly digest: string;
  /** Its full size in bytes. */
  readonly size: number;
  /** The whole blob (no range applied); absent for HEAD requests. */
  readonly body?: ReadableStream<Uint8Array>;
}

/** A manifest read (GET or HEAD) offered to the fallback. */
export interface ManifestLookup {
  readonly repository: string;
  /** A tag or a digest, as in the URL. */
  readonly reference: string;
  readonly method: "GET" | "HEAD";
  /** The request's Accept header values, one media type (with parameters) each. */
  readonly accept: readonly string[];
  /**
   * What the store holds for `reference`, or undefined on a miss. A fallback may answer a hit
   * from the store (return undefined) or recheck a tag upstream and return something newer.
   */
  readonly stored?: StoredManifest;
  readonly signal: AbortSignal;
}

/** A blob read (GET or HEAD) the store missed, offered to the fallback. */
export interface BlobLookup {
  readonly repository: string;
  readonly digest: string;
  readonly method: "GET" | "HEAD";
  readonly signal: AbortSignal;
}

/**
 * A source consulted when the store cannot answer a pull (the pull-through cache). Only
 * repositories for which {@linkcode ContentFallback.handles} is true are offered.
 */
export interface ContentFallback {
  /** True for repositories this fallback serves (e.g. names under `docker.io/`). */
  handles(repository: string): boolean;
  /**
   * A manifest to serve instead of `lookup.stored`, or undefined to answer from the store
   * (404 MANIFEST_UNKNOWN when it holds nothing). Throwing answers 502 (or the error's
   * registry status when it carries one).
   */
  manifest(lookup: ManifestLookup): Promise<ServedManifest | undefined>;
  /** A blob the store lacks, or undefined for 404 BLOB_UNKNOWN. */
  blob(lookup: BlobLookup): Promise<ServedBlob | undefined>;
}

/**
 * What a fallback may write: the store's own verified paths (streamed, checked against the
 * digest, renamed into place; a manifest is validated as a PUT would be).
 */
export interface FallbackStore {
  /** Streams a blob in, checked against `digest` (and `size` when given). */
  putBlob(
    stream: ReadableStream<Uint8Array>,
    expected: { digest: string; size?: number },
    signal?: AbortSignal,
  ): Promise<{ digest: string; size: number }>;
  /** Whether the store has a blob, and its size. */
  statBlob(digest: string): Promise<{ size: number } | undefined>;
  /**
   * Stores a manifest in `repository`, tagged when `reference` is a tag. Referenced blobs must
   * be stored first unless `allowMissing` (a proxy may store a manifest before its layers).
   */
  putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
    options?: { allowMissing?: boolean },
  ): Promise<{ digest: string }>;
  /** What `repository` holds for a tag or digest. */
  getManifest(repository: string, reference: string): Promise<StoredManifest | undefined>;
}

/**
 * Requests outside `/v2/` (e.g. a token endpoint at `/token`): a Response, or undefined to
 * let the server answer 404.
 */
export type ExtraRoutes = (
  request: Request,
  info: { remoteAddr: string },
) => Response | undefined | Promise<Response | undefined>;

/** Everything that can be plugged into the server. */
export interface ServerHooks {
  /** Default: {@linkcode allowAll}. */
  authorize?: Authorize;
  /** The pull-through cache; none by default. */
  fallback?: ContentFallback;
  /** Routes outside `/v2/`. */
  routes?: ExtraRoutes;
  /** Called when the server stops (close upstream connections, flush caches). */
  close?: () => Promise<void> | void;
}
