/**
 * Pulling into the local store: a name (short names through the search registries, each
 * registry through its mirrors first, see lib/image/short_names.ts) copied from `docker://`
 * into `store:` with the one copy routine, and "pull if missing" for `run`.
 *
 * Nothing of a failed pull is visible: blobs land in a staging directory under STORE/tmp and
 * enter the store, with the name, only when the whole image has arrived and verified.
 * The registry and copy code is imported only when a pull really happens, so finding an image
 * that is already in the store loads none of it.
 *
 * @example
 * ```ts
 * import { ensureImage } from "./pull.ts";
 * const img = await ensureImage("/var/lib/ocibox", "busybox", "missing");
 * console.log(img.name, img.imageId, img.diffIds);
 * ```
 * @module
 */
import { AbortedError, NetworkError, NotFoundError, RegistryError } from "../errors.ts";
import { formatPlatform, type Platform, platformMatches } from "../image/platform.ts";
import { candidateNames, type NameResolution, pullLocations } from "../image/short_names.ts";
import type { Reporter } from "../report/reporter.ts";
import type { RegistryOptions } from "../transport/docker_registry.ts";
import { findImage, type FoundImage } from "./image_store.ts";
import { loadRegistriesConfig } from "./registries_config.ts";

/** How to pull. */
export interface PullOptions {
  /** Credentials, auth file and TLS for the registries. */
  registry?: RegistryOptions;
  /** The platform to pick from a multi-platform image (default: this host). */
  platform?: Platform;
  reporter?: Reporter;
  signal?: AbortSignal;
  /** Search registries and mirrors (default: read from the config files and environment). */
  resolution?: NameResolution;
  /** Blob transfers at once. */
  jobs?: number;
}

/** `run --pull` policies, as podman's. */
export type PullPolicy = "missing" | "always" | "never";

/**
 * An error that means "this registry does not have it (for us)": try the next registry or
 * mirror. Anything else (a digest mismatch, Ctrl-C, a full disk) stops the pull.
 */
function triesNext(e: unknown): boolean {
  if (e instanceof AbortedError) return false;
  if (e instanceof NotFoundError || e instanceof NetworkError) return true;
  return e instanceof RegistryError &&
    (e.status === 404 || e.status === 401 || e.status === 403 || e.status >= 500);
}

/**
 * Pulls `ref` (`busybox`, `localhost:5000/app:v1`, `x@sha256:…`, with or without `docker://`)
 * into the store and names it there. A short name is tried on each search registry in turn
 * (the first that has it wins), each name from its registry's mirrors before the registry.
 *
 * @throws {InvalidReferenceError} for a name that breaks the reference grammar.
 * @throws {NotFoundError} when no registry tried has it (the message lists each attempt), or
 *   the error of the one attempt when there was only one.
 * @example
 * ```ts
 * const img = await pullImage(store, "busybox", { reporter });
 * ```
 */
export async function pullImage(
  store: string,
  ref: string,
  options: PullOptions = {},
): Promise<FoundImage> {
  const typed = ref.startsWith("docker://") ? ref.slice("docker://".length) : ref;
  const res = options.resolution ?? await loadRegistriesConfig();
  const names = candidateNames(typed, res.registries);
  const [{ copyImage }, { openRegistrySource }, { StoreDestination }] = await Promise.all([
    import("../transport/copy.ts"),
    import("../transport/docker_registry.ts"),
    import("../transport/store.ts"),
  ]);
  const failures: [string, unknown][] = [];
  for (const name of names) {
    for (const location of pullLocations(name, res.mirrors)) {
      options.reporter?.info(`Trying to pull ${location}...`);
      const src = await openRegistrySource(`docker://${location}`, location, options.registry);
      try {
        src.prepare?.(options.signal);
        options.reporter?.info("Getting image source signatures");
        const dst = await StoreDestination.open(`store:${name}`, store, [name]);
        try {
          await copyImage(src, dst, {
            platform: options.platform,
            reporter: options.reporter,
            signal: options.signal,
            jobs: options.jobs,
          });
          return { ...dst.stored!, name, foundBy: "name" };
        } finally {
          await dst.close();
        }
      } catch (e) {
        if (!triesNext(e)) throw e;
        failures.push([location, e]);
      } finally {
        await src.close();
      }
    }
  }
  if (failures.length === 1) throw failures[0][1];
  const each = failures.map(([loc, e]) => `${loc}: ${e instanceof Error ? e.message : e}`);
  throw new NotFoundError(`could not pull ${typed} from any registry tried: ${each.join("; ")}`);
}

/**
 * The image `ref` names, pulled first as `policy` says: `missing` (when the store has no such
 * image), `always`, or `never` (the store's image, or NotFoundError). What `run` calls.
 *
 * @example
 * ```ts
 * const img = await ensureImage(store, "busybox", "missing", { reporter });
 * img.config.config?.Cmd; // ["sh"]
 * ```
 */
export async function ensureImage(
  store: string,
  ref: string,
  policy: PullPolicy,
  options: PullOptions = {},
): Promise<FoundImage> {
  const resolution = options.resolution ?? await loadRegistriesConfig();
  if (policy !== "always") {
    let found: FoundImage | undefined;
    try {
      found = await findImage(store, ref, resolution);
    } catch (e) {
      if (policy === "never" || !(e instanceof NotFoundError)) throw e;
      if (ref.startsWith("sha256:")) throw e; // an id cannot be pulled
    }
    // The store keeps one image per name: one of another platform is missing, as in podman
    // (`run multi` then `run --platform linux/arm64 multi` pulls the arm64 image).
    const other = found && options.platform && platformMismatch(found, options.platform);
    if (found && !other) return found;
    if (other && (policy === "never" || found!.foundBy === "id")) throw new NotFoundError(other);
  }
  return await pullImage(store, ref, { ...options, resolution });
}

/**
 * Why `image` does not suit `want` (its config's platform is another), or undefined when it
 * does.
 *
 * @example
 * ```ts
 * platformMismatch(img, { os: "linux", architecture: "arm64" });
 * // "image docker.io/library/x:latest is for linux/amd64, not linux/arm64"
 * ```
 */
export function platformMismatch(image: FoundImage, want: Platform): string | undefined {
  const c = image.config;
  const have: Platform = { os: c.os, architecture: c.architecture };
  if (c.variant) have.variant = c.variant;
  if (platformMatches(want, have)) return undefined;
  return `image ${image.name} is for ${formatPlatform(have)}, not ${formatPlatform(want)}`;
}
