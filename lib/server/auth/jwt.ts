/**
 * The server's signed tokens: compact JWS (RFC 7515) of JWT claims (RFC 7519) as docker's
 * auth-jwt.md lays them out (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `access`), signed
 * ES256 (P-256, the default: small and fast to check), ES384 or RS256 through WebCrypto. The key
 * is made at start, or read from a PEM file (PKCS#8, SEC1 `EC PRIVATE KEY` or PKCS#1 `RSA PRIVATE
 * KEY`, as `openssl genpkey`/`ecparam`/`genrsa` write them). The `kid` header is the key's RFC
 * 7638 thumbprint.
 *
 * @example
 * ```ts
 * import { generateTokenKey, signJwt, verifyJwt } from "./jwt.ts";
 * const key = await generateTokenKey();
 * const now = Math.floor(Date.now() / 1000);
 * const jwt = await signJwt(key, { iss: "ocibox", sub: "alice", exp: now + 300 });
 * const claims = await verifyJwt(key, jwt, { issuer: "ocibox" });
 * claims.sub; // "alice"
 * ```
 * @module
 */
import { OciboxError } from "../../errors.ts";

/** A token that fails a check: bad form, bad signature, wrong issuer or audience, expired. */
export class TokenInvalidError extends OciboxError {
  constructor(reason: string) {
    super("TOKEN_INVALID", `invalid token: ${reason}`);
  }
}

/** A signing key file that cannot be used. */
export class TokenKeyError extends OciboxError {
  constructor(readonly source: string, reason: string) {
    super("TOKEN_KEY_INVALID", `${source}: ${reason}`);
  }
}

/** The signature algorithms used. */
export type JwtAlgorithm = "ES256" | "ES384" | "RS256";

/** A signing key with its public half. */
export interface TokenKey {
  alg: JwtAlgorithm;
  /** RFC 7638 thumbprint of the public key (base64url SHA-256). */
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public key as a JWK (for a JWKS answer). */
  publicJwk: JsonWebKey;
}

/** The claims ocibox signs and reads. */
export interface JwtClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function b64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

function fromB64url(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.fromBase64(text, { alphabet: "base64url" });
}

function params(alg: JwtAlgorithm): {
  gen: EcKeyGenParams | RsaHashedKeyGenParams;
  imp: EcKeyImportParams | RsaHashedImportParams;
  sign: EcdsaParams | AlgorithmIdentifier;
} {
  switch (alg) {
    case "ES256":
      return {
        gen: { name: "ECDSA", namedCurve: "P-256" },
        imp: { name: "ECDSA", namedCurve: "P-256" },
        sign: { name: "ECDSA", hash: "SHA-256" },
      };
    case "ES384":
      return {
        gen: { name: "ECDSA", namedCurve: "P-384" },
        imp: { name: "ECDSA", namedCurve: "P-384" },
        sign: { name: "ECDSA", hash: "SHA-384" },
      };
    case "RS256":
      return {
        gen: {
          name: "RSASSA-PKCS1-v1_5",
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: "SHA-256",
        },
        imp: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
        sign: { name: "RSASSA-PKCS1-v1_5" },
      };
  }
}

/** RFC 7638: SHA-256 over the required members in lexical order. */
async function thumbprint(jwk: JsonWebKey): Promise<string> {
  const members = jwk.kty === "EC"
    ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
    : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  const sum = await crypto.subtle.digest("SHA-256", enc.encode(JSON.stringify(members)));
  return b64url(new Uint8Array(sum));
}

async function fromPair(
  alg: JwtAlgorithm,
  privateKey: CryptoKey,
  publicKey: CryptoKey,
): Promise<TokenKey> {
  const publicJwk = await crypto.subtle.exportKey("jwk", publicKey);
  const kid = await thumbprint(publicJwk);
  const jwk: JsonWebKey & { kid?: string } = { ...publicJwk, alg, use: "sig" };
  jwk.kid = kid;
  return { alg, kid, privateKey, publicKey, publicJwk: jwk };
}

/**
 * A fresh key pair (ES256 unless told).
 *
 * @example
 * ```ts
 * const key = await generateTokenKey("RS256");
 * ```
 */
export async function generateTokenKey(alg: JwtAlgorithm = "ES256"): Promise<TokenKey> {
  const pair = await crypto.subtle.generateKey(params(alg).gen, true, ["sign", "verify"]);
  return fromPair(alg, pair.privateKey, pair.publicKey);
}

/**
 * The key of a PEM private key: EC P-256 (ES256), P-384 (ES384) or RSA (RS256).
 *
 * @throws {TokenKeyError} when the PEM is no private key of those kinds.
 * @example
 * ```ts
 * const key = await loadTokenKey(await Deno.readTextFile("token-key.pem"), "token-key.pem");
 * ```
 */
