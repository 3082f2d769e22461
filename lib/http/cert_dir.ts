/**
 * Certificate directories as containers/image reads them (`--cert-dir`, and per host
 * `~/.config/containers/certs.d/HOST`, `/etc/containers/certs.d/HOST`, `/etc/docker/certs.d/HOST`):
 * every `*.crt` is a CA to trust, a `NAME.cert` with its `NAME.key` is a client certificate.
 *
 * @example
 * ```ts
 * import { readCertDir } from "./cert_dir.ts";
 * const { caCerts, clientCert } = readCertDir("/etc/containers/certs.d/localhost:5000");
 * ```
 * @module
 */
import { NotFoundError, OciboxError } from "../errors.ts";

/** What a certificate directory holds, as PEM text. */
export interface CertDirMaterial {
  /** CA certificates (`*.crt`), in file name order. */
  caCerts: string[];
  /** The client certificate and key (the first `*.cert`/`*.key` pair by name). */
  clientCert?: { cert: string; key: string };
}

/** A certificate directory that cannot be used. */
export class CertDirError extends OciboxError {
  constructor(readonly dir: string, reason: string) {
    super("CERT_DIR", `certificate directory ${dir}: ${reason}`);
  }
}

/**
 * Reads `dir`. Synchronous because it runs once per registry while a transport is built and
 * the files are tiny.
 *
 * @throws {NotFoundError} when `dir` does not exist.
 * @throws {CertDirError} for a `.cert` without its `.key` (or the reverse), as containers/image.
 */
export function readCertDir(dir: string): CertDirMaterial {
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => !e.isDirectory).map((e) => e.name).sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`certificate directory ${dir} does not exist`);
    }
    throw new CertDirError(dir, e instanceof Error ? e.message : String(e));
  }
  const read = (name: string) => Deno.readTextFileSync(`${dir}/${name}`);
  const caCerts = names.filter((n) => n.endsWith(".crt")).map(read);
  const pairs: string[] = [];
  for (const name of names) {
    if (name.endsWith(".cert")) {
      const key = `${name.slice(0, -5)}.key`;
      if (!names.includes(key)) {
        throw new CertDirError(
          dir,
          `missing key ${key} for client certificate ${name} (CA certificates use .crt)`,
        );
      }
      pairs.push(name.slice(0, -5));
    } else if (name.endsWith(".key") && !names.includes(`${name.slice(0, -4)}.cert`)) {
      throw new CertDirError(
        dir,
        `missing client certificate ${name.slice(0, -4)}.cert for ${name}`,
      );
    }
  }
  const first = pairs[0];
  return {
    caCerts,
    ...(first === undefined
      ? {}
      : { clientCert: { cert: read(`${first}.cert`), key: read(`${first}.key`) } }),
  };
}

/**
 * The per-host certificate directory containers/image would use for `host` (`localhost:5000`),
 * or undefined when none exists: `$HOME/.config/containers/certs.d`, then
 * `/etc/containers/certs.d`, then `/etc/docker/certs.d`.
 */
export function defaultCertDir(
  host: string,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): string | undefined {
  const home = env("HOME");
  const roots = [
    ...(home ? [`${home}/.config/containers/certs.d`] : []),
    "/etc/containers/certs.d",
    "/etc/docker/certs.d",
  ];
  for (const root of roots) {
    try {
      if (Deno.statSync(`${root}/${host}`).isDirectory) return `${root}/${host}`;
    } catch { /* absent or unreadable: containers/image skips those too */ }
  }
  return undefined;
}
