/**
 * Docker credential helpers: `docker-credential-NAME get|store|erase`, found on PATH, talking
 * the docker-credential-helpers protocol (the server URL, or a JSON record, on stdin; JSON
 * `{ServerURL, Username, Secret}` on stdout). A Username of `<token>` means the Secret is an
 * identity (OAuth2 refresh) token.
 *
 * @example
 * ```ts
 * import { helperGet } from "./credential_helper.ts";
 * const creds = await helperGet("pass", "quay.io"); // undefined when it has none
 * ```
 * @module
 */
import { OciboxError } from "../../errors.ts";
import type { Credentials } from "./credentials.ts";
import { safeText } from "../../report/safe_text.ts";

/** A credential helper failed (missing, crashed, or answered nonsense). */
export class CredentialHelperError extends OciboxError {
  constructor(readonly helper: string, reason: string) {
    super("CREDENTIAL_HELPER", `credential helper docker-credential-${helper}: ${reason}`);
  }
}

/** Where the helper programs are looked up and what environment they get. */
export interface HelperEnv {
  /** Environment lookup (default Deno.env); PATH, HOME and friends come from here. */
  env?: (name: string) => string | undefined;
}

// What helpers print when they have nothing for the server (docker-credential-helpers).
const NOT_FOUND = /credentials not found|not found in native keychain/i;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function findProgram(name: string, env: (n: string) => string | undefined): string | undefined {
  for (const dir of (env("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const st = Deno.statSync(`${dir}/${name}`);
      if (st.isFile && ((st.mode ?? 0o755) & 0o111) !== 0) return `${dir}/${name}`;
    } catch { /* not in this directory */ }
  }
  return undefined;
}

async function runHelper(
  helper: string,
  action: "get" | "store" | "erase",
  input: string,
  options: HelperEnv,
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  if (!NAME.test(helper)) throw new CredentialHelperError(helper, "invalid helper name");
  const env = options.env ?? ((n: string) => Deno.env.get(n));
  const program = findProgram(`docker-credential-${helper}`, env);
  if (!program) throw new CredentialHelperError(helper, "not found on PATH");
  const vars: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS", "DISPLAY"]) {
    const v = env(name);
    if (v !== undefined) vars[name] = v;
  }
  const child = new Deno.Command(program, {
    args: [action],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: vars,
    clearEnv: options.env !== undefined,
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { ok: out.success, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Asks helper `helper` for the credentials of `serverUrl`; undefined when it has none.
 *
 * @throws {CredentialHelperError} when the helper is missing or fails otherwise.
 */
export async function helperGet(
  helper: string,
  serverUrl: string,
  options: HelperEnv = {},
): Promise<Credentials | undefined> {
  const r = await runHelper(helper, "get", serverUrl, options);
  if (!r.ok) {
    if (NOT_FOUND.test(r.stdout) || NOT_FOUND.test(r.stderr)) return undefined;
    const why = safeText((r.stdout.trim() || r.stderr.trim()).split("\n")[0] || "failed");
    throw new CredentialHelperError(helper, `get ${serverUrl}: ${why}`);
  }
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    throw new CredentialHelperError(helper, `get ${serverUrl}: output is not JSON`);
  }
  const username = typeof parsed?.Username === "string" ? parsed.Username : "";
  const secret = typeof parsed?.Secret === "string" ? parsed.Secret : "";
  if (secret === "") return undefined;
  if (username === "<token>") return { identityToken: secret };
  if (username === "") return undefined;
  return { username, password: secret };
}

/** Stores credentials for `serverUrl` in helper `helper`. */
export async function helperStore(
  helper: string,
  serverUrl: string,
  username: string,
  secret: string,
  options: HelperEnv = {},
): Promise<void> {
  const input = JSON.stringify({ ServerURL: serverUrl, Username: username, Secret: secret });
  const r = await runHelper(helper, "store", input, options);
  if (!r.ok) {
    const why = safeText((r.stdout.trim() || r.stderr.trim()).split("\n")[0] || "failed");
    throw new CredentialHelperError(helper, `store ${serverUrl}: ${why}`);
  }
}

/** Erases the credentials for `serverUrl` from helper `helper`; false when it had none. */
export async function helperErase(
  helper: string,
  serverUrl: string,
  options: HelperEnv = {},
): Promise<boolean> {
  const r = await runHelper(helper, "erase", serverUrl, options);
  if (r.ok) return true;
  if (NOT_FOUND.test(r.stdout) || NOT_FOUND.test(r.stderr)) return false;
  const why = safeText((r.stdout.trim() || r.stderr.trim()).split("\n")[0] || "failed");
  throw new CredentialHelperError(helper, `erase ${serverUrl}: ${why}`);
}
