/**
 * User resolution for image conversion: parse a container's `/etc/passwd` and `/etc/group` text
 * and turn an image's `Config.User` (`user`, `uid`, `user:group`, `uid:gid`, `uid:group`,
 * `user:gid`) into the runtime spec's `process.user` ids, per the image spec's conversion.md.
 * Callers read the files; nothing here touches the disk.
 *
 * @example
 * ```ts
 * import { resolveUser } from "./passwd.ts";
 * const passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
 * const group = "wheel:x:10:alice\n";
 * console.log(resolveUser("alice", passwd, group));
 * // { uid: 1000, gid: 1000, additionalGids: [10], home: "/home/alice" }
 * ```
 * @module
 */

import { InvalidImageError, UserNotFoundError } from "../errors.ts";

/** One `/etc/passwd` line: `name:password:uid:gid:gecos:home:shell`. */
export interface PasswdEntry {
  name: string;
  password: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

/** One `/etc/group` line: `name:password:gid:member,member,...`. */
export interface GroupEntry {
  name: string;
  password: string;
  gid: number;
  members: string[];
}

/** The ids a user spec resolves to, ready for `process.user` (plus the home directory). */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups; empty unless the user was given by name and without a group. */
  additionalGids: number[];
  /** Home directory from the user's passwd entry, when there is one and it is not empty. */
  home?: string;
}

// Same bound as runc's user package (moby/sys/user): ids above MaxInt32 are refused because
// 32-bit consumers treat them as negative.
const MAX_ID = 2 ** 31 - 1;
const DIGITS = /^[0-9]+$/;

/**
 * Parses `/etc/passwd` text. Like glibc, blank lines and `#` comments are skipped; unlike runc's
 * parser (which reads a bad number as 0, i.e. root), lines with fewer than four fields or a
 * non-numeric uid/gid (NIS `+`/`-` lines, garbage) are skipped too. Missing trailing fields are
 * empty strings. CRLF line ends are accepted.
 *
 * @example
 * ```ts
 * import { parsePasswd } from "./passwd.ts";
 * parsePasswd("# c\nroot:x:0:0:root:/root:/bin/sh\n+::::::\n").length; // 1
 * ```
 */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const fields of lines(text)) {
    if (fields.length < 4 || fields[0] === "") continue;
    if (!DIGITS.test(fields[2]) || !DIGITS.test(fields[3])) continue;
    out.push({
      name: fields[0],
      password: fields[1],
      uid: Number(fields[2]),
      gid: Number(fields[3]),
      gecos: fields[4] ?? "",
      home: fields[5] ?? "",
      shell: fields[6] ?? "",
    });
  }
  return out;
}

/**
 * Parses `/etc/group` text, skipping blank, comment and malformed lines the same way as
 * {@linkcode parsePasswd}. Empty member names (from `a,,b` or a trailing comma) are dropped.
 *
 * @example
 * ```ts
 * import { parseGroup } from "./passwd.ts";
 * parseGroup("wheel:x:10:alice,bob\n")[0].members; // ["alice", "bob"]
 * ```
 */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const fields of lines(text)) {
    if (fields.length < 3 || fields[0] === "" || !DIGITS.test(fields[2])) continue;
    const members = (fields[3] ?? "").split(",").map((m) => m.trim()).filter((m) => m !== "");
    out.push({ name: fields[0], password: fields[1], gid: Number(fields[2]), members });
  }
  return out;
}

function* lines(text: string): Generator<string[]> {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    yield line.split(":");
  }
}

