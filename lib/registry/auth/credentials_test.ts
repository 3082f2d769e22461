import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import {
  AuthFileError,
  authFileSearchPath,
  defaultAuthFile,
  findCredentials,
  lookupCredentials,
  removeAllCredentials,
  removeCredentials,
  saveCredentials,
} from "./credentials.ts";
import { CredentialHelperError } from "./credential_helper.ts";

const b64 = (s: string) => btoa(s);

/** A temporary HOME with XDG_RUNTIME_DIR and a bin/ holding `docker-credential-test`. */
async function sandbox(): Promise<{
  home: string;
  env: (n: string) => string | undefined;
  vars: Record<string, string>;
  write: (path: string, doc: unknown) => Promise<void>;
  cleanup: () => Promise<void>;
}> {
  const home = await Deno.makeTempDir({ prefix: "ocibox-creds-" });
  await Deno.mkdir(`${home}/run`);
  await Deno.mkdir(`${home}/bin`);
  // A credential helper speaking the docker-credential-helpers protocol.
  const helper = `#!/bin/sh
IFS= read -r input || true
case "$1" in
get)
  case "$input" in
    helper.test) echo '{"ServerURL":"helper.test","Username":"hu","Secret":"hs"}' ;;
    token.test) echo '{"ServerURL":"token.test","Username":"<token>","Secret":"idt"}' ;;
    https://index.docker.io/v1/) echo '{"Username":"hub","Secret":"hubpw"}' ;;
    store.test) echo '{"Username":"su","Secret":"ss"}' ;;
    broken.test) echo 'exploded' >&2; exit 3 ;;
    *) echo "credentials not found in native keychain"; exit 1 ;;
  esac ;;
store) printf '%s' "$input" > "$HOME/stored.json" ;;
erase) printf '%s' "$input" > "$HOME/erased.txt" ;;
esac
`;
  await Deno.writeTextFile(`${home}/bin/docker-credential-test`, helper, { mode: 0o755 });
  const vars: Record<string, string> = {
    HOME: home,
    XDG_RUNTIME_DIR: `${home}/run`,
    PATH: `${home}/bin:/usr/bin:/bin`,
  };
  return {
    home,
    vars,
    env: (n) => vars[n],
    write: async (path, doc) => {
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(path, JSON.stringify(doc));
    },
    cleanup: () => Deno.remove(home, { recursive: true }),
  };
}

Deno.test("authFileSearchPath and defaultAuthFile: skopeo's order", () => {
  const vars: Record<string, string> = { HOME: "/h", XDG_RUNTIME_DIR: "/run/user/7" };
  const env = (n: string) => vars[n];
  deepStrictEqual(authFileSearchPath({ env }).map((p) => p.path), [
    "/run/user/7/containers/auth.json",
    "/h/.config/containers/auth.json",
    "/h/.docker/config.json",
    "/h/.dockercfg",
  ]);
  vars.REGISTRY_AUTH_FILE = "/env/auth.json";
  vars.DOCKER_CONFIG = "/dc";
  vars.XDG_CONFIG_HOME = "/cfg";
  deepStrictEqual(authFileSearchPath({ env }).map((p) => p.path), [
    "/env/auth.json",
    "/cfg/containers/auth.json",
    "/dc/config.json",
    "/h/.dockercfg",
  ]);
  strictEqual(authFileSearchPath({ env, authFile: "/flag.json" })[0].path, "/flag.json");
  strictEqual(defaultAuthFile({ env, authFile: "/flag.json" }), "/flag.json");
  strictEqual(defaultAuthFile({ env }), "/env/auth.json");
  delete vars.REGISTRY_AUTH_FILE;
  strictEqual(defaultAuthFile({ env }), "/run/user/7/containers/auth.json");
  delete vars.XDG_RUNTIME_DIR;
  strictEqual(defaultAuthFile({ env }), "/h/.config/containers/auth.json");
});

