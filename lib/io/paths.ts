/**
 * POSIX path helpers for host paths: what the transports used from node:path, without loading
 * Node's compatibility layer (~10 ms of start-up) for three string functions.
 * @module
 */

/** `path` made absolute against the current directory, with `.`, `..` and `//` resolved. */
export function resolve(path: string): string {
  const parts: string[] = [];
  for (const p of (path.startsWith("/") ? path : `${Deno.cwd()}/${path}`).split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return "/" + parts.join("/");
}

/** The directory part of `path` (`.` when it has none), like POSIX dirname. */
export function dirname(path: string): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const i = trimmed.lastIndexOf("/");
  if (i < 0) return ".";
  if (i === 0) return "/";
  return trimmed.slice(0, i).replace(/\/+$/, "") || "/";
}

/** The last part of `path`, trailing slashes ignored, like POSIX basename. */
export function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}
