/**
 * `ocibox login`: checks credentials against a registry, then stores them in the auth file
 * skopeo and podman also read.
 * @module
 */
import { NotFoundError, RegistryError, UsageError } from "../errors.ts";
import { defaultAuthFile, findCredentials, saveCredentials } from "../registry/auth/credentials.ts";
import { RegistrySession } from "../registry/session.ts";
import { expectPositionals, parseFlags } from "./args.ts";
import { withInterrupt } from "./common.ts";
import { parseLoginTarget } from "./login_target.ts";
import { promptLine, promptSecret, stdinIsTerminal } from "./prompt.ts";
import { parseBool } from "./registry_flags.ts";

/** Help text of `ocibox login`. */
export const help = `Usage: ocibox login [flags] REGISTRY

Logs in to a registry: the credentials are first checked against it (GET /v2/ with
authentication, as podman login does), then stored in the auth file that skopeo, podman and
ocibox read: --authfile, else $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,
else ~/.config/containers/auth.json. REGISTRY is a host (localhost:5000, docker.io), or a host
and namespace (quay.io/team) for credentials that apply only below it. A missing user name or
password is asked for when stdin is a terminal; without either flag, stored credentials that
still work are kept.

Flags:
  -u, --username USER     user name
  -p, --password PASS     password (other users can see it in ps; prefer --password-stdin)
  --password-stdin        read the password from stdin
  --authfile FILE         auth file to write
  --tls-verify=false      do not verify the registry's certificate (also allows plain http)
  --cert-dir DIR          CA certificates (*.crt) and client certificate for the registry
  --get-login             print the user name stored for REGISTRY and exit

Examples:
  ocibox login -u alice localhost:5000
  echo "$TOKEN" | ocibox login -u robot --password-stdin registry.example.com
  ocibox login --tls-verify=false -u admin -p secret 10.0.0.5:5000`;

// Go's flag package lets a boolean stand alone (`--tls-verify`); node's string options do not.
function bareBooleans(args: string[], names: string[]): string[] {
  return args.map((a) => names.includes(a) ? `${a}=true` : a);
}

async function readStdinPassword(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.replace(/\r?\n$/, "");
}

/** Runs `ocibox login`; resolves to the exit code. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(bareBooleans(args, ["--tls-verify"]), {
    username: { type: "string", short: "u" },
    password: { type: "string", short: "p" },
    "password-stdin": { type: "boolean" },
    authfile: { type: "string" },
    "tls-verify": { type: "string" },
    "cert-dir": { type: "string" },
    "get-login": { type: "boolean" },
  });
  expectPositionals(positionals, 1, "ocibox login [flags] REGISTRY");
  const target = parseLoginTarget(positionals[0]);
  const verify = parseBool(values["tls-verify"], "tls-verify");
  const certDir = values["cert-dir"];
  if (values.password !== undefined && values["password-stdin"]) {
    throw new UsageError("--password and --password-stdin exclude each other");
  }
  if (values["password-stdin"] && values.username === undefined) {
    throw new UsageError("--password-stdin needs --username");
  }
  const authFile = defaultAuthFile({ authFile: values.authfile });

  if (values["get-login"]) {
    const found = await findCredentials(target.key, { authFile: values.authfile });
    const user = found?.credentials.username;
    if (!user) throw new NotFoundError(`not logged into ${target.key}`);
    console.log(user);
    return 0;
  }

  const session = (credentials: { username: string; password: string }) =>
    new RegistrySession({
      host: target.host,
      tls: { verify, certDir },
      credentials,
      repository: target.key.includes("/")
        ? target.key.slice(target.key.indexOf("/") + 1)
        : undefined,
    });
  const check = (credentials: { username: string; password: string }) =>
    withInterrupt(async (signal) => {
      const s = session(credentials);
      try {
        await s.verifyCredentials(signal);
      } finally {
        s.close();
      }
    });

  let username = values.username;
  let password = values.password;
  if (values["password-stdin"]) password = await readStdinPassword();
  let known: string | undefined;
  if (username === undefined && password === undefined) {
    const found = await findCredentials(target.key, { authFile: values.authfile });
    const creds = found?.credentials;
    if (creds && "password" in creds) {
      known = creds.username;
      console.error(`Authenticating with existing credentials for ${target.key}`);
      try {
        await check(creds);
        console.log(`Existing credentials are valid. Already logged in to ${target.key}`);
        return 0;
      } catch (e) {
        if (!(e instanceof RegistryError && e.status === 401)) throw e;
        console.error("Existing credentials are invalid, please enter valid username and password");
      }
    }
  }
  const terminal = stdinIsTerminal();
  if (username === undefined) {
    if (!terminal) throw new UsageError("no user name: give --username (stdin is not a terminal)");
    username = await promptLine(known ? `Username (${known}): ` : "Username: ");
    if (username === "" && known) username = known;
  }
  if (password === undefined) {
    if (!terminal) {
      throw new UsageError(
        "no password: give --password or --password-stdin (stdin is not a terminal)",
      );
    }
    password = await promptSecret("Password: ");
  }
  if (username === "") throw new UsageError("the user name is empty");
  if (password === "") throw new UsageError("the password is empty");
  const credentials = { username, password };
  await check(credentials);
  await saveCredentials(authFile, target.key, username, password);
  console.log("Login Succeeded!");
  return 0;
}