export async function loadTokenKey(pem: string, source = "signing key"): Promise<TokenKey> {
  // node:crypto reads every PEM flavour (SEC1 and PKCS#1 too); WebCrypto signs.
  const { createPrivateKey } = await import("node:crypto");
  let jwk: JsonWebKey;
  try {
    jwk = createPrivateKey(pem).export({ format: "jwk" }) as JsonWebKey;
  } catch (e) {
    throw new TokenKeyError(source, `not a PEM private key: ${(e as Error).message}`);
  }
  let alg: JwtAlgorithm;
  if (jwk.kty === "EC" && jwk.crv === "P-256") alg = "ES256";
  else if (jwk.kty === "EC" && jwk.crv === "P-384") alg = "ES384";
  else if (jwk.kty === "RSA") alg = "RS256";
  else {
    throw new TokenKeyError(
      source,
      `${jwk.kty} ${jwk.crv ?? ""} keys are not supported; use EC P-256, P-384 or RSA`,
    );
  }
  const p = params(alg).imp;
  const privateKey = await crypto.subtle.importKey("jwk", jwk, p, false, ["sign"]);
  const pub: JsonWebKey = jwk.kty === "EC"
    ? { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y }
    : { kty: "RSA", n: jwk.n, e: jwk.e };
  const publicKey = await crypto.subtle.importKey("jwk", pub, p, true, ["verify"]);
  return fromPair(alg, privateKey, publicKey);
}

/**
 * The compact JWS of `claims` signed with `key` (header `typ` JWT, `alg`, `kid`).
 *
 * @example
 * ```ts
 * const jwt = await signJwt(await generateTokenKey(), { sub: "bob" });
 * jwt.split(".").length; // 3
 * ```
 */
export async function signJwt(key: TokenKey, claims: JwtClaims): Promise<string> {
  const header = { typ: "JWT", alg: key.alg, kid: key.kid };
  const input = `${b64url(enc.encode(JSON.stringify(header)))}.${
    b64url(enc.encode(JSON.stringify(claims)))
  }`;
  const sig = await crypto.subtle.sign(params(key.alg).sign, key.privateKey, enc.encode(input));
  return `${input}.${b64url(new Uint8Array(sig))}`;
}

/** What {@linkcode verifyJwt} checks besides the signature. */
export interface VerifyOptions {
  /** `iss` must equal it. */
  issuer?: string;
  /** `aud` must be or include it. */
  audience?: string;
  /** Seconds since the epoch (default: now). */
  now?: number;
  /** Allowed clock difference for `nbf` and `exp`, in seconds (default 0). */
  leeway?: number;
}

/**
 * The claims of `jwt` once its signature, algorithm, `exp`, `nbf`, `iss` and `aud` check out.
 * `exp` is required.
 *
 * @throws {TokenInvalidError} saying which check failed.
 * @example
 * ```ts
 * const key = await generateTokenKey();
 * const jwt = await signJwt(key, { exp: 1 });
 * await verifyJwt(key, jwt).catch((e) => e.message); // "invalid token: expired"
 * ```
 */
export async function verifyJwt(
  key: TokenKey,
  jwt: string,
  options: VerifyOptions = {},
): Promise<JwtClaims> {
  const parts = jwt.split(".");
  if (parts.length !== 3) throw new TokenInvalidError("not a compact JWS");
  let header: Record<string, unknown>;
  let claims: JwtClaims;
  let sig: Uint8Array<ArrayBuffer>;
  try {
    header = JSON.parse(dec.decode(fromB64url(parts[0])));
    claims = JSON.parse(dec.decode(fromB64url(parts[1])));
    sig = fromB64url(parts[2]);
  } catch {
    throw new TokenInvalidError("malformed");
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
    throw new TokenInvalidError("claims are not an object");
  }
  // The algorithm is the key's, never the header's choice (no "none", no HMAC with the key).
  if (header?.alg !== key.alg) throw new TokenInvalidError(`algorithm ${String(header?.alg)}`);
  if (header.kid !== undefined && header.kid !== key.kid) {
    throw new TokenInvalidError("signed by another key");
  }
  const ok = await crypto.subtle.verify(
    params(key.alg).sign,
    key.publicKey,
    sig,
    enc.encode(`${parts[0]}.${parts[1]}`),
  );
  if (!ok) throw new TokenInvalidError("bad signature");
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const leeway = options.leeway ?? 0;
  if (typeof claims.exp !== "number") throw new TokenInvalidError("no expiry");
  if (now >= claims.exp + leeway) throw new TokenInvalidError("expired");
  if (typeof claims.nbf === "number" && now + leeway < claims.nbf) {
    throw new TokenInvalidError("not valid yet");
  }
  if (options.issuer !== undefined && claims.iss !== options.issuer) {
    throw new TokenInvalidError("wrong issuer");
  }
  if (options.audience !== undefined) {
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(options.audience)) throw new TokenInvalidError("wrong audience");
  }
  return claims;
}
