/**
 * Names in Distribution Spec URLs: repository names (spec.md's regular expression, with
 * distribution's 255-character limit), tags, and `<tag-or-digest>` references.
 *
 * @example
 * ```ts
 * import { checkRepositoryName, parseReferenceSegment } from "./names.ts";
 * checkRepositoryName("library/busybox"); // undefined: valid
 * parseReferenceSegment("v1.0"); // { kind: "tag", tag: "v1.0" }
 * ```
 * @module
 */

import { isDigest } from "../digest/digest.ts";

/** The spec's `<name>` grammar, anchored. */
export const REPOSITORY_NAME_RE =
  /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

/** One path component of a name. */
const COMPONENT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;

/** The spec's tag grammar: at most 128 characters. */
export const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Longest repository name (distribution's limit; clients cap host/name at 255 too). */
export const MAX_NAME_LENGTH = 255;

/**
 * Components that cannot follow another one, because a repository's directory is an OCI image
 * layout holding these files: `a/blobs` would be repository `a`'s blob directory.
 */
export const RESERVED_COMPONENTS: ReadonlySet<string> = new Set([
  "blobs",
  "index.json",
  "oci-layout",
]);

/**
 * Why `name` is not a valid repository name, or undefined when it is.
 *
 * @example
 * ```ts
 * checkRepositoryName("Library/x"); // "repository names are lowercase: ..."
 * checkRepositoryName("a/../b"); // "component \"..\" ..."
 * ```
 */
export function checkRepositoryName(name: string): string | undefined {
  if (name.length === 0) return "repository name is empty";
  if (name.length > MAX_NAME_LENGTH) {
    return `repository name is ${name.length} characters long; at most ${MAX_NAME_LENGTH}`;
  }
  if (REPOSITORY_NAME_RE.test(name)) {
    const parts = name.split("/");
    for (let i = 1; i < parts.length; i++) {
      if (RESERVED_COMPONENTS.has(parts[i])) {
        return `component ${JSON.stringify(parts[i])} is reserved after the first component ` +
          "(each repository directory is an OCI image layout with blobs, index.json, oci-layout)";
      }
    }
    return undefined;
  }
  if (REPOSITORY_NAME_RE.test(name.toLowerCase())) {
    return "repository names are lowercase: " +
      "[a-z0-9]+ parts joined by '.', '_', '__' or '-', components separated by '/'";
  }
  for (const part of name.split("/")) {
    if (!COMPONENT_RE.test(part)) {
      return `component ${JSON.stringify(part.slice(0, 64))} does not match ` +
        "[a-z0-9]+((.|_|__|-+)[a-z0-9]+)*";
    }
  }
  return "repository name does not match the spec's grammar";
}

/**
 * True when `name` is a valid repository name.
 *
 * @example
 * ```ts
 * isRepositoryName("a/b-c"); // true
 * ```
 */
export function isRepositoryName(name: string): boolean {
  return checkRepositoryName(name) === undefined;
}

/**
 * True when `tag` follows the spec's tag grammar.
 *
 * @example
 * ```ts
 * isTag("v1.2.3"); // true
 * isTag(".hidden"); // false
 * ```
 */
export function isTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** A `<tag-or-digest>` URL segment, classified. */
export type ReferenceSegment =
  | { kind: "tag"; tag: string }
  | { kind: "digest"; digest: string }
  | { kind: "invalid"; reason: string };

/**
 * Classifies the `<tag-or-digest>` of a manifest URL. A segment with a `:` is a digest (tags
 * cannot hold one) and must be valid as one.
 *
 * @example
 * ```ts
 * parseReferenceSegment("sha256:" + "a".repeat(64)); // { kind: "digest", ... }
 * parseReferenceSegment("sha256:zz"); // { kind: "invalid", ... }
 * ```
 */
export function parseReferenceSegment(segment: string): ReferenceSegment {
  if (segment.includes(":")) {
    return isDigest(segment)
      ? { kind: "digest", digest: segment }
      : { kind: "invalid", reason: "not a valid digest (algorithm:encoded)" };
  }
  if (TAG_RE.test(segment)) return { kind: "tag", tag: segment };
  return {
    kind: "invalid",
    reason: "not a tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}) or a digest",
  };
}

/**
 * The referrers tag schema's tag for a digest (spec.md "Referrers Tag Schema"): the algorithm
 * cut to 32 characters, `-`, the encoded part cut to 64, other characters replaced by `-`.
 *
 * @example
 * ```ts
 * referrersTag("sha256:" + "a".repeat(64)); // "sha256-aaaa…"
 * ```
 */
export function referrersTag(digest: string): string {
  const colon = digest.indexOf(":");
  const alg = digest.slice(0, colon).slice(0, 32);
  const enc = digest.slice(colon + 1).slice(0, 64);
  return `${alg}-${enc}`.replace(/[^a-zA-Z0-9._-]/g, "-");
}
