import assert from "node:assert/strict";
import {
  parseTokenResponse,
  tokenGetRequest,
  tokenPostRequest,
} from "../../registry/auth/token.ts";
import { AccessPolicy } from "./access_rules.ts";
import { basic, shaHtpasswd, testUsers } from "./auth_test_util.ts";
import { HtpasswdFile } from "./htpasswd.ts";
import { generateTokenKey, verifyJwt } from "./jwt.ts";
import { TokenIssuer } from "./token_issuer.ts";

const NOW_MS = 1_800_000_000_000;
const key = await generateTokenKey();

async function issuer(
  options: { anonymousRead?: boolean; access?: unknown; users?: HtpasswdFile } = {},
) {
  return new TokenIssuer({
    key,
    users: options.users ?? await testUsers(),
    policy: AccessPolicy.fromJson(options.access, { anonymousRead: options.anonymousRead }),
    service: "ocibox",
    issuer: "ocibox-issuer",
    expirySeconds: 300,
    now: () => NOW_MS,
  });
}

const RULES = [
  { repository: "team/*", users: ["alice"], actions: ["pull", "push"] },
  { repository: "public/*", anonymous: ["pull"] },
];

async function claimsOf(token: string) {
  return await verifyJwt(key, token, {
    issuer: "ocibox-issuer",
    audience: "ocibox",
    now: NOW_MS / 1000,
  });
}

Deno.test("token: GET as ocibox's client sends it, with credentials and offline_token", async () => {
  const t = await issuer({ access: RULES });
  const req = tokenGetRequest(new URL("http://127.0.0.1:5000/token"), {
    service: "ocibox",
    scopes: ["repository:team/app:pull,push,delete", "repository:other:pull", "registry:catalog:*"],
  }, { username: "alice", password: "alicepw" });
  const res = await t.handle(new Request(req.url, { headers: req.headers }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("cache-control"), "no-store");
  const bytes = new Uint8Array(await res.arrayBuffer());
  const body = JSON.parse(new TextDecoder().decode(bytes));
  assert.equal(body.token, body.access_token);
  assert.equal(body.expires_in, 300);
  assert.equal(body.issued_at, new Date(NOW_MS).toISOString());
  assert.ok(body.refresh_token);
  const parsed = parseTokenResponse(bytes, NOW_MS);
  assert.equal(parsed.expiresAt, NOW_MS + 300_000);
  const claims = await claimsOf(body.token);
  assert.equal(claims.sub, "alice");
  assert.equal(claims.aud, "ocibox");
  assert.equal(claims.exp, NOW_MS / 1000 + 300);
  assert.equal(typeof claims.jti, "string");
  // The intersection of asked and allowed; nothing for "other"; the catalog for users.
  assert.deepEqual(claims.access, [
    { type: "repository", name: "team/app", actions: ["pull", "push"] },
    { type: "registry", name: "catalog", actions: ["*"] },
  ]);
});

Deno.test("token: anonymous GET gets what anonymous requests may have; wrong passwords 401", async () => {
  const t = await issuer({ access: RULES });
  const url = "http://h/token?service=ocibox&scope=repository:public/x:pull,push" +
    "&scope=repository:team/app:pull";
  const res = await t.handle(new Request(url));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.refresh_token, undefined);
  const claims = await claimsOf(body.token);
  assert.equal(claims.sub, "");
  assert.deepEqual(claims.access, [{ type: "repository", name: "public/x", actions: ["pull"] }]);
  // Basic with empty user and password is anonymous too.
  assert.equal(
    (await t.handle(new Request(url, { headers: { authorization: "Basic Og==" } })))
      .status,
    200,
  );
  for (const authorization of [basic("alice", "wrong"), basic("mallory", "x"), "Basic !!"]) {
    const r = await t.handle(new Request(url, { headers: { authorization } }));
    assert.equal(r.status, 401, authorization);
    assert.equal(r.headers.get("www-authenticate"), 'Basic realm="ocibox"');
    assert.equal((await r.json()).errors[0].code, "UNAUTHORIZED");
  }
  // No scope at all (docker login, podman login): a token with no access.
  const login = await t.handle(
    new Request("http://h/token?service=ocibox", {
      headers: { authorization: basic("bob", "bobpw") },
    }),
  );
  assert.deepEqual((await claimsOf((await login.json()).token)).access, []);
  const other = await t.handle(new Request("http://h/token?service=elsewhere"));
  assert.equal(other.status, 400);
  assert.equal((await other.json()).errors[0].code, "DENIED");
});

