/**
 * Image names as people type them to `pull`, `run` and `rmi`, resolved like podman and docker
 * do, as pure functions (the registry list and mirrors come in as data; lib/store reads them).
 *
 * - A name whose first component holds `.` or `:` or is `localhost` is *qualified*: it names
 *   its registry (`localhost:5000/x` → `localhost:5000/x:latest`).
 * - Anything else is a *short name* (`busybox`, `user/app`) and is tried against each registry
 *   of the search list in order (default `docker.io` alone): `busybox` → on `docker.io`
 *   `docker.io/library/busybox:latest` (`library/` is Docker Hub's alone), on `localhost:5000`
 *   `localhost:5000/busybox:latest`.
 * - `:latest` is added when neither tag nor digest is given; a digest is kept (and a tag given
 *   with a digest is dropped, as the digest alone decides the content).
 * - Mirrors: a name on registry R is fetched from R's mirrors first, then from R; the image is
 *   still named after R.
 *
 * @example
 * ```ts
 * import { candidateNames, pullLocations } from "./short_names.ts";
 * candidateNames("busybox", ["localhost:5000", "docker.io"]);
 * // ["localhost:5000/busybox:latest", "docker.io/library/busybox:latest"]
 * pullLocations("docker.io/library/busybox:latest", { "docker.io": ["mirror.local"] });
 * // ["mirror.local/library/busybox:latest", "docker.io/library/busybox:latest"]
 * ```
 * @module
 */
import { InvalidReferenceError } from "../errors.ts";
import {
  DEFAULT_DOMAIN,
  DEFAULT_TAG,
  type DockerReference,
  fullString,
  OFFICIAL_REPO_PREFIX,
  parseNormalizedNamed,
  parseReference,
  referenceName,
} from "./docker_reference.ts";

/** The registry short names go to when nothing else is configured. */
export const DEFAULT_SEARCH_REGISTRIES: readonly string[] = [DEFAULT_DOMAIN];

/** Registries short names are tried against, and mirrors per registry (already merged). */
export interface NameResolution {
  /** Registries for short names, in order. */
  registries: readonly string[];
  /** Registry → registries to try before it (its mirrors). */
  mirrors: Readonly<Record<string, readonly string[]>>;
}

/**
 * True when `s` names no registry (its first component is not a host): `busybox`, `user/app`.
 *
 * @example
 * ```ts
 * isShortName("busybox"); // true
 * isShortName("localhost/app"); // false
 * isShortName("quay.io/x/y:1"); // false
 * ```
 */
export function isShortName(s: string): boolean {
  const slash = s.indexOf("/");
  if (slash < 0) return true;
  const first = s.slice(0, slash);
  return !(first.includes(".") || first.includes(":") || first === "localhost");
}

/**
 * The normalized name of a reference: `docker.io` and `library/` for Docker Hub names, `:latest`
 * when neither tag nor digest is given, the tag dropped when a digest is given.
 *
 * @throws {InvalidReferenceError} when `s` breaks the reference grammar.
 * @example
 * ```ts
 * normalizeName("busybox"); // "docker.io/library/busybox:latest"
 * normalizeName("localhost:5000/x@sha256:" + "a".repeat(64)); // "localhost:5000/x@sha256:aaa…"
 * ```
 */
export function normalizeName(s: string): string {
  return fullString(withoutTagWhenDigest(parseNormalizedNamed(s)));
}

function withoutTagWhenDigest(ref: DockerReference): DockerReference {
  return ref.digest !== undefined && ref.tag !== undefined ? { ...ref, tag: undefined } : ref;
}

/**
 * The full names `s` can stand for, in the order to try them: `s` itself normalized when it is
 * qualified, else `s` on each registry of `registries`.
 *
 * @throws {InvalidReferenceError} when `s` breaks the reference grammar or a registry is not a
 *   valid host name.
 * @example
 * ```ts
 * candidateNames("user/app:v1", ["docker.io"]); // ["docker.io/user/app:v1"]
 * candidateNames("localhost:5000/app", ["docker.io"]); // ["localhost:5000/app:latest"]
 * ```
 */
