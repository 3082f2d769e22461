/**
 * Docker image references (`[domain/]path[:tag][@digest]`) with the grammar of
 * distribution/reference: strict parsing, Docker Hub normalisation (`ubuntu` →
 * `docker.io/library/ubuntu:latest`) and the familiar short form.
 *
 * @example
 * ```ts
 * import { familiarString, fullString, parseNormalizedNamed } from "./docker_reference.ts";
 * const ref = parseNormalizedNamed("ubuntu");
 * fullString(ref); // "docker.io/library/ubuntu:latest"
 * familiarString(ref); // "ubuntu:latest"
 * ```
 * @module
 */

import { parseDigest } from "../digest/digest.ts";
import { InvalidDigestError, InvalidReferenceError } from "../errors.ts";

/** A parsed image reference. */
export interface DockerReference {
  /** Registry host with optional port, e.g. `docker.io`, `localhost:5000`; "" when none. */
  domain: string;
  /** Repository path inside the registry, e.g. `library/ubuntu`. */
  path: string;
  /** Tag, e.g. `latest`. */
  tag?: string;
  /** Digest, e.g. `sha256:…`. */
  digest?: string;
}

/** Docker Hub's domain in references. */
export const DEFAULT_DOMAIN = "docker.io";
/** Docker Hub's historical domain, normalised to {@linkcode DEFAULT_DOMAIN}. */
export const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
/** Docker Hub's registry API host (the domain in references is not the API host). */
export const DOCKER_HUB_API_HOST = "registry-1.docker.io";
/** Namespace of Docker Hub's official images. */
export const OFFICIAL_REPO_PREFIX = "library/";
/** Tag assumed when a reference has neither tag nor digest. */
export const DEFAULT_TAG = "latest";
/** Longest allowed repository name (domain and path). */
export const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar of distribution/reference (regexp.go), rebuilt from its productions.
const ALPHANUMERIC = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|[-]+)";
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const DOMAIN_AND_PORT = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const TAG = "[\\w][\\w.-]{0,127}";
// The OCI digest grammar; registered algorithms are checked further by parseDigest.
const DIGEST = "[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+";

