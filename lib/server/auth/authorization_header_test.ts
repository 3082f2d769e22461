import assert from "node:assert/strict";
import { presentedCredentials } from "./authorization_header.ts";
import { basic } from "./auth_test_util.ts";
import { basicChallenge, bearerChallenge, denied, unauthorized } from "./responses.ts";
import { parseChallenges } from "../../registry/auth/challenge.ts";

Deno.test("authorization header: Basic, Bearer, none and broken values", () => {
  assert.deepEqual(presentedCredentials(basic("alice", "pa:ss wörd")), {
    kind: "basic",
    user: "alice",
    password: "pa:ss wörd",
  });
  assert.deepEqual(presentedCredentials("basic " + btoa("u:")), {
    kind: "basic",
    user: "u",
    password: "",
  });
  assert.deepEqual(presentedCredentials("Bearer a.b.c"), { kind: "bearer", token: "a.b.c" });
  assert.deepEqual(presentedCredentials(null), { kind: "none" });
  assert.deepEqual(presentedCredentials(""), { kind: "none" });
  // containers/image's "no credentials" for a Basic challenge.
  assert.deepEqual(presentedCredentials("Basic Og=="), { kind: "none" });
  for (
    const bad of [
      "Basic",
      "Basic !!!!",
      "Basic YWxpY2U=",
      "Basic " + btoa("\xff:x"),
      "Bearer a b",
      "Digest x=1",
      "garbage",
    ]
  ) {
    assert.equal(presentedCredentials(bad).kind, "invalid", bad);
  }
});

Deno.test("responses: challenges parse back with ocibox's own client parser", () => {
  const scope = { type: "repository", name: "team/app", actions: ["pull", "push"] } as const;
  const [b] = parseChallenges(basicChallenge('my "realm"'));
  assert.deepEqual(b, { scheme: "basic", params: { realm: 'my "realm"' } });
  const [t] = parseChallenges(
    bearerChallenge("http://h:5000/token", "ocibox", scope, "insufficient_scope"),
  );
  assert.deepEqual(t.params, {
    realm: "http://h:5000/token",
    service: "ocibox",
    scope: "repository:team/app:pull,push",
    error: "insufficient_scope",
  });
  const base = bearerChallenge("http://h/token", "s", { type: "base", name: "", actions: [] });
  assert.equal(base, 'Bearer realm="http://h/token",service="s"');
  const catalog = bearerChallenge("r", "s", { type: "registry", name: "catalog", actions: ["*"] });
  assert.match(catalog, /scope="registry:catalog:\*"$/);
});

Deno.test("responses: UNAUTHORIZED and DENIED bodies as the spec writes them", async () => {
  const scope = { type: "repository", name: "a", actions: ["pull", "push"] } as const;
  const r = unauthorized(scope, basicChallenge("x"));
  assert.equal(r.status, 401);
  assert.equal(r.headers.get("www-authenticate"), 'Basic realm="x"');
  assert.equal(r.headers.get("content-type"), "application/json");
  assert.deepEqual(await r.json(), {
    errors: [{
      code: "UNAUTHORIZED",
      message: "authentication required",
      detail: [
        { Type: "repository", Name: "a", Action: "pull" },
        { Type: "repository", Name: "a", Action: "push" },
      ],
    }],
  });
  const d = denied({ type: "repository", name: "a", actions: ["delete"] }, "bob");
  assert.equal(d.status, 403);
  const body = await d.json();
  assert.equal(body.errors[0].code, "DENIED");
  assert.match(body.errors[0].message, /user bob may not delete on repository a/);
});
