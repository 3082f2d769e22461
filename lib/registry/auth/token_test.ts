import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import {
  basicHeader,
  CLIENT_ID,
  parseTokenResponse,
  tokenGetRequest,
  tokenPostRequest,
  TokenResponseError,
} from "./token.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("tokenGetRequest: service, one scope parameter per scope, Basic + offline_token", () => {
  const anon = tokenGetRequest(new URL("https://auth.docker.io/token?keep=1"), {
    service: "registry.docker.io",
    scopes: ["repository:samalba/my-app:pull,push", "repository:other:pull"],
  });
  strictEqual(
    anon.url.href,
    "https://auth.docker.io/token?keep=1&service=registry.docker.io" +
      "&scope=repository%3Asamalba%2Fmy-app%3Apull%2Cpush&scope=repository%3Aother%3Apull",
  );
  strictEqual(anon.headers.get("authorization"), null);
  const authed = tokenGetRequest(new URL("https://t/token"), { scopes: [] }, {
    username: "jlhawn",
    password: "pw",
  });
  deepStrictEqual([...authed.url.searchParams], [
    ["account", "jlhawn"],
    ["offline_token", "true"],
    ["client_id", CLIENT_ID],
  ]);
  strictEqual(authed.headers.get("authorization"), `Basic ${btoa("jlhawn:pw")}`);
});

Deno.test("tokenPostRequest: auth-oauth.md's refresh form, scopes space-joined", () => {
  const r = tokenPostRequest(new URL("https://auth.docker.io/token"), {
    service: "registry-1.docker.io",
    scopes: ["repository:samalba/my-app:pull,push", "repository:x:pull"],
  }, "kas9Da81Dfa8");
  strictEqual(r.headers.get("content-type"), "application/x-www-form-urlencoded");
  deepStrictEqual([...new URLSearchParams(new TextDecoder().decode(r.body))], [
    ["grant_type", "refresh_token"],
    ["refresh_token", "kas9Da81Dfa8"],
    ["service", "registry-1.docker.io"],
    ["client_id", CLIENT_ID],
    ["scope", "repository:samalba/my-app:pull,push repository:x:pull"],
  ]);
});

Deno.test("parseTokenResponse: token or access_token, expires_in default 60 s, issued_at", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  deepStrictEqual(parseTokenResponse(enc('{"token":"a"}'), now), {
    token: "a",
    expiresAt: now + 60_000,
  });
  deepStrictEqual(
    parseTokenResponse(
      enc('{"access_token":"b","expires_in":900,"refresh_token":"kas9Da81Dfa8","scope":""}'),
      now,
    ),
    { token: "b", expiresAt: now + 900_000, refreshToken: "kas9Da81Dfa8" },
  );
  // auth-token.md's example answer: issued_at moves the start.
  strictEqual(
    parseTokenResponse(
      enc('{"token":"c","expires_in":3600,"issued_at":"2025-12-31T23:59:00Z"}'),
      now,
    ).expiresAt,
    now - 60_000 + 3_600_000,
  );
  // A wildly wrong server clock is ignored.
  strictEqual(
    parseTokenResponse(enc('{"token":"d","issued_at":"2009-11-10T23:00:00Z"}'), now).expiresAt,
    now + 60_000,
  );
  throws(() => parseTokenResponse(enc("{}"), now), TokenResponseError);
  throws(() => parseTokenResponse(enc("<html>"), now), TokenResponseError);
});

Deno.test("basicHeader: UTF-8 user and password", () => {
  strictEqual(basicHeader("ü", "p:w"), "Basic w7w6cDp3");
});
