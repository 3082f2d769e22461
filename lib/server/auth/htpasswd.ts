/**
 * htpasswd files for the server's Basic authentication: `user:hash` lines as Apache's
 * `htpasswd` writes them. Accepted: bcrypt (`htpasswd -B`: `$2y$`, `$2a$`, `$2b$`),
 * SHA-256-crypt and SHA-512-crypt (`-2`, `-5`: `$5$`, `$6$`), all checked by the system's
 * libcrypt through ffi/libcrypt.ts on a worker thread, and the unsalted SHA-1 of `-s`
 * (`{SHA}base64`). Refused at load, naming the line: Apache's MD5 (`$apr1$`, htpasswd's
 * default), DES crypt (`-d`, 8 characters at most) and plaintext (`-p`), which are either weak or
 * unimplementable without guessing.
 *
 * Why libcrypt and not an npm bcrypt: libxcrypt is on every current glibc distribution (libc6
 * depends on it in Debian 12), implements every salted method htpasswd writes, runs at native
 * speed off the event loop (a bcrypt of cost 10 takes ~60 ms of CPU: pure-JS bcryptjs would hold
 * the server's only JS thread ~3x longer per request), and keeps ocibox free of npm packages
 * at run time. A libcrypt without bcrypt (glibc's own, before 2.28) is found by a probe at load.
 *
 * Parsing is pure ({@linkcode parseHtpasswd}); {@linkcode HtpasswdFile} adds the file, reloads
 * it when its modification time changes (as docker-registry does), and caches successful checks
 * for a while, keyed by an HMAC of user, password and stored hash with a per-process key, so a
 * client sending Basic credentials with each of its requests pays one bcrypt, not hundreds.
 *
 * @example
 * ```ts
 * import { HtpasswdFile } from "./htpasswd.ts";
 * const users = await HtpasswdFile.load("/etc/ocibox/htpasswd");
 * console.log(await users.verify("alice", "secret"));
 * ```
 * @module
 */
import { crypt, cryptSupports } from "../../../ffi/libcrypt.ts";
import { OciboxError } from "../../errors.ts";

/** An htpasswd file that cannot be used (a bad line, an unsupported hash). */
export class HtpasswdError extends OciboxError {
  constructor(message: string) {
    super("HTPASSWD_INVALID", message);
  }
}

/** The hash methods accepted. */
export type HtpasswdScheme = "bcrypt" | "sha256-crypt" | "sha512-crypt" | "sha1";

/** One user of an htpasswd file. */
export interface HtpasswdEntry {
  user: string;
  hash: string;
  scheme: HtpasswdScheme;
  /** 1-based line number, for messages. */
  line: number;
}

const BCRYPT = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;
const SHA_CRYPT = /^\$[56]\$(rounds=\d+\$)?[^$:]{1,16}\$[./A-Za-z0-9]+$/;
const SHA1 = /^\{SHA\}[A-Za-z0-9+/]{27}=$/;
const DES = /^[./A-Za-z0-9]{13}$/;

/** The method of `hash`, or throws {@linkcode HtpasswdError} saying why it is refused. */
function schemeOf(hash: string, where: string): HtpasswdScheme {
  if (BCRYPT.test(hash)) return "bcrypt";
  if (SHA_CRYPT.test(hash)) return hash[1] === "5" ? "sha256-crypt" : "sha512-crypt";
  if (SHA1.test(hash)) return "sha1";
  const again = "; recreate it with `htpasswd -B`";
  if (hash.startsWith("$apr1$")) {
    throw new HtpasswdError(`${where}: Apache MD5 ($apr1$) hashes are not supported${again}`);
  }
  if (hash.startsWith("$2")) throw new HtpasswdError(`${where}: malformed bcrypt hash${again}`);
  if (hash.startsWith("$")) {
    throw new HtpasswdError(`${where}: unsupported hash method ${hash.split("$")[1]}${again}`);
  }
  if (DES.test(hash)) {
    throw new HtpasswdError(`${where}: DES crypt hashes are not supported (insecure)${again}`);
  }
  throw new HtpasswdError(`${where}: plaintext or unknown password hash refused${again}`);
}