Deno.test("lookupCredentials: auth.json before docker config; --authfile replaces the first", async () => {
  const s = await sandbox();
  try {
    await s.write(`${s.home}/run/containers/auth.json`, {
      auths: { "reg.test": { auth: b64("runtime:pw1") } },
    });
    await s.write(`${s.home}/.docker/config.json`, {
      auths: { "reg.test": { auth: b64("docker:pw2") }, "other.test": { auth: b64("o:pw3") } },
    });
    await s.write(`${s.home}/flag.json`, { auths: { "reg.test": { auth: b64("flag:pw4") } } });
    deepStrictEqual(await lookupCredentials("reg.test", { env: s.env }), {
      username: "runtime",
      password: "pw1",
    });
    deepStrictEqual(await findCredentials("other.test", { env: s.env }), {
      credentials: { username: "o", password: "pw3" },
      source: `${s.home}/.docker/config.json`,
    });
    deepStrictEqual(
      await lookupCredentials("reg.test", { env: s.env, authFile: `${s.home}/flag.json` }),
      { username: "flag", password: "pw4" },
    );
    s.vars.REGISTRY_AUTH_FILE = `${s.home}/flag.json`;
    deepStrictEqual(await lookupCredentials("reg.test", { env: s.env }), {
      username: "flag",
      password: "pw4",
    });
    strictEqual(await lookupCredentials("none.test", { env: s.env }), undefined);
  } finally {
    await s.cleanup();
  }
});

Deno.test("lookupCredentials: namespace keys, legacy URL keys, Docker Hub's names", async () => {
  const s = await sandbox();
  try {
    await s.write(`${s.home}/run/containers/auth.json`, {
      auths: {
        "reg.test": { auth: b64("host:pw") },
        "reg.test/team": { auth: b64("team:pw") },
        "reg.test/team/app": { auth: b64("app:pw:with:colons") },
        "https://legacy.test/v1/": { auth: b64("legacy:pw") },
        "https://index.docker.io/v1/": { auth: b64("hub:pw") },
        "ident.test": { auth: "", identitytoken: "refresh-me" },
        "nocolon.test": { auth: b64("justuser") },
      },
    });
    const find = (host: string, repository?: string) =>
      lookupCredentials(host, { env: s.env, repository });
    deepStrictEqual(await find("reg.test", "team/app"), {
      username: "app",
      password: "pw:with:colons",
    });
    deepStrictEqual(await find("reg.test", "team/other"), { username: "team", password: "pw" });
    deepStrictEqual(await find("reg.test", "elsewhere/x"), { username: "host", password: "pw" });
    deepStrictEqual(await find("reg.test"), { username: "host", password: "pw" });
    deepStrictEqual(await find("legacy.test"), { username: "legacy", password: "pw" });
    for (const hub of ["docker.io", "index.docker.io", "registry-1.docker.io"]) {
      deepStrictEqual(await find(hub, "library/busybox"), { username: "hub", password: "pw" });
    }
    deepStrictEqual(await find("ident.test"), { identityToken: "refresh-me" });
    strictEqual(await find("nocolon.test"), undefined);
  } finally {
    await s.cleanup();
  }
});

Deno.test("lookupCredentials: credHelpers and credsStore run docker-credential-NAME", async () => {
  const s = await sandbox();
  try {
    await s.write(`${s.home}/.docker/config.json`, {
      auths: { "store.test": {} },
      credHelpers: {
        "helper.test": "test",
        "token.test": "test",
        "docker.io": "test",
        "missing.test": "test",
        "broken.test": "test",
        "absent.test": "nosuchhelper",
      },
      credsStore: "test",
    });
    const find = (host: string) => findCredentials(host, { env: s.env });
    deepStrictEqual(await find("helper.test"), {
      credentials: { username: "hu", password: "hs" },
      source: "docker-credential-test",
    });
    deepStrictEqual((await find("token.test"))?.credentials, { identityToken: "idt" });
    // Docker Hub's credentials live under its legacy URL in helpers.
    deepStrictEqual((await find("docker.io"))?.credentials, { username: "hub", password: "hubpw" });
    strictEqual(await find("missing.test"), undefined);
    deepStrictEqual((await find("store.test"))?.credentials, { username: "su", password: "ss" });
    await rejects(
      find("broken.test"),
      (e) => e instanceof CredentialHelperError && /exploded/.test(e.message),
    );
    await rejects(
      find("absent.test"),
      (e) => e instanceof CredentialHelperError && /not found on PATH/.test(e.message),
    );
  } finally {
    await s.cleanup();
  }
});

