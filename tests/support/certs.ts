/**
 * Test PKI made with the `openssl` CLI: a CA, server certificates with subjectAltNames (rustls
 * and Go both require SANs; the CN is ignored), client certificates for mutual TLS, and a token
 * signing certificate whose ECDSA P-256 key the token server imports into WebCrypto. All keys are
 * ECDSA P-256 in PKCS#8 PEM, all certificates PEM, valid for a week from now.
 *
 * @example
 * ```ts
 * import { makeCa, makeServerCert } from "./certs.ts";
 * const ca = await makeCa("/tmp/pki");
 * const server = await makeServerCert("/tmp/pki", ca, ["127.0.0.1", "localhost"]);
 * Deno.serve({ cert: server.certPem, key: server.keyPem, port: 0 }, () => new Response("hi"));
 * ```
 * @module
 */
import { run } from "./peers.ts";

/** A certificate and its private key, as files and as PEM text. */
export interface CertKeyPair {
  /** Path of the PEM certificate. */
  certPath: string;
  /** Path of the PEM (PKCS#8) private key. */
  keyPath: string;
  certPem: string;
  keyPem: string;
}

/** A certificate authority that can issue certificates. */
export interface CertAuthority extends CertKeyPair {
  /** The directory its files were written to. */
  dir: string;
}

/** A certificate for signing tokens (JWTs), with what the JOSE header needs. */
export interface SigningCert extends CertKeyPair {
  /** The certificate's DER, standard base64 (not URL-safe): an `x5c` entry. */
  derBase64: string;
  /** The CA that issued it (its certificate is the next link of the chain). */
  ca: CertAuthority;
}

/** The default names of a server certificate: what a registry on the loopback is called. */
export const LOOPBACK_NAMES: readonly string[] = ["127.0.0.1", "localhost"];

const EXTENSIONS = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = ignored
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::OCIBOX_SAN
[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_signing]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

const KEY_ARGS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** `IP:` or `DNS:` subjectAltName entry for a host name or address (kept when already typed). */
export function sanEntry(name: string): string {
  if (/^(IP|DNS|URI|email):/.test(name)) return name;
  const isIp = /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(":");
  return `${isIp ? "IP" : "DNS"}:${name}`;
}

async function writeConfig(dir: string): Promise<string> {
  const path = `${dir}/openssl-ocibox.cnf`;
  await Deno.writeTextFile(path, EXTENSIONS);
  return path;
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f; // positive
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function readPair(certPath: string, keyPath: string): Promise<CertKeyPair> {
  return {
    certPath,
    keyPath,
    certPem: await Deno.readTextFile(certPath),
    keyPem: await Deno.readTextFile(keyPath),
  };
}

/**
 * Makes a self-signed CA in `dir` (created if missing): `<name>.crt` and `<name>.key`
 * (default name "ca").
 */
export async function makeCa(
  dir: string,
  options: { name?: string; commonName?: string } = {},
): Promise<CertAuthority> {
  await Deno.mkdir(dir, { recursive: true });
  const name = options.name ?? "ca";
  const config = await writeConfig(dir);
  const certPath = `${dir}/${name}.crt`;
  const keyPath = `${dir}/${name}.key`;
  await run("openssl", [
    "req",
    "-x509",
    ...KEY_ARGS,
    "-keyout",
    keyPath,
    "-out",
    certPath,
    "-days",
    "7",
    "-set_serial",
    randomSerial(),
    "-subj",
    `/CN=${options.commonName ?? "ocibox test CA"}`,
    "-config",
    config,
    "-extensions",
    "v3_ca",
  ], { env: { OCIBOX_SAN: "DNS:unused" } });
  return { dir, ...await readPair(certPath, keyPath) };
}

async function issue(
  dir: string,
  ca: CertAuthority,
  name: string,
  commonName: string,
  extensions: string,
  san: string,
): Promise<CertKeyPair> {
  await Deno.mkdir(dir, { recursive: true });
  const config = await writeConfig(dir);
  const certPath = `${dir}/${name}.crt`;
  const keyPath = `${dir}/${name}.key`;
  const csrPath = `${dir}/${name}.csr`;
  const env = { OCIBOX_SAN: san };
  await run("openssl", [
    "req",
    "-new",
    ...KEY_ARGS,
    "-keyout",
    keyPath,
    "-out",
    csrPath,
    "-subj",
    `/CN=${commonName}`,
    "-config",
    config,
  ], { env });
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    csrPath,
    "-CA",
    ca.certPath,
    "-CAkey",
    ca.keyPath,
    "-set_serial",
    randomSerial(),
    "-days",
    "7",
    "-out",
    certPath,
    "-extfile",
    config,
    "-extensions",
    extensions,
  ], { env });
  await Deno.remove(csrPath);
  return readPair(certPath, keyPath);
}

/**
 * Issues a server certificate from `ca` into `dir` as `<name>.crt`/`<name>.key` (default name
 * "server") with subjectAltNames for `names` (bare addresses become `IP:`, other names `DNS:`;
 * default 127.0.0.1 and localhost).
 */
export function makeServerCert(
  dir: string,
  ca: CertAuthority,
  names: readonly string[] = LOOPBACK_NAMES,
  options: { name?: string } = {},
): Promise<CertKeyPair> {
  const san = names.map(sanEntry).join(",");
  return issue(dir, ca, options.name ?? "server", names[0] ?? "server", "v3_server", san);
}

/** Issues a client certificate (extendedKeyUsage clientAuth) from `ca` for mutual TLS. */
export function makeClientCert(
  dir: string,
  ca: CertAuthority,
  options: { name?: string; commonName?: string } = {},
): Promise<CertKeyPair> {
  const name = options.name ?? "client";
  return issue(dir, ca, name, options.commonName ?? "ocibox test client", "v3_client", "DNS:x");
}

/**
 * Issues a token signing certificate from `ca` (ECDSA P-256, for ES256). A registry trusts its
 * tokens when `auth.token.rootcertbundle` holds `ca`'s certificate (tokens carry `x5c`) or the
 * signing certificate itself (tokens may then also name the key by `kid` or `jwk`).
 */
export async function makeSigningCert(
  dir: string,
  ca: CertAuthority,
  options: { name?: string; commonName?: string } = {},
): Promise<SigningCert> {
  const name = options.name ?? "token-signer";
  const pair = await issue(
    dir,
    ca,
    name,
    options.commonName ?? "ocibox test token signer",
    "v3_signing",
    "DNS:x",
  );
  return { ...pair, derBase64: pemBody(pair.certPem), ca };
}

/** The base64 body of the first PEM block in `pem` (the DER, base64-encoded, no line breaks). */
export function pemBody(pem: string): string {
  const m = /-----BEGIN [^-]+-----([\s\S]*?)-----END [^-]+-----/.exec(pem);
  if (!m) throw new Error("no PEM block found");
  return m[1].replace(/\s+/g, "");
}

/** The DER bytes of the first PEM block in `pem`. */
export function pemToDer(pem: string): Uint8Array<ArrayBuffer> {
  const bin = atob(pemBody(pem));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * Makes a certificate directory as skopeo and containers/image read it (`--cert-dir`): `ca.crt`
 * (trusted CA) and, for mutual TLS, `client.cert` + `client.key`. Returns `dir`.
 */
export async function makeCertDir(
  dir: string,
  ca: CertAuthority,
  client?: CertKeyPair,
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/ca.crt`, ca.certPem);
  if (client) {
    await Deno.writeTextFile(`${dir}/client.cert`, client.certPem);
    await Deno.writeTextFile(`${dir}/client.key`, client.keyPem);
  }
  return dir;
}