/**
 * The users of an htpasswd file's text. Blank lines and `#` comments are skipped; a later line
 * for the same user replaces an earlier one.
 *
 * @throws {HtpasswdError} for a line without `user:hash`, or a refused hash method.
 * @example
 * ```ts
 * const users = parseHtpasswd("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n");
 * users.get("alice")?.scheme; // "sha1"
 * ```
 */
export function parseHtpasswd(text: string, source = "htpasswd"): Map<string, HtpasswdEntry> {
  const users = new Map<string, HtpasswdEntry>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `${source} line ${i + 1}`;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HtpasswdError(`${where}: expected user:hash`);
    const user = line.slice(0, colon);
    // Some tools append more :fields (comments); the hash ends at the next colon.
    const hash = line.slice(colon + 1).split(":")[0];
    users.set(user, { user, hash, scheme: schemeOf(hash, `${where} (user ${user})`), line: i + 1 });
  }
  return users;
}

/** The libcrypt call, replaceable in tests. */
export type CryptFunction = (phrase: string, setting: string) => Promise<string | null>;

/** Equal strings, compared in time independent of where they differ. */
function sameText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Whether `password` matches `entry`'s hash.
 *
 * @throws {HtpasswdError} when libcrypt cannot check the entry's method (missing, or no bcrypt).
 * @example
 * ```ts
 * const entry = parseHtpasswd("bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=").get("bob")!;
 * await verifyPassword(entry, "test"); // true
 * ```
 */
export async function verifyPassword(
  entry: HtpasswdEntry,
  password: string,
  cryptFn: CryptFunction = crypt,
): Promise<boolean> {
  if (entry.scheme === "sha1") {
    const sum = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(password));
    return sameText(`{SHA}${new Uint8Array(sum).toBase64()}`, entry.hash);
  }
  const out = await cryptFn(password, entry.hash);
  if (out === null) {
    if (password.includes("\0")) return false;
    throw new HtpasswdError(
      `user ${entry.user}: this system's libcrypt cannot check ${entry.scheme} hashes`,
    );
  }
  return sameText(out, entry.hash);
}

/** Options of {@linkcode HtpasswdFile}. */
export interface HtpasswdFileOptions {
  /** How long a successful check is remembered, in ms (default 5 minutes; 0 turns it off). */
  cacheMs?: number;
  /** The file is looked at for changes at most this often, in ms (default 2000). */
  recheckMs?: number;
  /** The crypt(3) call (tests). */
  crypt?: CryptFunction;
  /** Clock in ms (tests). */
  now?: () => number;
}

const CACHE_LIMIT = 10_000;
/** A bcrypt of the same cost as the file's typical entry, run for unknown users. */
const DUMMY_BCRYPT = "$2y$05$abcdefghijklmnopqrstuu0123456789012345678901234567890";

/** An htpasswd file on disk, reloaded when it changes. */
export class HtpasswdFile {
  readonly path: string;
  #users: Map<string, HtpasswdEntry>;
  #mtime: number | null;
  #checkedAt: number;
  readonly #options: Required<Omit<HtpasswdFileOptions, "crypt">> & { crypt: CryptFunction };
  /** HMAC(user, password, hash) hex -> expiry ms. */
  readonly #verified = new Map<string, number>();
  #key?: Promise<CryptoKey>;

