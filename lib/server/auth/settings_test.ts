import assert from "node:assert/strict";
import { ConfigInvalidError } from "../../errors.ts";
import { authOptions } from "./settings.ts";

Deno.test("auth settings: off, basic by default with an htpasswd file, token with defaults", () => {
  assert.equal(authOptions(undefined), undefined);
  assert.equal(authOptions({}), undefined);
  assert.equal(authOptions({ mode: "none", htpasswd: "f" }), undefined);
  assert.deepEqual(authOptions({ htpasswd: "f" }), {
    mode: "basic",
    htpasswd: "f",
    anonymousRead: false,
    realm: "ocibox",
    token: {
      service: "ocibox",
      issuer: "ocibox",
      expirySeconds: 300,
      refreshExpirySeconds: 2592000,
    },
  });
  const t = authOptions({
    mode: "token",
    htpasswd: "f",
    anonymousRead: true,
    realm: "r",
    token: {
      realm: "https://reg/token",
      service: "reg",
      issuer: "iss",
      key: "k.pem",
      expiry: "10m",
      refreshExpiry: 3600,
    },
    access: [],
  })!;
  assert.deepEqual(t.token, {
    realm: "https://reg/token",
    service: "reg",
    issuer: "iss",
    key: "k.pem",
    expirySeconds: 600,
    refreshExpirySeconds: 3600,
  });
  assert.deepEqual(t.access, []);
  assert.equal(authOptions({ mode: "token", anonymousRead: true })?.htpasswd, undefined);
});

Deno.test("auth settings: mistakes are refused with the key's name", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ htpasswd: "f", extra: 1 }, /auth: unknown key "extra"/],
    [{ mode: "ldap" }, /auth\.mode must be basic, token or none/],
    [{ mode: "basic" }, /basic auth needs an htpasswd file/],
    [{ mode: "token" }, /can only grant anonymous pulls/],
    [{ anonymousRead: true }, /need users/],
    [{ htpasswd: 1 }, /auth\.htpasswd must be a non-empty string/],
    [{ htpasswd: "f", anonymousRead: "yes" }, /anonymousRead must be true or false/],
    [{ htpasswd: "f", token: [] }, /auth\.token must be an object/],
    [{ htpasswd: "f", token: { lifetime: 1 } }, /auth\.token: unknown key "lifetime"/],
    [{ htpasswd: "f", token: { realm: "ftp://x" } }, /must be an http\(s\) URL/],
    [{ htpasswd: "f", token: { expiry: "30s" } }, /at least 60s/],
    [{ htpasswd: "f", token: { service: 'a"b' } }, /quotes/],
  ];
  for (const [settings, message] of cases) {
    assert.throws(() => authOptions(settings), (e) => {
      assert.ok(e instanceof ConfigInvalidError, String(e));
      assert.match(e.message, message);
      return true;
    }, JSON.stringify(settings));
  }
});