const REMOTE_NAME_RE = new RegExp(`^${REMOTE_NAME}$`);
const DOMAIN_RE = new RegExp(`^${DOMAIN_AND_PORT}$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const REFERENCE_RE = new RegExp(
  `^((?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

/**
 * True when the first path component names a registry: it contains `.` or `:`, or is
 * `localhost` (distribution/reference's rule; a bare `foo/bar` is a Docker Hub repository).
 */
function looksLikeDomain(component: string): boolean {
  return component.includes(".") || component.includes(":") || component === "localhost";
}

/** Splits a name into domain and path by the domain rule; domain is "" when there is none. */
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf("/");
  if (slash === -1 || !looksLikeDomain(name.slice(0, slash))) return { domain: "", path: name };
  return { domain: name.slice(0, slash), path: name.slice(slash + 1) };
}

/**
 * Parses a reference strictly: no default domain, no `library/`, no default tag.
 *
 * @throws {InvalidReferenceError} with a one-line reason when it breaks the grammar.
 * @example
 * ```ts
 * parseReference("localhost:5000/a/b:t"); // { domain: "localhost:5000", path: "a/b", tag: "t" }
 * parseReference("ubuntu"); // { domain: "", path: "ubuntu" }
 * ```
 */
export function parseReference(s: string): DockerReference {
  if (s === "") {
    throw new InvalidReferenceError(s, "repository name must have at least one component");
  }
  const m = REFERENCE_RE.exec(s);
  if (!m) {
    const lower = s.toLowerCase();
    if (lower !== s && REFERENCE_RE.test(lower)) {
      throw new InvalidReferenceError(s, "repository name must be lowercase");
    }
    throw new InvalidReferenceError(s, explain(s));
  }
  const [, name, tag, digest] = m;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidReferenceError(
      s,
      `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
    );
  }
  const { domain, path } = splitDomain(name);
  if (domain !== "" && !DOMAIN_RE.test(domain)) {
    throw new InvalidReferenceError(s, `invalid registry domain ${domain}`);
  }
  if (!REMOTE_NAME_RE.test(path)) {
    // The grammar let an uppercase first component through as a domain, but without "." or
    // ":" it is not one (e.g. "UPPER/x"), so it is part of the repository name.
    throw new InvalidReferenceError(s, "repository name must be lowercase");
  }
  const ref: DockerReference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) {
    try {
      parseDigest(digest);
    } catch (e) {
      if (e instanceof InvalidDigestError) throw new InvalidReferenceError(s, e.message);
      throw e;
    }
    ref.digest = digest;
  }
  return ref;
}

// A more specific reason than "invalid reference format" for the common mistakes.
function explain(s: string): string {
  const at = s.indexOf("@");
  const nameAndTag = at === -1 ? s : s.slice(0, at);
  if (at !== -1 && !new RegExp(`^${DIGEST}$`).test(s.slice(at + 1))) {
    return "the part after '@' is not a digest (algorithm:encoded)";
  }
  const lastSlash = nameAndTag.lastIndexOf("/");
  const colon = nameAndTag.indexOf(":", lastSlash + 1);
  const name = colon === -1 ? nameAndTag : nameAndTag.slice(0, colon);
  if (colon !== -1 && !TAG_RE.test(nameAndTag.slice(colon + 1))) {
    return "invalid tag format (tags are [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})";
  }
  const { domain, path } = splitDomain(name);
  if (domain !== "" && !DOMAIN_RE.test(domain)) return `invalid registry domain ${domain}`;
  if (!REMOTE_NAME_RE.test(path)) {
    return "invalid repository name (lowercase letters, digits and separators . _ __ - " +
      "between them, components joined by /)";
  }
  return "invalid reference format";
}

/**
 * Parses a reference as the Docker CLI does: the default domain `docker.io` when none is
 * named (`index.docker.io` counts as `docker.io`), `library/` before single-component Docker
 * Hub names, and tag `latest` when neither a tag nor a digest is given.
 *
 * @throws {InvalidReferenceError} with a one-line reason when it breaks the grammar.
 * @example
 * ```ts
 * parseNormalizedNamed("ubuntu"); // { domain: "docker.io", path: "library/ubuntu", tag: "latest" }
 * parseNormalizedNamed("a/b@sha256:" + "0".repeat(64)); // docker.io/a/b, digest only
 * ```
 */
export function parseNormalizedNamed(s: string): DockerReference {
  if (IDENTIFIER_RE.test(s)) {
    throw new InvalidReferenceError(
      s,
      "repository name cannot be a 64-character hexadecimal string (it looks like an image ID)",
    );
  }
  const slash = s.indexOf("/");
  let domain = DEFAULT_DOMAIN;
  let remainder = s;
  if (slash !== -1 && looksLikeDomain(s.slice(0, slash))) {
    domain = s.slice(0, slash);
    remainder = s.slice(slash + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.split(/[:@]/)[0].includes("/")) {
    remainder = OFFICIAL_REPO_PREFIX + remainder;
  }
  const remote = remainder.split(/[:@]/)[0];
  if (remote.toLowerCase() !== remote) {
    throw new InvalidReferenceError(s, `repository name ${remote} must be lowercase`);
  }
  const ref = parseReferenceFor(s, `${domain}/${remainder}`);
  if (ref.tag === undefined && ref.digest === undefined) ref.tag = DEFAULT_TAG;
  return ref;
}

// Parses `normalized` but reports errors against what the user typed.
function parseReferenceFor(original: string, normalized: string): DockerReference {
  try {
    return parseReference(normalized);
  } catch (e) {
    if (e instanceof InvalidReferenceError) {
      const reason = e.message.slice(e.message.indexOf(": ") + 2);
      throw new InvalidReferenceError(original, reason);
    }
    throw e;
  }
}

/**
 * The repository name: `domain/path`, or just `path` when there is no domain.
 *
 * @example
 * ```ts
 * referenceName(parseNormalizedNamed("ubuntu")); // "docker.io/library/ubuntu"
 * ```
 */
export function referenceName(ref: DockerReference): string {
  return ref.domain === "" ? ref.path : `${ref.domain}/${ref.path}`;
}

/**
 * The full reference: `name[:tag][@digest]`.
 *
 * @example
 * ```ts
 * fullString(parseNormalizedNamed("x")); // "docker.io/library/x:latest"
 * ```
 */
export function fullString(ref: DockerReference): string {
  return referenceName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : "") +
    (ref.digest !== undefined ? `@${ref.digest}` : "");
}

/**
 * The short form the Docker CLI shows: `docker.io/` and a `library/` of single-level official
 * names removed.
 *
 * @example
 * ```ts
 * familiarString(parseNormalizedNamed("docker.io/library/x:latest")); // "x:latest"
 * familiarString(parseNormalizedNamed("dmcgowan/myapp")); // "dmcgowan/myapp:latest"
 * ```
 */
export function familiarString(ref: DockerReference): string {
  let name = referenceName(ref);
  if (ref.domain === DEFAULT_DOMAIN) {
    name = ref.path;
    const rest = name.startsWith(OFFICIAL_REPO_PREFIX)
      ? name.slice(OFFICIAL_REPO_PREFIX.length)
      : undefined;
    if (rest !== undefined && !rest.includes("/")) name = rest;
  }
  return name + (ref.tag !== undefined ? `:${ref.tag}` : "") +
    (ref.digest !== undefined ? `@${ref.digest}` : "");
}

/**
 * The host to send registry API requests to for a reference domain: `registry-1.docker.io`
 * for Docker Hub, the domain itself otherwise.
 *
 * @example
 * ```ts
 * apiHost("docker.io"); // "registry-1.docker.io"
 * apiHost("localhost:5000"); // "localhost:5000"
 * ```
 */
export function apiHost(domain: string): string {
  return domain === DEFAULT_DOMAIN || domain === LEGACY_DEFAULT_DOMAIN
    ? DOCKER_HUB_API_HOST
    : domain;
}