  private constructor(
    path: string,
    users: Map<string, HtpasswdEntry>,
    mtime: number | null,
    options: HtpasswdFileOptions,
  ) {
    this.path = path;
    this.#users = users;
    this.#mtime = mtime;
    this.#options = {
      cacheMs: options.cacheMs ?? 5 * 60_000,
      recheckMs: options.recheckMs ?? 2000,
      crypt: options.crypt ?? crypt,
      now: options.now ?? Date.now,
    };
    this.#checkedAt = this.#options.now();
  }

  /**
   * Reads and checks `path`; when it holds crypt(3) hashes, also that libcrypt can check them.
   *
   * @throws {HtpasswdError} for a bad line or a hash this system cannot check;
   * Deno.errors.NotFound when the file is missing.
   */
  static async load(path: string, options: HtpasswdFileOptions = {}): Promise<HtpasswdFile> {
    const [users, mtime] = await read(path);
    if (!options.crypt) await checkLibcrypt(users, path);
    return new HtpasswdFile(path, users, mtime, options);
  }

  /** An in-memory file (tests, or users from another source). */
  static fromText(text: string, options: HtpasswdFileOptions = {}): HtpasswdFile {
    return new HtpasswdFile("(text)", parseHtpasswd(text), null, {
      ...options,
      recheckMs: Infinity,
    });
  }

  /** The users' names. */
  get users(): string[] {
    return [...this.#users.keys()];
  }

  /**
   * Whether `user` exists with `password`. An unknown user costs a bcrypt too, so timing does not
   * tell which users exist. A file changed on disk is read again first (a broken new version is
   * reported on stderr and the previous one kept).
   */
  async verify(user: string, password: string): Promise<boolean> {
    await this.#maybeReload();
    const entry = this.#users.get(user);
    if (!entry) {
      await this.#options.crypt(password, DUMMY_BCRYPT).catch(() => null);
      return false;
    }
    const key = this.#options.cacheMs > 0 ? await this.#cacheKey(entry, password) : "";
    const now = this.#options.now();
    const until = key ? this.#verified.get(key) : undefined;
    if (until !== undefined && until > now) return true;
    const ok = await verifyPassword(entry, password, this.#options.crypt);
    if (ok && key) {
      if (this.#verified.size >= CACHE_LIMIT) this.#prune(now);
      this.#verified.set(key, now + this.#options.cacheMs);
    }
    return ok;
  }

  /**
   * A short fingerprint of `user`'s current hash, undefined for an unknown user. Refresh tokens
   * carry it, so a changed password or a removed user ends them.
   */
  async fingerprint(user: string): Promise<string | undefined> {
    await this.#maybeReload();
    const entry = this.#users.get(user);
    if (!entry) return undefined;
    const sum = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(entry.hash));
    return new Uint8Array(sum, 0, 12).toBase64({ alphabet: "base64url", omitPadding: true });
  }

  #prune(now: number): void {
    for (const [k, until] of this.#verified) if (until <= now) this.#verified.delete(k);
    if (this.#verified.size >= CACHE_LIMIT) this.#verified.clear();
  }

  async #cacheKey(entry: HtpasswdEntry, password: string): Promise<string> {
    this.#key ??= crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const data = new TextEncoder().encode(`${entry.user}\0${password}\0${entry.hash}`);
    const mac = await crypto.subtle.sign("HMAC", await this.#key, data);
    return new Uint8Array(mac).toHex();
  }

  async #maybeReload(): Promise<void> {
    const now = this.#options.now();
    if (now - this.#checkedAt < this.#options.recheckMs) return;
    this.#checkedAt = now;
    let mtime: number | null;
    try {
      mtime = (await Deno.stat(this.path)).mtime?.getTime() ?? null;
    } catch {
      return; // gone for a moment (an editor's rename): keep what we have
    }
    if (mtime === this.#mtime) return;
    try {
      const [users, m] = await read(this.path);
      await checkLibcrypt(users, this.path);
      this.#users = users;
      this.#mtime = m;
      this.#verified.clear();
    } catch (e) {
      console.error(`warning: ${this.path} not reloaded: ${(e as Error).message}`);
      this.#mtime = mtime;
    }
  }
}

async function read(path: string): Promise<[Map<string, HtpasswdEntry>, number | null]> {
  const stat = await Deno.stat(path);
  const text = await Deno.readTextFile(path);
  return [parseHtpasswd(text, path), stat.mtime?.getTime() ?? null];
}

async function checkLibcrypt(users: Map<string, HtpasswdEntry>, path: string): Promise<void> {
  const methods = new Set([...users.values()].map((e) => e.scheme));
  for (const m of methods) {
    if (m === "sha1") continue;
    if (!(await cryptSupports(m))) {
      throw new HtpasswdError(
        `${path}: ${m} entries need libcrypt with ${m} (libxcrypt) and --allow-ffi`,
      );
    }
  }
}
