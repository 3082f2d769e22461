import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import {
  generateTokenKey,
  type JwtAlgorithm,
  loadTokenKey,
  signJwt,
  TokenInvalidError,
  TokenKeyError,
  verifyJwt,
} from "./jwt.ts";

const NOW = 1_800_000_000;

function part(jwt: string, i: number): Record<string, unknown> {
  return JSON.parse(
    new TextDecoder().decode(Uint8Array.fromBase64(jwt.split(".")[i], { alphabet: "base64url" })),
  );
}

async function rejects(p: Promise<unknown>, reason: RegExp) {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof TokenInvalidError);
    assert.equal(e.code, "TOKEN_INVALID");
    assert.match(e.message, reason);
    return true;
  });
}

for (const alg of ["ES256", "ES384", "RS256"] as JwtAlgorithm[]) {
  Deno.test(`jwt: ${alg} signs and verifies; header names alg and kid`, async () => {
    const key = await generateTokenKey(alg);
    const claims = { iss: "ocibox", sub: "alice", aud: "reg", exp: NOW + 60, nbf: NOW };
    const jwt = await signJwt(key, claims);
    assert.deepEqual(part(jwt, 0), { typ: "JWT", alg, kid: key.kid });
    assert.deepEqual(
      await verifyJwt(key, jwt, { issuer: "ocibox", audience: "reg", now: NOW }),
      claims,
    );
  });
}

Deno.test("jwt: expiry, not-before, issuer, audience and leeway", async () => {
  const key = await generateTokenKey();
  const jwt = await signJwt(key, { iss: "i", aud: ["a", "b"], exp: NOW + 60, nbf: NOW });
  await verifyJwt(key, jwt, { audience: "b", now: NOW + 59 });
  await rejects(verifyJwt(key, jwt, { now: NOW + 60 }), /expired/);
  await verifyJwt(key, jwt, { now: NOW + 61, leeway: 5 });
  await rejects(verifyJwt(key, jwt, { now: NOW - 1 }), /not valid yet/);
  await verifyJwt(key, jwt, { now: NOW - 1, leeway: 5 });
  await rejects(verifyJwt(key, jwt, { issuer: "x", now: NOW }), /wrong issuer/);
  await rejects(verifyJwt(key, jwt, { audience: "c", now: NOW }), /wrong audience/);
  await rejects(verifyJwt(key, await signJwt(key, { sub: "x" }), { now: NOW }), /no expiry/);
});

Deno.test("jwt: tampering, another key, alg none and malformed tokens are refused", async () => {
  const key = await generateTokenKey();
  const other = await generateTokenKey();
  const jwt = await signJwt(key, { sub: "alice", exp: NOW + 60 });
  const [h, c, s] = jwt.split(".");
  const forged = new TextEncoder().encode(JSON.stringify({ sub: "root", exp: NOW + 60 }))
    .toBase64({ alphabet: "base64url", omitPadding: true });
  await rejects(verifyJwt(key, `${h}.${forged}.${s}`, { now: NOW }), /bad signature/);
  await rejects(verifyJwt(other, jwt, { now: NOW }), /another key/);
  const noKid = await signJwt({ ...other, kid: undefined as unknown as string }, { exp: NOW + 1 });
  await rejects(verifyJwt(key, noKid, { now: NOW }), /bad signature/);
  const none = new TextEncoder().encode(JSON.stringify({ alg: "none" }))
    .toBase64({ alphabet: "base64url", omitPadding: true });
  await rejects(verifyJwt(key, `${none}.${c}.`, { now: NOW }), /algorithm none/);
  await rejects(verifyJwt(key, "a.b", { now: NOW }), /not a compact JWS/);
  await rejects(verifyJwt(key, "!!.??.**", { now: NOW }), /malformed/);
});

Deno.test("jwt: PEM keys load (PKCS#8, SEC1, PKCS#1) and keep their kid", async () => {
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pems = [
    ec.privateKey.export({ format: "pem", type: "pkcs8" }) as string,
    ec.privateKey.export({ format: "pem", type: "sec1" }) as string,
  ];
  assert.match(pems[1], /BEGIN EC PRIVATE KEY/);
  const [a, b] = await Promise.all(pems.map((p) => loadTokenKey(p)));
  assert.equal(a.alg, "ES256");
  assert.equal(a.kid, b.kid);
  await verifyJwt(b, await signJwt(a, { exp: NOW + 1 }), { now: NOW });

  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const r = await loadTokenKey(rsa.privateKey.export({ format: "pem", type: "pkcs1" }) as string);
  assert.equal(r.alg, "RS256");
  await verifyJwt(r, await signJwt(r, { exp: NOW + 1 }), { now: NOW });

  const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
  const k = await loadTokenKey(p384.privateKey.export({ format: "pem", type: "pkcs8" }) as string);
  assert.equal(k.alg, "ES384");

  const ed = generateKeyPairSync("ed25519");
  const keyError = (message: RegExp) => (e: unknown) => {
    assert.ok(e instanceof TokenKeyError);
    assert.equal(e.code, "TOKEN_KEY_INVALID");
    assert.match(e.message, message);
    return true;
  };
  await assert.rejects(
    loadTokenKey(ed.privateKey.export({ format: "pem", type: "pkcs8" }) as string, "k.pem"),
    keyError(/^k\.pem: .*not supported/),
  );
  await assert.rejects(loadTokenKey("not a pem"), keyError(/not a PEM private key/));
});