Deno.test("token: POST password grant (docker login) and refresh grant (ocibox)", async () => {
  const t = await issuer();
  const form = new URLSearchParams({
    grant_type: "password",
    username: "carol",
    password: "carolpw",
    service: "ocibox",
    client_id: "docker",
    access_type: "offline",
  });
  const post = (body: string, type = "application/x-www-form-urlencoded") =>
    t.handle(
      new Request("http://h/token", { method: "POST", headers: { "content-type": type }, body }),
    );
  const res = await post(form.toString());
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.scope, "");
  assert.ok(body.access_token && body.refresh_token);
  assert.deepEqual((await claimsOf(body.access_token)).access, []);
  // The refresh token is no access token.
  const refreshClaims = await claimsOf(body.refresh_token);
  assert.equal(refreshClaims.token_use, "refresh");
  assert.equal(refreshClaims.access, undefined);

  const req = tokenPostRequest(new URL("http://h/token"), {
    service: "ocibox",
    scopes: ["repository:a/b:pull,push", "registry:catalog:*"],
  }, body.refresh_token);
  const refreshed = await t.handle(
    new Request(req.url, { method: "POST", headers: req.headers, body: req.body.slice() }),
  );
  assert.equal(refreshed.status, 200);
  const rb = await refreshed.json();
  assert.equal(rb.scope, "repository:a/b:pull,push registry:catalog:*");
  assert.equal(rb.refresh_token, body.refresh_token);
  assert.equal((await claimsOf(rb.access_token)).sub, "carol");

  const cases: [string, number, string][] = [
    [
      new URLSearchParams({ ...Object.fromEntries(form), password: "x" }).toString(),
      401,
      "invalid_grant",
    ],
    ["grant_type=refresh_token&refresh_token=abc", 400, "invalid_grant"],
    [`grant_type=refresh_token&refresh_token=${rb.access_token}`, 400, "invalid_grant"],
    ["grant_type=authorization_code&code=x", 400, "unsupported_grant_type"],
    [
      `grant_type=refresh_token&service=other&refresh_token=${body.refresh_token}`,
      400,
      "invalid_request",
    ],
  ];
  for (const [text, status, error] of cases) {
    const r = await post(text);
    assert.equal(r.status, status, text);
    assert.equal((await r.json()).error, error, text);
  }
  const wrongType = await post(form.toString(), "application/json");
  assert.equal((await wrongType.json()).error, "invalid_request");
  const huge = await post("scope=" + "x".repeat(70_000));
  assert.equal(huge.status, 400);
});

Deno.test("token: a changed password or a removed user ends refresh tokens", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, await shaHtpasswd({ dave: "davepw" }));
    let clock = NOW_MS;
    const users = await HtpasswdFile.load(path, { recheckMs: 0, now: () => clock });
    const t = new TokenIssuer({
      key,
      users,
      policy: AccessPolicy.fromJson(undefined),
      service: "ocibox",
      issuer: "ocibox",
      now: () => clock,
    });
    const get = await t.handle(
      new Request("http://h/token?offline_token=true", {
        headers: { authorization: basic("dave", "davepw") },
      }),
    );
    const { refresh_token } = await get.json();
    const refresh = () =>
      t.handle(
        new Request("http://h/token", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: `grant_type=refresh_token&refresh_token=${refresh_token}`,
        }),
      );
    assert.equal((await refresh()).status, 200);
    await Deno.writeTextFile(path, await shaHtpasswd({ dave: "newpw" }));
    await Deno.utime(path, clock / 1000 + 10, clock / 1000 + 10);
    clock += 1000;
    assert.equal((await refresh()).status, 400);
    // Expiry: 30 days by default.
    await Deno.writeTextFile(path, await shaHtpasswd({ dave: "davepw" }));
    await Deno.utime(path, clock / 1000 + 20, clock / 1000 + 20);
    clock += 1000;
    assert.equal((await refresh()).status, 200);
    clock += 31 * 24 * 3600_000;
    assert.equal((await refresh()).status, 400);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("token: /token/keys publishes the public key; other methods 405", async () => {
  const t = await issuer();
  const keys = await (await t.handle(new Request("http://h/token/keys"))).json();
  assert.equal(keys.keys.length, 1);
  assert.equal(keys.keys[0].kid, key.kid);
  assert.equal(keys.keys[0].d, undefined);
  const del = await t.handle(new Request("http://h/token", { method: "DELETE" }));
  assert.equal(del.status, 405);
  assert.equal(del.headers.get("allow"), "GET, POST");
});
