import assert from "node:assert/strict";
import { InvalidImageError, UserNotFoundError } from "../errors.ts";
import { parseGroup, parsePasswd, resolveUser } from "./passwd.ts";

const PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "  # a comment, indented",
  "",
  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
  "+::::::",
  "broken:x:notanumber:0::/:/bin/sh",
  "short:x:7",
  "alice:x:1000:1000:Alice:/home/alice:/bin/sh\r",
  "bob:x:1001:1001",
  "nohome:x:1002:1002:::/bin/sh",
  "alice:x:2000:2000:second alice:/nowhere:/bin/sh",
].join("\n");

const GROUP = [
  "root:x:0:root",
  "# comment",
  "wheel:x:10:alice,bob,root",
  "alice:x:1000:",
  "bob:x:1001",
  "staff:x:50: alice ,,",
  "bad:x:x:alice",
  "dup:x:60:alice",
  "staff:x:51:bob",
].join("\n");

Deno.test("parsePasswd: skips blank, comment and malformed lines; tolerates short lines", () => {
  const users = parsePasswd(PASSWD);
  assert.deepStrictEqual(users.map((u) => u.name), [
    "root",
    "daemon",
    "alice",
    "bob",
    "nohome",
    "alice",
  ]);
  assert.deepStrictEqual(users[2], {
    name: "alice",
    password: "x",
    uid: 1000,
    gid: 1000,
    gecos: "Alice",
    home: "/home/alice",
    shell: "/bin/sh",
  });
  assert.deepStrictEqual(users[3], {
    name: "bob",
    password: "x",
    uid: 1001,
    gid: 1001,
    gecos: "",
    home: "",
    shell: "",
  });
  assert.deepStrictEqual(parsePasswd(""), []);
});

Deno.test("parseGroup: members split on commas, empty names dropped, bad gids skipped", () => {
  const groups = parseGroup(GROUP);
  assert.deepStrictEqual(groups.map((g) => [g.name, g.gid, g.members]), [
    ["root", 0, ["root"]],
    ["wheel", 10, ["alice", "bob", "root"]],
    ["alice", 1000, []],
    ["bob", 1001, []],
    ["staff", 50, ["alice"]],
    ["dup", 60, ["alice"]],
    ["staff", 51, ["bob"]],
  ]);
});

Deno.test("resolveUser: user name -> passwd ids, home and group memberships", () => {
  assert.deepStrictEqual(resolveUser("alice", PASSWD, GROUP), {
    uid: 1000,
    gid: 1000,
    additionalGids: [10, 50, 60],
    home: "/home/alice",
  });
  // First matching line wins, like runc and glibc.
  assert.equal(resolveUser("alice", PASSWD, GROUP).uid, 1000);
  assert.deepStrictEqual(resolveUser("bob", PASSWD, GROUP), {
    uid: 1001,
    gid: 1001,
    additionalGids: [10, 51],
  });
  // No /etc/group: the primary group still comes from passwd.
  assert.deepStrictEqual(resolveUser("alice", PASSWD), {
    uid: 1000,
    gid: 1000,
    additionalGids: [],
    home: "/home/alice",
  });
});

Deno.test("resolveUser: numeric uid copied verbatim, gid from its entry or 0, no groups", () => {
  assert.deepStrictEqual(resolveUser("1000", PASSWD, GROUP), {
    uid: 1000,
    gid: 1000,
    additionalGids: [],
    home: "/home/alice",
  });
  assert.deepStrictEqual(resolveUser("4242", PASSWD, GROUP), {
    uid: 4242,
    gid: 0,
    additionalGids: [],
  });
  assert.deepStrictEqual(resolveUser("4242"), { uid: 4242, gid: 0, additionalGids: [] });
  assert.deepStrictEqual(resolveUser("0007"), { uid: 7, gid: 0, additionalGids: [] });
});

