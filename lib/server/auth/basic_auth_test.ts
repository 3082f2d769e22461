import assert from "node:assert/strict";
import type { AccessScope, Principal } from "../hooks.ts";
import { AccessPolicy } from "./access_rules.ts";
import { basic, testUsers } from "./auth_test_util.ts";
import { basicAuthorize } from "./basic_auth.ts";

// Every row of hooks.ts's scope table.
const ROWS: Record<string, AccessScope> = {
  base: { type: "base", name: "", actions: [] },
  catalog: { type: "registry", name: "catalog", actions: ["*"] },
  pull: { type: "repository", name: "team/app", actions: ["pull"] },
  push: { type: "repository", name: "team/app", actions: ["pull", "push"] },
  delete: { type: "repository", name: "team/app", actions: ["delete"] },
  mountFrom: { type: "repository", name: "other/app", actions: ["pull"] },
};

function request(authorization?: string): Request {
  return new Request("http://127.0.0.1:5000/v2/", {
    headers: authorization ? { authorization } : {},
  });
}

/** "user" / "anonymous" for a principal, the status for a Response. */
function outcome(r: Principal | Response): string | number {
  if (r instanceof Response) return r.status;
  return r.anonymous ? "anonymous" : r.name;
}

async function table(
  authorize: ReturnType<typeof basicAuthorize>,
  authorization?: string,
): Promise<Record<string, string | number>> {
  const out: Record<string, string | number> = {};
  for (const [row, scope] of Object.entries(ROWS)) {
    out[row] = outcome(await authorize(request(authorization), scope));
  }
  return out;
}

Deno.test("basic auth: without rules, users do everything; anonymous requests nothing", async () => {
  const authorize = basicAuthorize({
    users: await testUsers(),
    policy: AccessPolicy.fromJson(undefined),
    realm: "ocibox",
  });
  assert.deepEqual(await table(authorize, basic("alice", "alicepw")), {
    base: "alice",
    catalog: "alice",
    pull: "alice",
    push: "alice",
    delete: "alice",
    mountFrom: "alice",
  });
  assert.deepEqual(await table(authorize), {
    base: 401,
    catalog: 401,
    pull: 401,
    push: 401,
    delete: 401,
    mountFrom: 401,
  });
  // A wrong password or an unknown user: 401 for every row, even those anonymous could have.
  for (const auth of [basic("alice", "nope"), basic("mallory", "x"), "Basic !!", "Bearer x.y.z"]) {
    assert.deepEqual(Object.values(await table(authorize, auth)), [401, 401, 401, 401, 401, 401]);
  }
});

Deno.test("basic auth: --anonymous-read opens pulls and the catalog, not /v2/, pushes, deletes", async () => {
  const authorize = basicAuthorize({
    users: await testUsers(),
    policy: AccessPolicy.fromJson(undefined, { anonymousRead: true }),
    realm: "ocibox",
  });
  assert.deepEqual(await table(authorize), {
    base: 401,
    catalog: "anonymous",
    pull: "anonymous",
    push: 401,
    delete: 401,
    mountFrom: "anonymous",
  });
  assert.deepEqual(await table(authorize, "Basic Og=="), await table(authorize));
  assert.equal((await table(authorize, basic("bob", "bobpw"))).push, "bob");
});

Deno.test("basic auth: access rules give 403 to known users, 401 to anonymous ones", async () => {
  const authorize = basicAuthorize({
    users: await testUsers(),
    policy: AccessPolicy.fromJson([
      { repository: "team/*", users: ["alice"], actions: ["*"] },
      { repository: "team/*", users: ["bob"], actions: ["pull"] },
      { repository: "other/*", anonymous: ["pull"] },
    ]),
    realm: "ocibox",
  });
  assert.deepEqual(await table(authorize, basic("bob", "bobpw")), {
    base: "bob",
    catalog: "bob",
    pull: "bob",
    push: 403,
    delete: 403,
    mountFrom: "bob",
  });
  assert.deepEqual(await table(authorize, basic("carol", "carolpw")), {
    base: "carol",
    catalog: "carol",
    pull: 403,
    push: 403,
    delete: 403,
    mountFrom: "carol",
  });
  assert.deepEqual(await table(authorize), {
    base: 401,
    catalog: 401,
    pull: 401,
    push: 401,
    delete: 401,
    mountFrom: "anonymous",
  });
});

Deno.test("basic auth: the 401 carries the Basic challenge and the spec's body", async () => {
  const authorize = basicAuthorize({
    users: await testUsers(),
    policy: AccessPolicy.fromJson(undefined),
    realm: "my registry",
  });
  const r = await authorize(request(basic("alice", "bad")), ROWS.push) as Response;
  assert.equal(r.headers.get("www-authenticate"), 'Basic realm="my registry"');
  const body = await r.json();
  assert.equal(body.errors[0].code, "UNAUTHORIZED");
  assert.equal(body.errors[0].message, "invalid username or password");
  const d = await basicAuthorize({
    users: await testUsers(),
    policy: AccessPolicy.fromJson([{ repository: "x", users: ["alice"], actions: ["pull"] }]),
    realm: "r",
  })(request(basic("alice", "alicepw")), ROWS.delete) as Response;
  assert.equal(d.status, 403);
  assert.equal((await d.json()).errors[0].code, "DENIED");
});
