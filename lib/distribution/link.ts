/**
 * The `Link` header of paginated listings (RFC 5988, `rel="next"`), as tags/list, _catalog and
 * referrers send it.
 *
 * @example
 * ```ts
 * import { formatNextLink, nextLink } from "./link.ts";
 * const h = formatNextLink("/v2/a/tags/list", { n: "2", last: "v2" });
 * nextLink(h); // "/v2/a/tags/list?n=2&last=v2"
 * ```
 * @module
 */

/**
 * A `Link` header value pointing at the next page: `<path?query>; rel="next"`.
 *
 * @example
 * ```ts
 * formatNextLink("/v2/_catalog", { n: "100", last: "a/b" });
 * // '</v2/_catalog?n=100&last=a%2Fb>; rel="next"'
 * ```
 */
export function formatNextLink(path: string, query: Record<string, string>): string {
  const q = new URLSearchParams(query).toString();
  return `<${path}${q ? `?${q}` : ""}>; rel="next"`;
}

/**
 * The target of the `rel="next"` link in a `Link` header, or undefined when there is none.
 *
 * @example
 * ```ts
 * nextLink('</v2/_catalog?last=b&n=1>; rel="next"'); // "/v2/_catalog?last=b&n=1"
 * nextLink(null); // undefined
 * ```
 */
export function nextLink(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of splitLinks(header)) {
    const m = /^\s*<([^>]*)>(.*)$/s.exec(part);
    if (!m) continue;
    for (const param of m[2].split(";")) {
      const p = /^\s*rel\s*=\s*"?([^"]*)"?\s*$/i.exec(param);
      if (p && p[1].split(/\s+/).some((r) => r.toLowerCase() === "next")) return m[1];
    }
  }
  return undefined;
}

// Splits on commas outside <...> and quotes.
function splitLinks(header: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < header.length; i++) {
    const c = header[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === "<") depth++;
    else if (!quoted && c === ">") depth = Math.max(0, depth - 1);
    else if (!quoted && depth === 0 && c === ",") {
      parts.push(header.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(header.slice(start));
  return parts;
}