Deno.test("resolveUser: explicit groups, by number or name, drop supplementary groups", () => {
  assert.deepStrictEqual(resolveUser("alice:staff", PASSWD, GROUP), {
    uid: 1000,
    gid: 50,
    additionalGids: [],
    home: "/home/alice",
  });
  assert.deepStrictEqual(resolveUser("alice:777", PASSWD, GROUP), {
    uid: 1000,
    gid: 777,
    additionalGids: [],
    home: "/home/alice",
  });
  assert.deepStrictEqual(resolveUser("1234:5678"), { uid: 1234, gid: 5678, additionalGids: [] });
  assert.deepStrictEqual(resolveUser("1234:wheel", undefined, GROUP), {
    uid: 1234,
    gid: 10,
    additionalGids: [],
  });
  // An empty group part is the same as no group.
  assert.deepStrictEqual(resolveUser("alice:", PASSWD, GROUP), resolveUser("alice", PASSWD, GROUP));
});

Deno.test("resolveUser: empty spec is uid 0 with root's entry and memberships", () => {
  assert.deepStrictEqual(resolveUser("", PASSWD, GROUP), {
    uid: 0,
    gid: 0,
    additionalGids: [0, 10],
    home: "/root",
  });
  assert.deepStrictEqual(resolveUser(""), { uid: 0, gid: 0, additionalGids: [] });
  assert.deepStrictEqual(resolveUser(":staff", PASSWD, GROUP), {
    uid: 0,
    gid: 50,
    additionalGids: [],
    home: "/root",
  });
  // Numeric 0 is numeric: no supplementary groups (conversion.md).
  assert.deepStrictEqual(resolveUser("0", PASSWD, GROUP).additionalGids, []);
});

Deno.test("resolveUser: unknown names are UserNotFoundError with a one-line message", () => {
  assert.throws(() => resolveUser("mallory", PASSWD, GROUP), (e: unknown) => {
    assert.ok(e instanceof UserNotFoundError);
    assert.equal(e.code, "USER_NOT_FOUND");
    assert.equal(e.kind, "user");
    assert.equal(e.lookupName, "mallory");
    assert.equal(
      e.message,
      `user "mallory" not found: no matching entry in the container's /etc/passwd`,
    );
    return true;
  });
  assert.throws(
    () => resolveUser("alice"),
    (e: unknown) =>
      e instanceof UserNotFoundError &&
      e.message === `user "alice" not found: the container has no /etc/passwd`,
  );
  assert.throws(
    () => resolveUser("alice:nogroup", PASSWD, GROUP),
    (e: unknown) => e instanceof UserNotFoundError && e.kind === "group",
  );
  assert.throws(
    () => resolveUser("1:wheel", PASSWD),
    (e: unknown) =>
      e instanceof UserNotFoundError &&
      e.message === `group "wheel" not found: the container has no /etc/group`,
  );
  // Malformed lines are not entries, so their names do not resolve.
  assert.throws(() => resolveUser("broken", PASSWD, GROUP), UserNotFoundError);
  assert.throws(() => resolveUser("alice:bad", PASSWD, GROUP), UserNotFoundError);
  // A group part with a colon is not a group name that can exist.
  assert.throws(() => resolveUser("alice:staff:x", PASSWD, GROUP), UserNotFoundError);
});

Deno.test("resolveUser: ids above 2^31-1 are rejected like runc does", () => {
  assert.deepStrictEqual(resolveUser("2147483647:2147483647").uid, 2147483647);
  assert.throws(() => resolveUser("2147483648"), InvalidImageError);
  assert.throws(() => resolveUser("1:99999999999999999999"), InvalidImageError);
});

Deno.test("resolveUser: names that start with digits are names", () => {
  const passwd = "1abc:x:300:301::/h:/bin/sh\n";
  assert.deepStrictEqual(resolveUser("1abc", passwd), {
    uid: 300,
    gid: 301,
    additionalGids: [],
    home: "/h",
  });
});

Deno.test("resolveUser: ids from the files above 2^31-1 are refused, like numeric ones", () => {
  const passwd = "big:x:4294967295:0::/:/bin/sh\nbiggid:x:5:3000000000::/:/bin/sh\n";
  assert.throws(
    () => resolveUser("big", passwd),
    new InvalidImageError(
      'user spec "big"',
      "uid 4294967295 (from the container's /etc/passwd) is out of range 0-2147483647",
    ),
  );
  assert.throws(() => resolveUser("biggid", passwd), /gid 3000000000/);
  assert.throws(
    () => resolveUser("root:huge", "root:x:0:0::/:/bin/sh\n", "huge:x:99999999999:\n"),
    /gid 99999999999 \(from the container's \/etc\/group\)/,
  );
});
