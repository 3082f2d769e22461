/**
 * Manifest content negotiation: the media types an `Accept` header lists (RFC 9110 section
 * 12.5.1; `q=0` excludes), and whether a stored manifest's type is among them.
 *
 * @example
 * ```ts
 * import { acceptsMediaType, parseAccept } from "./accept.ts";
 * const accept = parseAccept(["application/vnd.oci.image.manifest.v1+json, text/*;q=0.1"]);
 * acceptsMediaType(accept, "application/vnd.docker.distribution.manifest.v2+json"); // false: only OCI and text/*
 * ```
 * @module
 */

/**
 * The media types of `Accept` header values (each may hold several, comma-separated),
 * lowercased, parameters dropped, those with `q=0` left out.
 *
 * @example
 * ```ts
 * parseAccept(["a/b; q=0.5, c/d;q=0"]); // ["a/b"]
 * ```
 */
export function parseAccept(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    for (const item of value.split(",")) {
      const [type, ...params] = item.split(";").map((s) => s.trim());
      if (!type) continue;
      const q = params.find((p) => /^q\s*=/i.test(p));
      if (q && Number(q.slice(q.indexOf("=") + 1).trim()) === 0) continue;
      out.push(type.toLowerCase());
    }
  }
  return out;
}

/**
 * True when `accept` (from {@linkcode parseAccept}) admits `mediaType`: listed, or matched by
 * `*\/*` or `type/*`. An empty list admits everything (no Accept header).
 *
 * @example
 * ```ts
 * acceptsMediaType(["application/*"], "application/vnd.oci.image.index.v1+json"); // true
 * acceptsMediaType(["text/plain"], "application/vnd.oci.image.index.v1+json"); // false
 * ```
 */
export function acceptsMediaType(accept: readonly string[], mediaType: string): boolean {
  if (accept.length === 0) return true;
  const type = mediaType.toLowerCase();
  const slash = type.indexOf("/");
  for (const a of accept) {
    if (a === type || a === "*/*") return true;
    if (a.endsWith("/*") && a.slice(0, -1) === type.slice(0, slash + 1)) return true;
  }
  return false;
}

/**
 * A `Content-Type` value without parameters, lowercased; "" when absent.
 *
 * @example
 * ```ts
 * mediaTypeOf("application/vnd.oci.image.manifest.v1+json; charset=utf-8");
 * // "application/vnd.oci.image.manifest.v1+json"
 * ```
 */
export function mediaTypeOf(contentType: string | null | undefined): string {
  if (!contentType) return "";
  return contentType.split(";")[0].trim().toLowerCase();
}
