/**
 * crypt(3) through the system's libcrypt (`libcrypt.so.1`: libxcrypt on Debian 11+, Fedora,
 * Arch, Alpine's glibc builds), for the password hashes htpasswd writes: bcrypt (`$2y$`,
 * `$2a$`, `$2b$`), SHA-256-crypt (`$5$`) and SHA-512-crypt (`$6$`). libxcrypt implements them
 * all; glibc's own older libcrypt lacks bcrypt, which {@linkcode cryptSupports} finds out.
 *
 * The call is `crypt_r` bound `nonblocking`: it runs on Deno's blocking thread pool, so a bcrypt
 * of cost 10 (~60 ms of CPU) never stalls the server's event loop, and several run at once.
 * Each call gets its own zeroed `struct crypt_data` (libxcrypt's is 32 KiB, glibc's 128 KiB).
 *
 * @example
 * ```ts
 * import { crypt } from "./libcrypt.ts";
 * const out = await crypt("secret", "$2y$05$abcdefghijklmnopqrstuu"); // null without libcrypt
 * console.log(out?.startsWith("$2y$05$"));
 * ```
 * @module
 */

const LIBRARIES = ["libcrypt.so.1", "libcrypt.so.2", "libcrypt.so"];
/** At least sizeof(struct crypt_data) of glibc (131232) and libxcrypt (32768). */
const CRYPT_DATA_BYTES = 132 * 1024;

const DEFS = {
  crypt_r: {
    parameters: ["buffer", "buffer", "buffer"],
    result: "pointer",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof DEFS>["symbols"];

/** The library's symbols; null once it could not be opened; undefined before the first try. */
let symbols: Symbols | null | undefined;
// Kept for the life of the process: its symbols must stay callable.
let opened: Deno.DynamicLibrary<typeof DEFS> | undefined;

function open(): Symbols | null {
  if (symbols !== undefined) return symbols;
  symbols = null;
  if (typeof Deno.dlopen !== "function") return null;
  // Asked first, because without --allow-ffi Deno.dlopen would prompt on a terminal.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  for (const name of LIBRARIES) {
    try {
      opened = Deno.dlopen(name, DEFS);
      symbols = opened.symbols;
      break;
    } catch {
      // Not there: try the next name.
    }
  }
  return symbols;
}

const encoder = new TextEncoder();

function cstring(s: string): Uint8Array | null {
  if (s.includes("\0")) return null;
  const b = encoder.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/**
 * crypt(3) of `phrase` with `setting` (a full hash to check against, or a salt string), or null
 * when libcrypt cannot be opened, the setting names a method this libcrypt lacks, or either
 * string holds a NUL. Runs on a thread of Deno's blocking pool.
 *
 * @example
 * ```ts
 * const stored = "$5$rounds=5000$salt$...";
 * const ok = (await crypt("pw", stored)) === stored;
 * ```
 */
export async function crypt(phrase: string, setting: string): Promise<string | null> {
  const s = open();
  if (!s) return null;
  const p = cstring(phrase);
  const t = cstring(setting);
  if (!p || !t) return null;
  const data = new Uint8Array(new ArrayBuffer(CRYPT_DATA_BYTES));
  const ptr = await s.crypt_r(p, t, data);
  if (ptr === null) return null;
  const out = new Deno.UnsafePointerView(ptr).getCString();
  // libxcrypt answers a failure with "*0" or "*1" (never a valid hash); glibc with NULL or "*0".
  return out.startsWith("*") ? null : out;
}

/** A bcrypt hash of "x" (cost 4), to find out whether this libcrypt knows bcrypt. */
const BCRYPT_PROBE = "$2b$04$abcdefghijklmnopqrstuu";
const probed = new Map<string, Promise<boolean>>();

/**
 * Whether libcrypt is there and implements `method` (`"bcrypt"`, `"sha256-crypt"`,
 * `"sha512-crypt"`); checked once per method by hashing a fixed string.
 *
 * @example
 * ```ts
 * if (!(await cryptSupports("bcrypt"))) console.log("this libcrypt has no bcrypt");
 * ```
 */
export function cryptSupports(
  method: "bcrypt" | "sha256-crypt" | "sha512-crypt",
): Promise<boolean> {
  let p = probed.get(method);
  if (!p) {
    const setting = method === "bcrypt"
      ? BCRYPT_PROBE
      : method === "sha256-crypt"
      ? "$5$probe"
      : "$6$probe";
    const prefix = setting.slice(0, method === "bcrypt" ? 7 : 3);
    p = crypt("x", setting).then((out) => out !== null && out.startsWith(prefix));
    probed.set(method, p);
  }
  return p;
}