Deno.test("lookupCredentials: a broken file is an error naming it", async () => {
  const s = await sandbox();
  try {
    await Deno.mkdir(`${s.home}/run/containers`, { recursive: true });
    await Deno.writeTextFile(`${s.home}/run/containers/auth.json`, "{not json");
    await rejects(
      lookupCredentials("reg.test", { env: s.env }),
      (e) => e instanceof AuthFileError && e.message.includes(`${s.home}/run/containers/auth.json`),
    );
    await s.write(`${s.home}/run/containers/auth.json`, {
      auths: { "reg.test": { auth: "%%%" } },
    });
    await rejects(lookupCredentials("reg.test", { env: s.env }), /not base64/);
  } finally {
    await s.cleanup();
  }
});

Deno.test("saveCredentials/removeCredentials: keep other entries and fields, 0600, atomic", async () => {
  const s = await sandbox();
  try {
    const file = `${s.home}/new/dir/auth.json`;
    strictEqual(await saveCredentials(file, "reg.test", "me", "p@ss:wörd"), file);
    strictEqual((await Deno.stat(file)).mode! & 0o777, 0o600);
    strictEqual((await Deno.stat(`${s.home}/new/dir`)).mode! & 0o777, 0o700);
    deepStrictEqual(await lookupCredentials("reg.test", { authFile: file, env: s.env }), {
      username: "me",
      password: "p@ss:wörd",
    });
    // Unknown fields of the file and of entries survive a rewrite.
    const doc = JSON.parse(await Deno.readTextFile(file));
    doc.psFormat = "table";
    doc.auths["other.test"] = { auth: b64("o:p"), email: "o@x" };
    doc.auths["reg.test"].identitytoken = "stale";
    doc.auths["reg.test"].extra = 1;
    doc.auths["https://reg.test/v1/"] = { auth: b64("old:old") };
    await Deno.writeTextFile(file, JSON.stringify(doc));
    await saveCredentials(file, "reg.test", "me2", "pw2");
    const after = JSON.parse(await Deno.readTextFile(file));
    strictEqual(after.psFormat, "table");
    deepStrictEqual(after.auths["other.test"], { auth: b64("o:p"), email: "o@x" });
    deepStrictEqual(after.auths["reg.test"], { extra: 1, auth: b64("me2:pw2") });
    ok(await removeCredentials(file, "reg.test"));
    const removed = JSON.parse(await Deno.readTextFile(file));
    deepStrictEqual(Object.keys(removed.auths), ["other.test"]);
    strictEqual(removed.psFormat, "table");
    ok(!await removeCredentials(file, "reg.test"));
    ok(!await removeCredentials(`${s.home}/absent.json`, "reg.test"));
    strictEqual(await removeAllCredentials(file), 1);
    deepStrictEqual(JSON.parse(await Deno.readTextFile(file)), { auths: {}, psFormat: "table" });
    // No temporary files left behind.
    deepStrictEqual([...Deno.readDirSync(`${s.home}/new/dir`)].map((e) => e.name), ["auth.json"]);
  } finally {
    await s.cleanup();
  }
});

Deno.test("saveCredentials/removeCredentials: a credHelpers entry sends them to the helper", async () => {
  const s = await sandbox();
  try {
    const file = `${s.home}/auth.json`;
    await s.write(file, { credHelpers: { "helper.test": "test" } });
    strictEqual(
      await saveCredentials(file, "helper.test", "u", "p", { env: s.env }),
      "docker-credential-test",
    );
    deepStrictEqual(JSON.parse(await Deno.readTextFile(`${s.home}/stored.json`)), {
      ServerURL: "helper.test",
      Username: "u",
      Secret: "p",
    });
    deepStrictEqual(JSON.parse(await Deno.readTextFile(file)), {
      credHelpers: { "helper.test": "test" },
    });
    ok(await removeCredentials(file, "helper.test", { env: s.env }));
    strictEqual(await Deno.readTextFile(`${s.home}/erased.txt`), "helper.test");
  } finally {
    await s.cleanup();
  }
});
