/**
 * `mounts[].options` → mount(2) flags, propagation changes and filesystem data, following the
 * option table of the runtime spec's config.md (and runc's parseMountOptions).
 * @module
 */
import { InvalidImageError, UnsupportedError } from "../../errors.ts";
import { MS } from "./ops.ts";

/** MS_POSIXACL (mount(8)'s `acl`); not in ops.ts's table because nothing else uses it. */
export const MS_POSIXACL = 0x10000;
/** MS_I_VERSION (mount(8)'s `iversion`). */
export const MS_I_VERSION = 0x800000;

/** Option → flag it sets (or clears, for the negative spellings). */
const FLAG_OPTIONS: ReadonlyMap<string, { flag: number; clear: boolean }> = new Map([
  ["defaults", { flag: 0, clear: false }],
  ["ro", { flag: MS.RDONLY, clear: false }],
  ["rw", { flag: MS.RDONLY, clear: true }],
  ["nosuid", { flag: MS.NOSUID, clear: false }],
  ["suid", { flag: MS.NOSUID, clear: true }],
  ["nodev", { flag: MS.NODEV, clear: false }],
  ["dev", { flag: MS.NODEV, clear: true }],
  ["noexec", { flag: MS.NOEXEC, clear: false }],
  ["exec", { flag: MS.NOEXEC, clear: true }],
  ["sync", { flag: MS.SYNCHRONOUS, clear: false }],
  ["async", { flag: MS.SYNCHRONOUS, clear: true }],
  ["dirsync", { flag: MS.DIRSYNC, clear: false }],
  ["remount", { flag: MS.REMOUNT, clear: false }],
  ["mand", { flag: MS.MANDLOCK, clear: false }],
  ["nomand", { flag: MS.MANDLOCK, clear: true }],
  ["noatime", { flag: MS.NOATIME, clear: false }],
  ["atime", { flag: MS.NOATIME, clear: true }],
  ["nodiratime", { flag: MS.NODIRATIME, clear: false }],
  ["diratime", { flag: MS.NODIRATIME, clear: true }],
  ["relatime", { flag: MS.RELATIME, clear: false }],
  ["norelatime", { flag: MS.RELATIME, clear: true }],
  ["strictatime", { flag: MS.STRICTATIME, clear: false }],
  ["nostrictatime", { flag: MS.STRICTATIME, clear: true }],
  ["nosymfollow", { flag: MS.NOSYMFOLLOW, clear: false }],
  ["symfollow", { flag: MS.NOSYMFOLLOW, clear: true }],
  ["lazytime", { flag: MS.LAZYTIME, clear: false }],
  ["nolazytime", { flag: MS.LAZYTIME, clear: true }],
  ["silent", { flag: MS.SILENT, clear: false }],
  ["loud", { flag: MS.SILENT, clear: true }],
  ["acl", { flag: MS_POSIXACL, clear: false }],
  ["noacl", { flag: MS_POSIXACL, clear: true }],
  ["iversion", { flag: MS_I_VERSION, clear: false }],
  ["noiversion", { flag: MS_I_VERSION, clear: true }],
  ["bind", { flag: MS.BIND, clear: false }],
  ["rbind", { flag: MS.BIND | MS.REC, clear: false }],
]);

/** Propagation option → the flags of the extra mount(2) call that applies it. */
const PROPAGATION_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["private", MS.PRIVATE],
  ["rprivate", MS.REC | MS.PRIVATE],
  ["shared", MS.SHARED],
  ["rshared", MS.REC | MS.SHARED],
  ["slave", MS.SLAVE],
  ["rslave", MS.REC | MS.SLAVE],
  ["unbindable", MS.UNBINDABLE],
  ["runbindable", MS.REC | MS.UNBINDABLE],
]);

/** Every option the planner maps to flags or propagation (for `ocibox features`). */
export const KNOWN_MOUNT_OPTIONS: readonly string[] = [
  ...FLAG_OPTIONS.keys(),
  ...PROPAGATION_OPTIONS.keys(),
];

// The spec's recursive attributes need mount_setattr(AT_RECURSIVE), which the plan cannot express;
// passing them on as fs data would only fail later with a less helpful error.
const RECURSIVE_ATTRIBUTES: ReadonlySet<string> = new Set([
  "rro",
  "rrw",
  "rnosuid",
  "rsuid",
  "rnodev",
  "rdev",
  "rnoexec",
  "rexec",
  "rnoatime",
  "ratime",
  "rnodiratime",
  "rdiratime",
  "rrelatime",
  "rnorelatime",
  "rstrictatime",
  "rnostrictatime",
  "rnosymfollow",
  "rsymfollow",
]);

/** What a mount's option list means. */
export interface MountOptions {
  /** MS_* flags, applied in order (later options win). */
  flags: number;
  /** Propagation changes, each an MS_* value for its own mount(2) call. */
  propagation: number[];
  /** Filesystem-specific options joined with `,`, or null when there are none. */
  data: string | null;
  /** `tmpcopyup` was given. */
  copyUp: boolean;
}

/**
 * Parses `mounts[].options`. `where` names the entry in errors.
 *
 * @throws {UnsupportedError} for `idmap`/`ridmap` and the recursive (`rro` ...) attributes.
 * @throws {InvalidImageError} when an option is not a string.
 * @example
 * ```ts
 * import { parseMountOptions } from "./mount_options.ts";
 * parseMountOptions(["nosuid", "mode=755", "rprivate"], "mounts[0]");
 * // { flags: 2, propagation: [0x44000], data: "mode=755", copyUp: false }
 * ```
 */
export function parseMountOptions(
  options: readonly string[] | undefined,
  where: string,
): MountOptions {
  if (options !== undefined && !Array.isArray(options)) {
    throw new InvalidImageError(where, "options must be an array of strings");
  }
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  let copyUp = false;
  for (const option of options ?? []) {
    if (typeof option !== "string") {
      throw new InvalidImageError(where, `option ${JSON.stringify(option)} is not a string`);
    }
    const flag = FLAG_OPTIONS.get(option);
    const prop = PROPAGATION_OPTIONS.get(option);
    if (flag) flags = flag.clear ? flags & ~flag.flag : flags | flag.flag;
    else if (prop !== undefined) propagation.push(prop);
    else if (option === "tmpcopyup") copyUp = true;
    else if (option === "idmap" || option === "ridmap") {
      throw new UnsupportedError(`${where}: idmapped mounts (option ${option}) are not supported`);
    } else if (RECURSIVE_ATTRIBUTES.has(option)) {
      throw new UnsupportedError(
        `${where}: recursive mount attribute ${option} (mount_setattr) is not supported`,
      );
    } else if (option !== "") data.push(option);
  }
  return { flags, propagation, data: data.length ? data.join(",") : null, copyUp };
}

/**
 * `linux.rootfsPropagation` → flags for the propagation change of `/`, as runc maps them: the
 * plain names ("shared", "slave", ...) for `/` alone, the "r" ones for the whole tree.
 * `undefined` when the value is unknown.
 */
export function rootPropagationFlags(value: string): number | undefined {
  return PROPAGATION_OPTIONS.get(value);
}
