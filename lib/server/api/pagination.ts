/**
 * Pagination of sorted listings (tags, catalog): `n` and `last` from the query, the page, and
 * the `Link` to the next one (spec.md "Listing Tags").
 *
 * @example
 * ```ts
 * import { paginate } from "./pagination.ts";
 * paginate(["a", "b", "c"], new URLSearchParams("n=2"), "/v2/x/tags/list");
 * // { items: ["a", "b"], link: '</v2/x/tags/list?n=2&last=b>; rel="next"' }
 * ```
 * @module
 */

import { formatNextLink } from "../../distribution/link.ts";

/** A page of a listing. */
export interface Page {
  readonly items: string[];
  /** The `Link` header to the next page, when there is one. */
  readonly link?: string;
}

/**
 * The page of `sorted` (ascending, by code unit as Go's sort.Strings) that `query` asks for:
 * the entries after `last`, at most `n` (or `defaultN` when `n` is absent), with a Link when
 * more remain. `n=0` is an empty page without Link; an `n` that is not a non-negative integer
 * is ignored.
 *
 * @example
 * ```ts
 * paginate(["a", "b"], new URLSearchParams("last=a"), "/v2/_catalog").items; // ["b"]
 * ```
 */
export function paginate(
  sorted: readonly string[],
  query: URLSearchParams,
  path: string,
  defaultN?: number,
): Page {
  const last = query.get("last");
  const nText = query.get("n");
  let n = nText !== null && /^\d{1,9}$/.test(nText) ? Number(nText) : defaultN;
  let start = 0;
  if (last !== null && last !== "") {
    start = upperBound(sorted, last);
  }
  if (n === undefined) return { items: sorted.slice(start) };
  if (n === 0) return { items: [] };
  n = Math.min(n, sorted.length - start);
  const items = sorted.slice(start, start + n);
  if (start + n < sorted.length && items.length > 0) {
    const nextQuery: Record<string, string> = {};
    if (nText !== null || defaultN !== undefined) nextQuery.n = String(nText ?? defaultN);
    nextQuery.last = items[items.length - 1];
    return { items, link: formatNextLink(path, nextQuery) };
  }
  return { items };
}

/** The index of the first entry greater than `key`. */
function upperBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
