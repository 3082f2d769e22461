import assert from "node:assert/strict";
import { parseChallenges } from "../../registry/auth/challenge.ts";
import type { AccessScope, Principal } from "../hooks.ts";
import { AccessPolicy } from "./access_rules.ts";
import { basic, testUsers } from "./auth_test_util.ts";
import { bearerAuthorize } from "./bearer_auth.ts";
import { generateTokenKey, signJwt } from "./jwt.ts";
import { TokenIssuer } from "./token_issuer.ts";

const ROWS: Record<string, AccessScope> = {
  base: { type: "base", name: "", actions: [] },
  catalog: { type: "registry", name: "catalog", actions: ["*"] },
  pull: { type: "repository", name: "team/app", actions: ["pull"] },
  push: { type: "repository", name: "team/app", actions: ["pull", "push"] },
  delete: { type: "repository", name: "team/app", actions: ["delete"] },
  mountFrom: { type: "repository", name: "other/app", actions: ["pull"] },
};
const ALL_SCOPES = [
  "registry:catalog:*",
  "repository:team/app:*",
  "repository:other/app:pull",
].map((s) => `scope=${s}`).join("&");

let clock = 1_800_000_000_000;
const key = await generateTokenKey();
const policy = AccessPolicy.fromJson([
  { repository: "team/*", users: ["alice"], actions: ["*"] },
  { repository: "team/*", users: ["bob"], actions: ["pull"] },
  { repository: "other/*", anonymous: ["pull"] },
]);
const issuer = new TokenIssuer({
  key,
  users: await testUsers(),
  policy,
  service: "ocibox",
  issuer: "ocibox",
  now: () => clock,
});
const authorize = bearerAuthorize({
  key,
  service: "ocibox",
  issuer: "ocibox",
  policy,
  now: () => clock,
});

async function tokenFor(user?: string, password = `${user}pw`, scopes = ALL_SCOPES) {
  const res = await issuer.handle(
    new Request(`http://h/token?service=ocibox&offline_token=true&${scopes}`, {
      headers: user ? { authorization: basic(user, password) } : {},
    }),
  );
  assert.equal(res.status, 200);
  return await res.json();
}

function outcome(r: Principal | Response): string | number {
  if (r instanceof Response) return r.status;
  return r.anonymous ? "anonymous" : r.name;
}

async function table(authorization?: string) {
  const out: Record<string, string | number> = {};
  for (const [row, scope] of Object.entries(ROWS)) {
    const req = new Request("http://127.0.0.1:5000/v2/x", {
      headers: authorization ? { authorization } : {},
    });
    out[row] = outcome(await authorize(req, scope));
  }
  return out;
}

Deno.test("bearer auth: every row of the scope table, per user", async () => {
  assert.deepEqual(await table(`Bearer ${(await tokenFor("alice")).token}`), {
    base: "alice",
    catalog: "alice",
    pull: "alice",
    push: "alice",
    delete: "alice",
    mountFrom: "alice",
  });
  assert.deepEqual(await table(`Bearer ${(await tokenFor("bob")).token}`), {
    base: "bob",
    catalog: "bob",
    pull: "bob",
    push: 403,
    delete: 403,
    mountFrom: "bob",
  });
  assert.deepEqual(await table(`Bearer ${(await tokenFor()).token}`), {
    base: "anonymous",
    catalog: 401,
    pull: 401,
    push: 401,
    delete: 401,
    mountFrom: "anonymous",
  });
  // No token, or Basic credentials: everything is 401 with the Bearer challenge.
  for (const auth of [undefined, basic("alice", "alicepw")]) {
    assert.deepEqual(Object.values(await table(auth)), [401, 401, 401, 401, 401, 401]);
  }
});

Deno.test("bearer auth: challenges name realm, service, scope and the error", async () => {
  const req = (authorization?: string) =>
    new Request("https://reg.example:5443/v2/team/app/blobs/uploads/", {
      method: "POST",
      headers: authorization ? { authorization } : {},
    });
  const none = await authorize(req(), ROWS.push) as Response;
  assert.equal(none.status, 401);
  assert.equal(
    none.headers.get("www-authenticate"),
    'Bearer realm="https://reg.example:5443/token",service="ocibox",' +
      'scope="repository:team/app:pull,push"',
  );
  assert.equal((await none.json()).errors[0].code, "UNAUTHORIZED");
  // A token for pull only, when alice may push: ask for a better token.
  const pullOnly = await tokenFor("alice", "alicepw", "scope=repository:team/app:pull");
  const weak = await authorize(req(`Bearer ${pullOnly.token}`), ROWS.push) as Response;
  assert.equal(weak.status, 401);
  const [c] = parseChallenges(weak.headers.get("www-authenticate"));
  assert.equal(c.params.error, "insufficient_scope");
  assert.equal(c.params.scope, "repository:team/app:pull,push");
  const base = await authorize(req(), ROWS.base) as Response;
  assert.equal(
    base.headers.get("www-authenticate"),
    'Bearer realm="https://reg.example:5443/token",service="ocibox"',
  );
  // A configured realm wins.
  const fixed = bearerAuthorize({
    key,
    service: "s",
    issuer: "ocibox",
    policy,
    realm: "https://auth/t",
  });
  const f = await fixed(req(), ROWS.pull) as Response;
  assert.match(f.headers.get("www-authenticate")!, /^Bearer realm="https:\/\/auth\/t",service="s"/);
});

Deno.test("bearer auth: expired, tampered, foreign, refresh and wrong-audience tokens are refused", async () => {
  const alice = await tokenFor("alice");
  const ok = `Bearer ${alice.token}`;
  assert.equal((await table(ok)).push, "alice");
  const refused = async (authorization: string) => {
    const r = await authorize(
      new Request("http://h/v2/", { headers: { authorization } }),
      ROWS.pull,
    );
    assert.ok(r instanceof Response, authorization);
    assert.equal(r.status, 401);
    assert.match(r.headers.get("www-authenticate")!, /error="invalid_token"/);
  };
  await refused(`Bearer ${alice.refresh_token}`);
  const [h, c, s] = alice.token.split(".");
  await refused(`Bearer ${h}.${c}.${s.slice(0, -4)}AAAA`);
  const other = await generateTokenKey();
  const now = Math.floor(clock / 1000);
  const claims = {
    iss: "ocibox",
    sub: "alice",
    aud: "ocibox",
    exp: now + 60,
    access: [{ type: "repository", name: "team/app", actions: ["*"] }],
  };
  await refused(`Bearer ${await signJwt(other, claims)}`);
  await refused(`Bearer ${await signJwt(key, { ...claims, aud: "elsewhere" })}`);
  await refused(`Bearer ${await signJwt(key, { ...claims, iss: "someone" })}`);
  await refused(`Bearer ${await signJwt(key, { ...claims, access: "all" })}`);
  assert.equal(
    outcome(
      await authorize(
        new Request("http://h/v2/", {
          headers: { authorization: `Bearer ${await signJwt(key, claims)}` },
        }),
        ROWS.delete,
      ),
    ),
    "alice",
  );
  // The cached token expires too.
  clock += 301_000;
  await refused(ok);
});