/**
 * Resolves an image `Config.User` value against the container's `/etc/passwd` and `/etc/group`
 * contents (`undefined` when the file does not exist).
 *
 * - Numeric user or group values are copied verbatim. A numeric uid takes its gid (and home)
 *   from its passwd entry when there is one, else gid 0.
 * - Names are looked up (first matching line wins); an unknown name is a
 *   {@linkcode UserNotFoundError}, as conversion.md requires.
 * - `additionalGids` lists the groups naming the user as a member, only when the user is given by
 *   name and no group is given (conversion.md: SHOULD NOT otherwise). The primary gid is not
 *   added unless the group file lists the user in it, like runc/umoci.
 * - An empty spec means uid 0 with the gid, home and groups of uid 0's passwd entry (if any), as
 *   umoci, runc and docker do (conversion.md leaves an absent `Config.User` to implementations);
 *   an empty user part with a group (`:staff`) means uid 0 in that group.
 *
 * Difference from umoci 0.4.7 (runc's user package): umoci also collects supplementary groups for
 * a numeric uid that has a passwd entry; conversion.md says a converter SHOULD NOT.
 *
 * @throws {UserNotFoundError} a user or group name is not in the files.
 * @throws {InvalidImageError} a numeric id, or one the files give, is above 2^31-1.
 * @example
 * ```ts
 * import { resolveUser } from "./passwd.ts";
 * resolveUser("1234:5678"); // { uid: 1234, gid: 5678, additionalGids: [] }
 * ```
 */
export function resolveUser(userSpec: string, passwd?: string, group?: string): ResolvedUser {
  const colon = userSpec.indexOf(":");
  const userPart = colon < 0 ? userSpec : userSpec.slice(0, colon);
  const groupPart = colon < 0 ? "" : userSpec.slice(colon + 1);
  const users = passwd === undefined ? [] : parsePasswd(passwd);

  let entry: PasswdEntry | undefined;
  let uid: number;
  if (userPart === "" || DIGITS.test(userPart)) {
    uid = userPart === "" ? 0 : parseId(userSpec, "uid", userPart);
    entry = users.find((u) => u.uid === uid);
  } else {
    entry = users.find((u) => u.name === userPart);
    if (entry === undefined) {
      throw new UserNotFoundError("user", userPart, missingReason(passwd, "/etc/passwd"));
    }
    uid = entry.uid;
  }
  let gid = entry?.gid ?? 0;
  let additionalGids: number[] = [];

  if (groupPart !== "") {
    if (DIGITS.test(groupPart)) {
      gid = parseId(userSpec, "gid", groupPart);
    } else {
      const found = parseGroup(group ?? "").find((g) => g.name === groupPart);
      if (found === undefined) {
        throw new UserNotFoundError("group", groupPart, missingReason(group, "/etc/group"));
      }
      gid = found.gid;
    }
  } else if (entry !== undefined && !DIGITS.test(userPart)) {
    // A name, or no user at all (root's entry): the only cases conversion.md and umoci agree on.
    const name = entry.name;
    additionalGids = parseGroup(group ?? "").filter((g) => g.members.includes(name)).map((g) =>
      g.gid
    );
  }

  // Ids from the files get the same bound as numeric ones (runc's user package checks both):
  // the runtime could not switch to them.
  checkId(userSpec, "uid", uid, "/etc/passwd");
  checkId(userSpec, "gid", gid, groupPart === "" ? "/etc/passwd" : "/etc/group");
  for (const g of additionalGids) checkId(userSpec, "gid", g, "/etc/group");
  const resolved: ResolvedUser = { uid, gid, additionalGids };
  if (entry !== undefined && entry.home !== "") resolved.home = entry.home;
  return resolved;
}

function parseId(userSpec: string, what: "uid" | "gid", value: string): number {
  const id = Number(value);
  if (id > MAX_ID) {
    throw new InvalidImageError(
      `user spec ${JSON.stringify(userSpec)}`,
      `${what} ${value} is out of range 0-${MAX_ID}`,
    );
  }
  return id;
}

function checkId(userSpec: string, what: "uid" | "gid", id: number, file: string): void {
  if (!Number.isSafeInteger(id) || id > MAX_ID) {
    throw new InvalidImageError(
      `user spec ${JSON.stringify(userSpec)}`,
      `${what} ${id} (from the container's ${file}) is out of range 0-${MAX_ID}`,
    );
  }
}

function missingReason(text: string | undefined, file: string): string {
  return text === undefined
    ? `the container has no ${file}`
    : `no matching entry in the container's ${file}`;
}
