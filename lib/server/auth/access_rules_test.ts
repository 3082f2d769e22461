import assert from "node:assert/strict";
import { ConfigInvalidError } from "../../errors.ts";
import { AccessPolicy } from "./access_rules.ts";

const sorted = (s: Set<string>) => [...s].sort();

Deno.test("access: without rules, users do everything; anonymous pulls only when asked", () => {
  const closed = AccessPolicy.fromJson(undefined);
  assert.deepEqual(sorted(closed.actionsFor("alice", "a/b")), ["delete", "pull", "push"]);
  assert.deepEqual(sorted(closed.actionsFor(undefined, "a/b")), []);
  assert.equal(closed.anonymousPulls, false);
  assert.equal(closed.catalogAllowed(undefined), false);
  assert.equal(closed.catalogAllowed("alice"), true);
  const open = AccessPolicy.fromJson(undefined, { anonymousRead: true });
  assert.deepEqual(sorted(open.actionsFor(undefined, "a/b")), ["pull"]);
  assert.equal(open.anonymousPulls, true);
  assert.equal(open.catalogAllowed(undefined), true);
});

Deno.test("access: rules match whole names with *, ${user} namespaces, unions, closed default", () => {
  const policy = AccessPolicy.fromJson([
    { repository: "team/*", users: ["alice", "bob"], actions: ["pull", "push"] },
    { repository: "${user}/*", users: ["*"], actions: ["*"] },
    { repository: "public/*", anonymous: ["pull"] },
    { repository: "*", users: ["ci"], actions: ["pull"] },
    { repository: "team/admin", users: ["bob"], actions: ["delete"] },
  ]);
  assert.deepEqual(sorted(policy.actionsFor("alice", "team/app")), ["pull", "push"]);
  assert.deepEqual(sorted(policy.actionsFor("alice", "team/a/b")), ["pull", "push"]);
  assert.deepEqual(sorted(policy.actionsFor("alice", "teamx")), []);
  assert.deepEqual(sorted(policy.actionsFor("bob", "team/admin")), ["delete", "pull", "push"]);
  assert.deepEqual(sorted(policy.actionsFor("carol", "carol/x")), ["delete", "pull", "push"]);
  assert.deepEqual(sorted(policy.actionsFor("carol", "alice/x")), []);
  assert.deepEqual(sorted(policy.actionsFor("ci", "anything/at/all")), ["pull"]);
  assert.deepEqual(sorted(policy.actionsFor(undefined, "public/x")), ["pull"]);
  assert.deepEqual(sorted(policy.actionsFor("carol", "public/x")), ["pull"]);
  assert.deepEqual(sorted(policy.actionsFor(undefined, "team/app")), []);
  assert.equal(policy.anonymousPulls, true);
  // Anonymous pulls of some repositories do not open the catalog.
  assert.equal(policy.catalogAllowed(undefined), false);
  // A user name cannot widen a ${user} pattern, and regexp characters are literal.
  assert.deepEqual(sorted(policy.actionsFor("*", "x/y")), []);
  assert.deepEqual(sorted(policy.actionsFor("a.c", "abc/x")), []);
  assert.deepEqual(sorted(policy.actionsFor("a.c", "a.c/x")), ["delete", "pull", "push"]);
});

Deno.test("access: anonymousRead adds pulls everywhere on top of rules", () => {
  const policy = AccessPolicy.fromJson([{ repository: "x", users: ["a"], actions: ["push"] }], {
    anonymousRead: true,
  });
  assert.deepEqual(sorted(policy.actionsFor(undefined, "y")), ["pull"]);
  assert.deepEqual(sorted(policy.actionsFor("a", "x")), ["pull", "push"]);
});

Deno.test("access: malformed rules are refused, naming the rule", () => {
  const cases: [unknown, RegExp][] = [
    [{}, /auth\.access must be a list/],
    [[1], /auth\.access\[0\] must be an object/],
    [[{ repository: "x", users: ["a"], actions: ["pull"], extra: 1 }], /unknown key "extra"/],
    [[{ users: ["a"], actions: ["pull"] }], /repository must be a non-empty pattern/],
    [[{ repository: "x", users: ["a"] }], /users and actions go together/],
    [[{ repository: "x" }], /give users and actions, or anonymous/],
    [[{ repository: "x", users: "a", actions: ["pull"] }], /users must be a list/],
    [[{ repository: "x", users: ["a"], actions: ["write"] }], /unknown action "write"/],
    [[{ repository: "x", anonymous: ["push"] }], /only pull can be anonymous/],
    [[{ repository: "x", anonymous: ["*"] }], /only pull can be anonymous/],
  ];
  for (const [access, message] of cases) {
    assert.throws(() => AccessPolicy.fromJson(access, { source: "f.json" }), (e) => {
      assert.ok(e instanceof ConfigInvalidError);
      assert.equal(e.code, "CONFIG_INVALID");
      assert.match(e.message, /^f\.json: /);
      assert.match(e.message, message);
      return true;
    }, JSON.stringify(access));
  }
});

Deno.test("access: permits answers for every row of the scope table", () => {
  const policy = AccessPolicy.fromJson([
    { repository: "team/*", users: ["alice"], actions: ["pull", "push"] },
    { repository: "public/*", anonymous: ["pull"] },
  ]);
  const base = { type: "base", name: "", actions: [] } as const;
  const catalog = { type: "registry", name: "catalog", actions: ["*"] } as const;
  const pull = { type: "repository", name: "team/a", actions: ["pull"] } as const;
  const push = { type: "repository", name: "team/a", actions: ["pull", "push"] } as const;
  const del = { type: "repository", name: "team/a", actions: ["delete"] } as const;
  const all = { type: "repository", name: "team/a", actions: ["*"] } as const;
  const pub = { type: "repository", name: "public/x", actions: ["pull"] } as const;
  assert.equal(policy.permits(undefined, base), false);
  assert.equal(policy.permits("alice", base), true);
  assert.equal(policy.permits(undefined, catalog), false);
  assert.equal(policy.permits("alice", catalog), true);
  assert.equal(policy.permits("alice", { ...catalog, name: "other" }), false);
  assert.equal(policy.permits("alice", pull), true);
  assert.equal(policy.permits("alice", push), true);
  assert.equal(policy.permits("alice", del), false);
  assert.equal(policy.permits("alice", all), false);
  assert.equal(policy.permits("bob", pull), false);
  assert.equal(policy.permits(undefined, pull), false);
  assert.equal(policy.permits(undefined, pub), true);
  assert.equal(policy.permits(undefined, { ...pub, actions: ["pull", "push"] }), false);
});
