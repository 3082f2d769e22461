import assert from "node:assert/strict";
import { UsageError } from "../../errors.ts";
import { defaultConfig } from "../config.ts";
import { basic, shaHtpasswd } from "./auth_test_util.ts";
import { applyAuthFlags, AUTH_FLAG_HELP, AUTH_FLAGS, buildAuthHooks } from "./plugin.ts";

Deno.test("auth plugin: flags land in config.auth over the file's keys", () => {
  const c = defaultConfig("/tmp/r");
  applyAuthFlags({}, c);
  assert.equal(c.auth, undefined);
  c.auth = { htpasswd: "file", access: [], token: { service: "s" } };
  applyAuthFlags({ htpasswd: "flag", "anonymous-read": true, "token-realm": "http://x/t" }, c);
  assert.deepEqual(c.auth, {
    htpasswd: "flag",
    access: [],
    anonymousRead: true,
    mode: "token",
    token: { service: "s", realm: "http://x/t" },
  });
  const d = defaultConfig("/tmp/r");
  applyAuthFlags({ auth: "basic", "token-key": "k" }, d);
  assert.equal(d.auth?.mode, "basic");
  assert.throws(() => applyAuthFlags({ auth: "ldap" }, d), UsageError);
  for (const flag of Object.keys(AUTH_FLAGS)) assert.match(AUTH_FLAG_HELP, new RegExp(`--${flag}`));
});

Deno.test("auth plugin: basic and token hooks from a config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/htpasswd`;
    await Deno.writeTextFile(file, await shaHtpasswd({ alice: "alicepw" }));
    assert.deepEqual(await buildAuthHooks(defaultConfig(dir)), {});
    const scope = { type: "repository", name: "a", actions: ["pull", "push"] } as const;

    const c = defaultConfig(dir);
    applyAuthFlags({ htpasswd: file }, c);
    const b = await buildAuthHooks(c);
    assert.equal(b.routes, undefined);
    const ok = await b.authorize!(
      new Request("http://h/v2/a/blobs/uploads/", {
        headers: { authorization: basic("alice", "alicepw") },
      }),
      scope,
    );
    assert.deepEqual(ok, { name: "alice" });

    const t = defaultConfig(dir);
    applyAuthFlags({ htpasswd: file, auth: "token" }, t);
    const hooks = await buildAuthHooks(t);
    const no = await hooks.authorize!(new Request("http://h:5000/v2/a/blobs/uploads/"), scope);
    assert.ok(no instanceof Response);
    assert.match(no.headers.get("www-authenticate")!, /^Bearer realm="http:\/\/h:5000\/token"/);
    assert.equal(
      await hooks.routes!(new Request("http://h:5000/other"), { remoteAddr: "" }),
      undefined,
    );
    const res = await hooks.routes!(
      new Request("http://h:5000/token?service=ocibox&scope=repository:a:pull,push", {
        headers: { authorization: basic("alice", "alicepw") },
      }),
      { remoteAddr: "" },
    );
    const { token } = await res!.json();
    const yes = await hooks.authorize!(
      new Request("http://h:5000/v2/a/blobs/uploads/", {
        headers: { authorization: `Bearer ${token}` },
      }),
      scope,
    );
    assert.deepEqual(yes, { name: "alice" });

    // A key file: EC P-256 in PKCS#8 PEM.
    const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]);
    const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
    const pem = `-----BEGIN PRIVATE KEY-----\n${der.toBase64()}\n-----END PRIVATE KEY-----\n`;
    await Deno.writeTextFile(`${dir}/key.pem`, pem);
    applyAuthFlags({ "token-key": `${dir}/key.pem` }, t);
    const keyed = await buildAuthHooks(t);
    const keys =
      await (await keyed.routes!(new Request("http://h/token/keys"), { remoteAddr: "" }))!.json();
    assert.equal(keys.keys[0].crv, "P-256");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