export function candidateNames(
  s: string,
  registries: readonly string[] = DEFAULT_SEARCH_REGISTRIES,
): string[] {
  if (!isShortName(s)) return [normalizeName(s)];
  // Checked once as typed (lowercase, no 64-hex name, grammar), with docker.io's rules.
  parseNormalizedNamed(s);
  const ref = parseReference(s);
  const out: string[] = [];
  for (const registry of registries.length ? registries : DEFAULT_SEARCH_REGISTRIES) {
    const name = onRegistry(ref, registry, s);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * The full names to look `s` up under in the local store, in order: {@linkcode candidateNames}
 * (so `run` finds what `pull` stored), then `s` normalized on docker.io (what `tag` and
 * `store:NAME` give a short name), when that is not among them already.
 *
 * @example
 * ```ts
 * lookupNames("app", ["localhost:5000"]);
 * // ["localhost:5000/app:latest", "docker.io/library/app:latest"]
 * ```
 */
export function lookupNames(
  s: string,
  registries: readonly string[] = DEFAULT_SEARCH_REGISTRIES,
): string[] {
  const out = candidateNames(s, registries);
  const normalized = normalizeName(s);
  return out.includes(normalized) ? out : [...out, normalized];
}

/** `ref` (a short name) placed on `registry`, as a full name. */
function onRegistry(ref: DockerReference, registry: string, typed: string): string {
  const host = registry === "index.docker.io" ? DEFAULT_DOMAIN : registry;
  const path = host === DEFAULT_DOMAIN && !ref.path.includes("/")
    ? OFFICIAL_REPO_PREFIX + ref.path
    : ref.path;
  let placed: DockerReference;
  try {
    placed = parseReference(`${host}/${path}`);
  } catch (e) {
    if (e instanceof InvalidReferenceError) {
      throw new InvalidReferenceError(typed, `registry ${JSON.stringify(registry)} is not a host`);
    }
    throw e;
  }
  if (placed.domain !== host) {
    // A search registry without "." or ":" (say "myregistry") is still the registry.
    placed = { domain: host, path };
  }
  const tag = ref.digest !== undefined ? undefined : ref.tag ?? DEFAULT_TAG;
  return fullString({ ...placed, tag, digest: ref.digest });
}

/**
 * Where to fetch the full name `name` from, in order: the same repository on each mirror of
 * its registry, then the registry itself. Each entry is a full name for `docker://`.
 *
 * @example
 * ```ts
 * pullLocations("localhost:5000/a:1", {}); // ["localhost:5000/a:1"]
 * ```
 */
export function pullLocations(
  name: string,
  mirrors: Readonly<Record<string, readonly string[]>> = {},
): string[] {
  const ref = parseNormalizedNamed(name);
  const out: string[] = [];
  for (const mirror of mirrors[ref.domain] ?? []) {
    const loc = fullString({ ...ref, domain: mirror });
    if (!out.includes(loc)) out.push(loc);
  }
  const own = fullString(ref);
  if (!out.includes(own)) out.push(own);
  return out;
}

/**
 * Splits a full name into the repository and tag columns `images` shows: `<none>` for a tag
 * when the image is named by digest.
 *
 * @example
 * ```ts
 * repositoryAndTag("docker.io/library/busybox:latest"); // ["docker.io/library/busybox", "latest"]
 * ```
 */
export function repositoryAndTag(name: string): [string, string] {
  try {
    const ref = parseNormalizedNamed(name);
    return [referenceName(ref), ref.tag ?? "<none>"];
  } catch {
    // A name in the layout that is no Docker reference (written by another tool): as it is.
    return [name, "<none>"];
  }
}

const ID_PREFIX = /^(?:sha256:)?([0-9a-f]{3,64})$/;

/**
 * The hex an image id (prefix) names, when `s` looks like one: 3 to 64 lowercase hex digits,
 * optionally after `sha256:`.
 *
 * @example
 * ```ts
 * imageIdPrefix("a416a9"); // "a416a9"
 * imageIdPrefix("busybox"); // undefined
 * ```
 */
export function imageIdPrefix(s: string): string | undefined {
  return ID_PREFIX.exec(s)?.[1];
}
