/**
 * Pure handling of the names inside layer tars: cleaning them to a path relative to the rootfs,
 * refusing names that climb out of it, and recognising whiteouts.
 * @module
 */
import { InvalidImageError, UnsafePathError } from "../errors.ts";

/**
 * Cleans a tar member name to a rootfs-relative path without `.`/`..`/empty components.
 * A leading `/` is dropped (as GNU tar does); `..` that would climb above the root is refused.
 * The root itself is "".
 *
 * @example
 * ```ts
 * import { cleanEntryPath } from "./entry_path.ts";
 * cleanEntryPath("./usr//bin/../lib/"); // "usr/lib"
 * cleanEntryPath("/etc/passwd");        // "etc/passwd"
 * ```
 */
export function cleanEntryPath(name: string): string {
  // Fast path: most names are already clean ("usr/lib/x" or "./usr/lib/x").
  let s = name;
  if (s.startsWith("./")) s = s.slice(2);
  if (s.endsWith("/")) s = s.slice(0, -1);
  if (
    s !== "" && s !== "." && !s.startsWith("/") && !s.includes("//") && !s.includes("/./") &&
    !s.endsWith("/.") && !s.startsWith("./") && !s.includes("..") && !s.includes("\0")
  ) return s;
  if (name.includes("\0")) throw new UnsafePathError(name, "contains a NUL byte");
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) throw new UnsafePathError(name, "climbs out of the root with ..");
      out.pop();
    } else out.push(part);
  }
  return out.join("/");
}

/** Splits a clean path into parent ("" for top level) and base name. */
export function splitPath(path: string): [parent: string, base: string] {
  const i = path.lastIndexOf("/");
  return i < 0 ? ["", path] : [path.slice(0, i), path.slice(i + 1)];
}

/** The prefix that marks a whiteout file. */
export const WHITEOUT_PREFIX = ".wh.";
/** The name of an opaque-directory marker. */
export const OPAQUE_WHITEOUT = ".wh..wh..opq";
/** AUFS metadata entries start with this and are ignored, as Docker does. */
const AUFS_META_PREFIX = ".wh..wh.";

/** What a cleaned entry path means for the changeset. */
export type WhiteoutKind =
  | { kind: "none" }
  | { kind: "opaque"; dir: string }
  | { kind: "whiteout"; target: string }
  | { kind: "meta" };

/**
 * Classifies a clean path per layer.md's whiteout rules.
 *
 * @example
 * ```ts
 * import { classifyWhiteout } from "./entry_path.ts";
 * classifyWhiteout("etc/.wh.passwd"); // { kind: "whiteout", target: "etc/passwd" }
 * classifyWhiteout("a/.wh..wh..opq"); // { kind: "opaque", dir: "a" }
 * ```
 */
export function classifyWhiteout(path: string): WhiteoutKind {
  const [parent, base] = splitPath(path);
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: "none" };
  if (base === OPAQUE_WHITEOUT) return { kind: "opaque", dir: parent };
  if (base.startsWith(AUFS_META_PREFIX)) return { kind: "meta" };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === "" || name === "." || name === "..") {
    throw new InvalidImageError(
      "layer",
      `whiteout ${JSON.stringify(path)} names nothing to delete`,
    );
  }
  return { kind: "whiteout", target: parent === "" ? name : `${parent}/${name}` };
}

/** True when `path` is `ancestor` or inside it (both clean). */
export function isWithin(path: string, ancestor: string): boolean {
  return ancestor === "" || path === ancestor || path.startsWith(ancestor + "/");
}
