import assert from "node:assert/strict";
import { accessClaim, allows, formatScope, parseScope, parseScopes } from "./scope.ts";

Deno.test("scope: the grammar's forms, a port in the name, classes ignored", () => {
  assert.deepEqual(parseScope("repository:samalba/my-app:pull,push"), {
    type: "repository",
    name: "samalba/my-app",
    actions: ["pull", "push"],
  });
  assert.deepEqual(parseScope("repository:localhost:5000/app:pull"), {
    type: "repository",
    name: "localhost:5000/app",
    actions: ["pull"],
  });
  assert.deepEqual(parseScope("registry:catalog:*"), {
    type: "registry",
    name: "catalog",
    actions: ["*"],
  });
  assert.equal(parseScope("repository(plugin):x:pull")?.type, "repository");
  assert.deepEqual(parseScope("repository:x:")?.actions, []);
  assert.deepEqual(parseScope("repository:x:pull,pull,,push")?.actions, ["pull", "push"]);
});

Deno.test("scope: malformed scopes are undefined", () => {
  for (
    const bad of [
      "",
      "repository",
      "repository:x",
      ":x:pull",
      "Repository:x:pull",
      "repository::pull",
      "repository:x:PULL",
      "repository:x:pu ll",
    ]
  ) {
    assert.equal(parseScope(bad), undefined, bad);
  }
});

Deno.test("scope: lists are split on spaces, merged per resource, malformed dropped", () => {
  const scopes = parseScopes(
    "repository:a:pull  repository:b:push",
    "repository:a:push bogus",
    "",
  );
  assert.deepEqual(scopes.map(formatScope), ["repository:a:pull,push", "repository:b:push"]);
});

Deno.test("scope: allows matches type, name and action or *", () => {
  const access = [
    { type: "repository", name: "a", actions: ["pull"] },
    { type: "repository", name: "b", actions: ["*"] },
  ];
  assert.equal(allows(access, "repository", "a", "pull"), true);
  assert.equal(allows(access, "repository", "a", "push"), false);
  assert.equal(allows(access, "repository", "b", "delete"), true);
  assert.equal(allows(access, "registry", "a", "pull"), false);
  assert.equal(allows(access, "repository", "c", "pull"), false);
});

Deno.test("scope: the access claim is read strictly", () => {
  assert.deepEqual(accessClaim(undefined), []);
  assert.deepEqual(accessClaim([{ type: "registry", name: "catalog", actions: ["*"] }]), [
    { type: "registry", name: "catalog", actions: ["*"] },
  ]);
  for (
    const bad of ["x", [1], [{ type: "repository", name: "a" }], [{
      type: 1,
      name: "a",
      actions: [],
    }], [{ type: "repository", name: "a", actions: [1] }]]
  ) {
    assert.equal(accessClaim(bad), undefined, JSON.stringify(bad));
  }
});
